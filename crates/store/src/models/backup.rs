//! Workspace export and import: the whole workspace as one JSON document (settings, connections,
//! users with their SCIM ids, identities, groups, memberships, roles, assignments, mappings, SCIM
//! token and API key hashes), for backups and moving a workspace to another database.
//!
//! Never plaintext secrets: tokens and keys travel as their hashes (they keep working), local
//! passwords as Argon2 hashes. SCIM passwords are never stored; should a row still hold one, the
//! export leaves it out (see [`NEVER_STORED_USER_ATTRIBUTES`]). Webhook endpoints are left out because their signing secret cannot
//! travel hashed; register them again after an import. Events and audit history stay behind.
//!
//! Import is all or nothing (one transaction) and refuses to overwrite: the target workspace must
//! not exist or be empty (just created), and any id already present is a conflict.

use diesel::prelude::*;
use roster_domain::{Action, Actor, NewAuditEvent, Workspace, WorkspaceId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::connection::ConnectionRow;
use super::group::GroupRow;
use super::mapping::MappingRow;
use super::role::RoleRow;
use super::scim_users::{remove_user_attributes, NEVER_STORED_USER_ATTRIBUTES};
use super::token::TokenRow;
use super::user::UserRow;
use super::workspace::WorkspaceRow;
use super::{corrupt, record_audit};
use crate::schema::{
    api_keys, attribute_definitions, attribute_mappings, connections, group_mappings,
    group_members, group_roles, groups, identities, roles, scim_tokens, user_roles, users,
    workspaces,
};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// The format marker of an export document.
pub const EXPORT_FORMAT: &str = "roster-workspace-export/1";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = api_keys)]
struct ApiKeyRow {
    id: String,
    workspace_id: String,
    name: String,
    key_hash: String,
    hint: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = identities)]
struct IdentityRow {
    id: String,
    workspace_id: String,
    connection_id: String,
    subject: String,
    user_id: String,
    created_at: i64,
    last_login_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = group_members)]
struct MemberRow {
    group_id: String,
    user_id: String,
    provenance: String,
    workspace_id: String,
    created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = user_roles)]
struct UserRoleRow {
    user_id: String,
    role_id: String,
    created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = group_roles)]
struct GroupRoleRow {
    group_id: String,
    role_id: String,
    created_at: i64,
}

/// The export document.
#[derive(Serialize, Deserialize)]
struct Export {
    format: String,
    workspace: WorkspaceRow,
    connections: Vec<ConnectionRow>,
    scim_tokens: Vec<TokenRow>,
    api_keys: Vec<ApiKeyRow>,
    roles: Vec<RoleRow>,
    users: Vec<UserRow>,
    identities: Vec<IdentityRow>,
    groups: Vec<GroupRow>,
    group_members: Vec<MemberRow>,
    user_roles: Vec<UserRoleRow>,
    group_roles: Vec<GroupRoleRow>,
    group_mappings: Vec<MappingRow>,
    /// Custom attribute declarations (an export from before them has none).
    #[serde(default)]
    attribute_definitions: Vec<super::attributes::AttributeRow>,
    /// Per-connection attribute sources (an export from before them has none).
    #[serde(default)]
    attribute_mappings: Vec<super::attributes::MappingRow>,
}

fn insert_all<T, R>(conn: &mut DbConnection, rows: Vec<R>, table: T) -> StoreResult<()>
where
    T: diesel::Table + Copy,
    R: Insertable<T>,
    diesel::query_builder::InsertStatement<T, R::Values>:
        diesel::query_dsl::methods::ExecuteDsl<DbConnection>,
{
    for row in rows {
        diesel::insert_into(table)
            .values(row)
            .execute(conn)
            .map_err(|err| {
                crate::error::conflict_on(
                    err,
                    "import",
                    &[(
                        "",
                        "the import collides with existing data; nothing was written",
                    )],
                )
            })?;
    }
    Ok(())
}

impl Store {
    /// The whole workspace as one JSON document (see the module docs).
    pub fn export_workspace(&self, workspace_id: WorkspaceId) -> StoreResult<Value> {
        let ws = workspace_id.to_string();
        let export = self.read(|conn| {
            Ok(Export {
                format: EXPORT_FORMAT.to_owned(),
                workspace: workspaces::table
                    .find(&ws)
                    .select(WorkspaceRow::as_select())
                    .get_result(conn)
                    .optional()?
                    .ok_or(StoreError::NotFound { what: "workspace" })?,
                connections: connections::table
                    .filter(connections::workspace_id.eq(&ws))
                    .order(connections::id)
                    .select(ConnectionRow::as_select())
                    .load(conn)?
                    .into_iter()
                    .map(without_client_secret)
                    .collect(),
                scim_tokens: scim_tokens::table
                    .filter(scim_tokens::workspace_id.eq(&ws))
                    .order(scim_tokens::id)
                    .select(TokenRow::as_select())
                    .load(conn)?,
                api_keys: api_keys::table
                    .filter(api_keys::workspace_id.eq(&ws))
                    .order(api_keys::id)
                    .select(ApiKeyRow::as_select())
                    .load(conn)?,
                roles: roles::table
                    .filter(roles::workspace_id.eq(&ws))
                    .order(roles::id)
                    .select(RoleRow::as_select())
                    .load(conn)?,
                attribute_definitions: attribute_definitions::table
                    .filter(attribute_definitions::workspace_id.eq(&ws))
                    .order((attribute_definitions::created_at, attribute_definitions::id))
                    .select(super::attributes::AttributeRow::as_select())
                    .load(conn)?,
                attribute_mappings: attribute_mappings::table
                    .inner_join(connections::table)
                    .filter(connections::workspace_id.eq(&ws))
                    .order(attribute_mappings::id)
                    .select(super::attributes::MappingRow::as_select())
                    .load(conn)?,
                users: users::table
                    .filter(users::workspace_id.eq(&ws))
                    .order(users::id)
                    .select(UserRow::as_select())
                    .load(conn)?
                    .into_iter()
                    .map(without_never_stored_attributes)
                    .collect(),
                identities: identities::table
                    .filter(identities::workspace_id.eq(&ws))
                    .order(identities::id)
                    .select(IdentityRow::as_select())
                    .load(conn)?,
                groups: groups::table
                    .filter(groups::workspace_id.eq(&ws))
                    .order(groups::id)
                    .select(GroupRow::as_select())
                    .load(conn)?,
                group_members: group_members::table
                    .filter(group_members::workspace_id.eq(&ws))
                    .order((
                        group_members::group_id,
                        group_members::user_id,
                        group_members::provenance,
                    ))
                    .select(MemberRow::as_select())
                    .load(conn)?,
                user_roles: user_roles::table
                    .inner_join(users::table)
                    .filter(users::workspace_id.eq(&ws))
                    .order((user_roles::user_id, user_roles::role_id))
                    .select(UserRoleRow::as_select())
                    .load(conn)?,
                group_roles: group_roles::table
                    .inner_join(roles::table)
                    .filter(roles::workspace_id.eq(&ws))
                    .order((group_roles::group_id, group_roles::role_id))
                    .select(GroupRoleRow::as_select())
                    .load(conn)?,
                group_mappings: group_mappings::table
                    .filter(group_mappings::workspace_id.eq(&ws))
                    .order(group_mappings::id)
                    .select(MappingRow::as_select())
                    .load(conn)?,
            })
        })?;
        serde_json::to_value(export).map_err(|err| StoreError::Corrupt(format!("export: {err}")))
    }

    /// Imports an export document (see the module docs). Returns the workspace.
    pub fn import_workspace(&self, actor: &Actor, document: &Value) -> StoreResult<Workspace> {
        let mut export: Export = serde_json::from_value(document.clone()).map_err(|err| {
            StoreError::Invalid(roster_domain::DomainError::InvalidValue {
                field: "export",
                reason: err.to_string(),
            })
        })?;
        if export.format != EXPORT_FORMAT {
            return Err(StoreError::Invalid(
                roster_domain::DomainError::InvalidValue {
                    field: "export",
                    reason: format!(
                        "unknown format {:?}; this build reads {EXPORT_FORMAT}",
                        export.format
                    ),
                },
            ));
        }
        let workspace_id = self.write(|conn| {
            // The target: the exported workspace itself, or an empty one of the same slug.
            let existing: Option<WorkspaceRow> = workspaces::table
                .filter(workspaces::slug.eq(&export.workspace.slug))
                .select(WorkspaceRow::as_select())
                .get_result(conn)
                .optional()?;
            let target = match existing {
                Some(row) => {
                    let users: i64 = users::table
                        .filter(users::workspace_id.eq(&row.id))
                        .count()
                        .get_result(conn)?;
                    let conns: i64 = connections::table
                        .filter(connections::workspace_id.eq(&row.id))
                        .count()
                        .get_result(conn)?;
                    let grps: i64 = groups::table
                        .filter(groups::workspace_id.eq(&row.id))
                        .count()
                        .get_result(conn)?;
                    if users + conns + grps > 0 {
                        return Err(StoreError::Conflict {
                            what: "workspace",
                            detail: format!(
                                "workspace {:?} is not empty; import refuses to overwrite",
                                row.slug
                            ),
                        });
                    }
                    row.id
                }
                None => {
                    diesel::insert_into(workspaces::table)
                        .values(&export.workspace)
                        .execute(conn)?;
                    export.workspace.id.clone()
                }
            };
            // Roles the target already has (member, admin) are matched by name.
            let present: Vec<RoleRow> = roles::table
                .filter(roles::workspace_id.eq(&target))
                .select(RoleRow::as_select())
                .load(conn)?;
            let mut role_ids = std::collections::HashMap::new();
            let mut new_roles = Vec::new();
            for mut role in std::mem::take(&mut export.roles) {
                match present.iter().find(|p| p.name_key == role.name_key) {
                    Some(found) => {
                        role_ids.insert(role.id.clone(), found.id.clone());
                    }
                    None => {
                        role.workspace_id = target.clone();
                        role_ids.insert(role.id.clone(), role.id.clone());
                        new_roles.push(role);
                    }
                }
            }
            let role_id = |id: &str| role_ids.get(id).cloned().unwrap_or_else(|| id.to_owned());
            let ws = |rows: &mut dyn Iterator<Item = &mut String>| {
                rows.for_each(|w| *w = target.clone())
            };
            ws(&mut export.connections.iter_mut().map(|r| &mut r.workspace_id));
            ws(&mut export.scim_tokens.iter_mut().map(|r| &mut r.workspace_id));
            ws(&mut export.api_keys.iter_mut().map(|r| &mut r.workspace_id));
            ws(&mut export.users.iter_mut().map(|r| &mut r.workspace_id));
            ws(&mut export
                .attribute_definitions
                .iter_mut()
                .map(|r| &mut r.workspace_id));
            ws(&mut export.identities.iter_mut().map(|r| &mut r.workspace_id));
            ws(&mut export.groups.iter_mut().map(|r| &mut r.workspace_id));
            ws(&mut export.group_members.iter_mut().map(|r| &mut r.workspace_id));
            ws(&mut export
                .group_mappings
                .iter_mut()
                .map(|r| &mut r.workspace_id));
            for row in &mut export.user_roles {
                row.role_id = role_id(&row.role_id);
            }
            for row in &mut export.group_roles {
                row.role_id = role_id(&row.role_id);
            }
            for row in &mut export.group_mappings {
                row.role_id = row.role_id.as_deref().map(role_id);
            }
            insert_all(conn, new_roles, roles::table)?;
            insert_all(
                conn,
                export.attribute_definitions,
                attribute_definitions::table,
            )?;
            insert_all(conn, export.connections, connections::table)?;
            insert_all(conn, export.scim_tokens, scim_tokens::table)?;
            insert_all(conn, export.api_keys, api_keys::table)?;
            let user_ids: Vec<String> = export.users.iter().map(|u| u.id.clone()).collect();
            insert_all(conn, export.users, users::table)?;
            insert_all(conn, export.identities, identities::table)?;
            insert_all(conn, export.groups, groups::table)?;
            insert_all(conn, export.group_members, group_members::table)?;
            insert_all(conn, export.user_roles, user_roles::table)?;
            insert_all(conn, export.group_roles, group_roles::table)?;
            insert_all(conn, export.group_mappings, group_mappings::table)?;
            insert_all(conn, export.attribute_mappings, attribute_mappings::table)?;
            let workspace_id: WorkspaceId = target.parse().map_err(corrupt("workspaces"))?;
            // The index is derived: rebuilt from the values, never carried.
            let definitions = super::attributes::load_definitions(conn, workspace_id)?;
            super::attribute_values::rebuild_index(conn, workspace_id, &definitions)?;
            let cause = serde_json::json!({ "import": true });
            super::mapping::recompute_roles(conn, actor, workspace_id, &user_ids, &cause)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("workspace.imported"),
                    target_kind: "workspace",
                    target_id: target.clone(),
                    detail: serde_json::json!({ "users": user_ids.len() }).to_string(),
                },
            )?;
            Ok(workspace_id)
        })?;
        self.workspace(workspace_id)
    }
}

/// An OIDC client secret cannot be stored hashed (Roster presents it to the IdP), so it is left
/// out of exports: after an import, set it again on the connection.
fn without_client_secret(mut row: ConnectionRow) -> ConnectionRow {
    if let Ok(serde_json::Value::Object(mut config)) =
        serde_json::from_str::<serde_json::Value>(&row.protocol_config)
    {
        if config.contains_key("client_secret") {
            config.insert(
                "client_secret".to_owned(),
                serde_json::Value::String(String::new()),
            );
            row.protocol_config = serde_json::Value::Object(config).to_string();
        }
    }
    row
}

/// A user row without the SCIM attributes that are never stored (a SCIM password), in case the
/// row still holds one: the export must not carry it in clear.
fn without_never_stored_attributes(mut row: UserRow) -> UserRow {
    if let Ok(Value::Object(mut attributes)) = serde_json::from_str::<Value>(&row.scim_attributes) {
        if remove_user_attributes(&mut attributes, NEVER_STORED_USER_ATTRIBUTES) {
            row.scim_attributes = Value::Object(attributes).to_string();
        }
    }
    row
}
