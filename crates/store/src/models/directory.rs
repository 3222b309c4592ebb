//! The directory as workspace admins browse and manage it: users and groups with search and
//! pagination, manual group membership, the SCIM switch of a connection, and whether a group is
//! fed by a mapping (the policy needs it).

use diesel::prelude::*;
use roster_domain::attributes::{index_keys, AttrValue, AttributeDefinition};
use roster_domain::{
    Action, Actor, AttributeId, Connection, ConnectionId, Group, GroupId, NewAuditEvent,
    Provenance, Timestamp, User, UserId, WorkspaceId,
};

use super::group::{find_group, remove_members, GroupRow};
use super::user::UserRow;
use super::{events, record_audit};
use crate::schema::{connections, group_mappings, groups, user_attribute_values, users};
use crate::{Store, StoreError, StoreResult};

/// One page of an admin listing, in id order after `after`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminPage<T> {
    pub items: Vec<T>,
    /// The id to pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// The users holding one value of one attribute, read from the index `user_attribute_values`
/// (text without case unless the attribute is case-exact, numbers by their order key, booleans
/// `0`/`1`, a list when any element is the value).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeFilter {
    attribute_id: AttributeId,
    keys: Vec<String>,
}

impl AttributeFilter {
    /// Users whose `definition` holds `value` (typed against it).
    pub fn new(definition: &AttributeDefinition, value: &AttrValue) -> Self {
        AttributeFilter {
            attribute_id: definition.id,
            keys: index_keys(value, definition.case_exact),
        }
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Store {
    /// Users of a workspace whose userName, email or display name contains `query` (any case).
    pub fn admin_users(
        &self,
        workspace_id: WorkspaceId,
        query: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<AdminPage<User>> {
        self.admin_users_managed_by(workspace_id, None, None, query, after, limit)
    }

    /// [`Store::admin_users`], only the users `managed_by` (a connection) manages when given, and
    /// only those `attribute` keeps when given.
    pub fn admin_users_managed_by(
        &self,
        workspace_id: WorkspaceId,
        managed_by: Option<ConnectionId>,
        attribute: Option<&AttributeFilter>,
        query: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<AdminPage<User>> {
        self.read(|conn| {
            let mut rows = users::table
                .filter(users::workspace_id.eq(workspace_id.to_string()))
                .into_boxed();
            if let Some(connection) = managed_by {
                rows = rows.filter(users::managing_connection_id.eq(connection.to_string()));
            }
            if let Some(filter) = attribute {
                rows = rows.filter(
                    users::id.eq_any(
                        user_attribute_values::table
                            .filter(
                                user_attribute_values::attribute_id
                                    .eq(filter.attribute_id.to_string()),
                            )
                            .filter(user_attribute_values::sort_key.eq_any(filter.keys.clone()))
                            .select(user_attribute_values::user_id),
                    ),
                );
            }
            if let Some(query) = query.map(str::trim).filter(|q| !q.is_empty()) {
                let pattern = format!("%{}%", escape_like(&query.to_lowercase()));
                rows = rows.filter(
                    users::user_name_key
                        .like(pattern.clone())
                        .escape('\\')
                        .or(users::email_key
                            .like(pattern.clone())
                            .escape('\\')
                            .assume_not_null())
                        .or(users::display_name_key
                            .like(pattern)
                            .escape('\\')
                            .assume_not_null()),
                );
            }
            if let Some(after) = after {
                rows = rows.filter(users::id.gt(after.to_owned()));
            }
            let mut items: Vec<User> = rows
                .order(users::id.asc())
                .limit(limit + 1)
                .select(UserRow::as_select())
                .load(conn)?
                .into_iter()
                .map(UserRow::into_domain)
                .collect::<StoreResult<_>>()?;
            let next = (items.len() as i64 > limit).then(|| {
                items.truncate(limit as usize);
                items.last().map(|u| u.id.to_string())
            });
            Ok(AdminPage {
                items,
                next: next.flatten(),
            })
        })
    }

    /// Groups of a workspace (app and IdP) whose name contains `query`.
    pub fn admin_groups(
        &self,
        workspace_id: WorkspaceId,
        query: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<AdminPage<Group>> {
        self.read(|conn| {
            let mut rows = groups::table
                .filter(groups::workspace_id.eq(workspace_id.to_string()))
                .into_boxed();
            if let Some(query) = query.map(str::trim).filter(|q| !q.is_empty()) {
                rows = rows.filter(
                    groups::display_name_key
                        .like(format!("%{}%", escape_like(&query.to_lowercase())))
                        .escape('\\'),
                );
            }
            if let Some(after) = after {
                rows = rows.filter(groups::id.gt(after.to_owned()));
            }
            let mut items: Vec<Group> = rows
                .order(groups::id.asc())
                .limit(limit + 1)
                .select(GroupRow::as_select())
                .load(conn)?
                .into_iter()
                .map(GroupRow::into_domain)
                .collect::<StoreResult<_>>()?;
            let next = (items.len() as i64 > limit).then(|| {
                items.truncate(limit as usize);
                items.last().map(|g| g.id.to_string())
            });
            Ok(AdminPage {
                items,
                next: next.flatten(),
            })
        })
    }

    /// Whether a mapping feeds this app group (its members then come from the IdP).
    pub fn is_mapped_group(
        &self,
        workspace_id: WorkspaceId,
        group_id: GroupId,
    ) -> StoreResult<bool> {
        self.read(|conn| {
            let count: i64 = group_mappings::table
                .filter(group_mappings::workspace_id.eq(workspace_id.to_string()))
                .filter(group_mappings::app_group_id.eq(group_id.to_string()))
                .count()
                .get_result(conn)?;
            Ok(count > 0)
        })
    }

    /// Whether any connection of the workspace has SCIM on.
    pub fn workspace_scim_enabled(&self, workspace_id: WorkspaceId) -> StoreResult<bool> {
        Ok(self
            .list_connections(workspace_id)?
            .iter()
            .any(Connection::accepts_scim))
    }

    /// Removes a manual membership (mapped and IdP ones are never touched here).
    pub fn remove_manual_member(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        group_id: GroupId,
        user_id: UserId,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            let group = find_group(conn, workspace_id, group_id)?;
            let removed = remove_members(conn, group_id, &Provenance::Manual.to_stored(), Some(&[user_id.to_string()]))?;
            if removed.is_empty() {
                return Ok(false);
            }
            events::membership_events(conn, actor, "group.member_removed", &group, &removed)?;
            let cause = serde_json::json!({ "manual_member_removed": group_id.to_string() });
            super::mapping::recompute_roles(conn, actor, workspace_id, &removed, &cause)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("group.member_removed"),
                    target_kind: "group",
                    target_id: group_id.to_string(),
                    detail: serde_json::json!({ "user_id": user_id.to_string(), "provenance": "manual" }).to_string(),
                },
            )?;
            Ok(true)
        })
    }

    /// Turns SCIM on or off for a connection (tokens stay; requests are refused while off).
    pub fn set_connection_scim(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: ConnectionId,
        enabled: bool,
    ) -> StoreResult<Connection> {
        self.write_token_change(|conn| {
            let updated = diesel::update(
                connections::table
                    .filter(connections::workspace_id.eq(workspace_id.to_string()))
                    .filter(connections::id.eq(id.to_string())),
            )
            .set((
                connections::scim_enabled.eq(enabled),
                connections::updated_at.eq(Timestamp::now().as_micros()),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound { what: "connection" });
            }
            let connection =
                super::connection::find_connection(conn, self.data_keys(), workspace_id, id)?;
            events::record_event(
                conn,
                events::NewEvent {
                    workspace_id,
                    event_type: "connection.updated",
                    actor,
                    resource_kind: "connection",
                    resource_id: id.to_string(),
                    resource: events::connection_json(&connection),
                    changed: Some(vec!["scimEnabled".to_owned()]),
                },
            )?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action(if enabled {
                        "scim.enabled"
                    } else {
                        "scim.disabled"
                    }),
                    target_kind: "connection",
                    target_id: id.to_string(),
                    detail: "{}".to_owned(),
                },
            )?;
            Ok(connection)
        })
    }
}
