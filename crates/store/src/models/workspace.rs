//! Workspaces: created with the two built-in roles (`member`, the default, and `admin`), and
//! deleted with everything they hold (every table's rows of a workspace go by `ON DELETE
//! CASCADE`, its events explicitly, so that its `workspace.deleted` event outlives it).

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, Domain, NewAuditEvent, RoleName, Slug, Timestamp, Workspace, WorkspaceId,
    ADMIN_ROLE, DEFAULT_ROLE,
};

use super::events::{delete_workspace_events, record_event, NewEvent, WorkspaceResource};
use super::{corrupt, from_json_list, record_audit, to_json_list};
use serde_json::json;

use crate::db::on_backend;
use crate::error::conflict_on;
use crate::schema::workspaces;
use crate::{DbConnection, Store, StoreError, StoreResult};

/// What creating a workspace needs.
#[derive(Debug, Clone)]
pub struct NewWorkspace {
    pub slug: Slug,
    pub name: String,
    pub domains: Vec<Domain>,
}

#[derive(Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = workspaces)]
pub(crate) struct WorkspaceRow {
    pub(crate) id: String,
    pub(crate) slug: String,
    pub(crate) name: String,
    pub(crate) sso_enforced: bool,
    pub(crate) default_role: String,
    pub(crate) domains: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl WorkspaceRow {
    fn into_domain(self) -> StoreResult<Workspace> {
        let bad = corrupt("workspaces");
        Ok(Workspace {
            id: self.id.parse().map_err(&bad)?,
            slug: Slug::parse(&self.slug).map_err(&bad)?,
            name: self.name,
            sso_enforced: self.sso_enforced,
            default_role: RoleName::parse(&self.default_role).map_err(&bad)?,
            domains: from_json_list("workspaces", &self.domains)?
                .iter()
                .map(|domain| Domain::parse(domain))
                .collect::<Result<_, _>>()
                .map_err(&bad)?,
            created_at: Timestamp::from_micros(self.created_at),
            updated_at: Timestamp::from_micros(self.updated_at),
        })
    }
}

impl Store {
    /// Creates a workspace with its `member` and `admin` roles. A taken slug is a conflict. The
    /// operator's `domains` are recorded verified (one another workspace holds verified is
    /// recorded pending).
    pub fn create_workspace(&self, actor: &Actor, new: NewWorkspace) -> StoreResult<Workspace> {
        let now = Timestamp::now().as_micros();
        let row = WorkspaceRow {
            id: WorkspaceId::new().to_string(),
            slug: new.slug.to_string(),
            name: new.name,
            sso_enforced: false,
            default_role: DEFAULT_ROLE.to_owned(),
            domains: to_json_list(&new.domains),
            created_at: now,
            updated_at: now,
        };
        let workspace = self.write(|conn| {
            diesel::insert_into(workspaces::table)
                .values(&row)
                .execute(conn)
                .map_err(|err| {
                    conflict_on(
                        err,
                        "workspace",
                        &[("slug", "a workspace with this slug already exists")],
                    )
                })?;
            let workspace_id: WorkspaceId = row.id.parse().map_err(corrupt("workspaces"))?;
            for (name, rank) in [(DEFAULT_ROLE, 0), (ADMIN_ROLE, 100)] {
                super::role::insert_role(conn, workspace_id, &RoleName::parse(name)?, rank)?;
            }
            let created = find_workspace(conn, workspace_id)?;
            record_event(
                conn,
                NewEvent {
                    workspace_id,
                    event_type: "workspace.created",
                    actor,
                    resource_kind: "workspace",
                    resource_id: row.id.clone(),
                    resource: json!(WorkspaceResource::from(&created)),
                    changed: None,
                },
            )?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("workspace.created"),
                    target_kind: "workspace",
                    target_id: row.id.clone(),
                    detail: serde_json::json!({ "slug": row.slug }).to_string(),
                },
            )?;
            super::workspace_domain::declare_domains(
                conn,
                actor,
                workspace_id,
                &new.domains,
                "declared by the operator when the workspace was created",
            )?;
            Ok(workspace_id)
        })?;
        self.workspace(workspace)
    }

    /// Turns SSO enforcement on or off: when on, password logins of the workspace's users are
    /// refused. Audited.
    pub fn set_sso_enforced(
        &self,
        actor: &Actor,
        id: WorkspaceId,
        enforced: bool,
    ) -> StoreResult<Workspace> {
        self.write(|conn| {
            let updated = diesel::update(workspaces::table.find(id.to_string()))
                .set((
                    workspaces::sso_enforced.eq(enforced),
                    workspaces::updated_at.eq(Timestamp::now().as_micros()),
                ))
                .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound { what: "workspace" });
            }
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(id),
                    actor: actor.clone(),
                    action: Action(if enforced {
                        "sso_enforcement.enabled"
                    } else {
                        "sso_enforcement.disabled"
                    }),
                    target_kind: "workspace",
                    target_id: id.to_string(),
                    detail: "{}".to_owned(),
                },
            )?;
            Ok(())
        })?;
        self.workspace(id)
    }

    /// Deletes a workspace and everything of it, in one transaction: connections and their SCIM
    /// tokens, API keys, users with their identities, passwords and sessions' app grants, groups,
    /// roles, mappings, webhook endpoints and deliveries, and its history (events, audit trail,
    /// login events, provisioning log). What outlives it, at deployment level: the
    /// `workspace.deleted` event (the operator's feed and webhooks; until retention) and the
    /// audit record of the deletion (no workspace). SCIM tokens stop at once (the token cache
    /// is emptied).
    pub fn delete_workspace(&self, actor: &Actor, id: WorkspaceId) -> StoreResult<()> {
        self.write_token_change(|conn| {
            let workspace = find_workspace(conn, id)?;
            diesel::delete(workspaces::table.find(id.to_string())).execute(conn)?;
            delete_workspace_events(conn, id)?;
            record_event(
                conn,
                NewEvent {
                    workspace_id: id,
                    event_type: "workspace.deleted",
                    actor,
                    resource_kind: "workspace",
                    resource_id: id.to_string(),
                    resource: json!(WorkspaceResource::from(&workspace)),
                    changed: None,
                },
            )?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: None,
                    actor: actor.clone(),
                    action: Action("workspace.deleted"),
                    target_kind: "workspace",
                    target_id: id.to_string(),
                    detail: serde_json::json!({ "slug": workspace.slug.as_str() }).to_string(),
                },
            )
        })
    }

    pub fn workspace(&self, id: WorkspaceId) -> StoreResult<Workspace> {
        self.read(|conn| find_workspace(conn, id))
    }

    pub fn workspace_by_slug(&self, slug: &str) -> StoreResult<Workspace> {
        self.read(|conn| {
            workspaces::table
                .filter(workspaces::slug.eq(slug))
                .select(WorkspaceRow::as_select())
                .get_result(conn)
                .optional()?
                .ok_or(StoreError::NotFound { what: "workspace" })?
                .into_domain()
        })
    }

    /// Workspaces in slug order after the slug `after`, at most `limit`: the operator API's
    /// listing (a slug never changes, so the cursor stays valid across writes).
    pub fn workspaces_page(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<super::AdminPage<Workspace>> {
        self.read(|conn| {
            let mut rows = workspaces::table.into_boxed();
            if let Some(after) = after {
                rows = rows.filter(workspaces::slug.gt(after.to_owned()));
            }
            let mut items: Vec<Workspace> = rows
                .order(workspaces::slug.asc())
                .limit(limit + 1)
                .select(WorkspaceRow::as_select())
                .load(conn)?
                .into_iter()
                .map(WorkspaceRow::into_domain)
                .collect::<StoreResult<_>>()?;
            let next = (items.len() as i64 > limit).then(|| {
                items.truncate(limit as usize);
                items.last().map(|w| w.slug.to_string())
            });
            Ok(super::AdminPage {
                items,
                next: next.flatten(),
            })
        })
    }

    /// Renames a workspace (its display name; the slug never changes). Audited as
    /// `workspace.updated` with the old and new names.
    pub fn rename_workspace(
        &self,
        actor: &Actor,
        id: WorkspaceId,
        name: &str,
    ) -> StoreResult<Workspace> {
        self.write(|conn| {
            let before = find_workspace(conn, id)?;
            diesel::update(workspaces::table.find(id.to_string()))
                .set((
                    workspaces::name.eq(name),
                    workspaces::updated_at.eq(Timestamp::now().as_micros()),
                ))
                .execute(conn)?;
            let after = find_workspace(conn, id)?;
            record_event(
                conn,
                NewEvent {
                    workspace_id: id,
                    event_type: "workspace.updated",
                    actor,
                    resource_kind: "workspace",
                    resource_id: id.to_string(),
                    resource: json!(WorkspaceResource::from(&after)),
                    changed: Some(vec!["name".to_owned()]),
                },
            )?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(id),
                    actor: actor.clone(),
                    action: Action("workspace.updated"),
                    target_kind: "workspace",
                    target_id: id.to_string(),
                    detail: serde_json::json!({ "name": { "from": before.name, "to": name } })
                        .to_string(),
                },
            )
        })?;
        self.workspace(id)
    }

    pub fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        self.read(|conn| {
            workspaces::table
                .order(workspaces::slug.asc())
                .select(WorkspaceRow::as_select())
                .load(conn)?
                .into_iter()
                .map(WorkspaceRow::into_domain)
                .collect()
        })
    }
}

/// A workspace by id, inside the caller's transaction.
pub(crate) fn find_workspace(conn: &mut DbConnection, id: WorkspaceId) -> StoreResult<Workspace> {
    let id = id.to_string();
    on_backend!(conn, |c| workspaces::table
        .find(&id)
        .select(WorkspaceRow::as_select())
        .get_result(c)
        .optional())?
    .ok_or(StoreError::NotFound { what: "workspace" })?
    .into_domain()
}
