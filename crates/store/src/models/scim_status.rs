//! What admins see of SCIM provisioning: per connection, its status, how many users and groups
//! it provisions, when it last synced and how many of its recent requests failed; and revoking a
//! connection (its tokens stop at once, its history stays).

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, Connection, ConnectionId, ConnectionStatus, GroupKind, Lifecycle, NewAuditEvent,
    Timestamp, WorkspaceId,
};

use super::connection::ConnectionRow;
use super::record_audit;
use crate::schema::{connections, groups, provisioning_log, scim_tokens, users};
use crate::{Store, StoreError, StoreResult};

/// Provisioning health of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimConnectionStatus {
    pub connection: Connection,
    pub provisioned_users: i64,
    pub provisioned_groups: i64,
    /// Failed (4xx/5xx) SCIM requests in the last 24 hours.
    pub recent_failures: i64,
}

impl Store {
    /// Every connection of the workspace that has SCIM on or was revoked, with its status.
    pub fn scim_status(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<ScimConnectionStatus>> {
        let since = Timestamp::now().plus_seconds(-86_400).as_micros();
        self.read(|conn| {
            let rows: Vec<ConnectionRow> = connections::table
                .filter(connections::workspace_id.eq(workspace_id.to_string()))
                .filter(
                    connections::scim_enabled
                        .eq(true)
                        .or(connections::status.eq(ConnectionStatus::Revoked.as_str())),
                )
                .order(connections::created_at.asc())
                .select(ConnectionRow::as_select())
                .load(conn)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let connection = row.into_domain(self.data_keys())?;
                let id = connection.id.to_string();
                let provisioned_users: i64 = users::table
                    .filter(users::managing_connection_id.eq(&id))
                    .filter(users::lifecycle.ne(Lifecycle::Deprovisioned.as_str()))
                    .count()
                    .get_result(conn)?;
                let provisioned_groups: i64 = groups::table
                    .filter(groups::connection_id.eq(&id))
                    .filter(groups::kind.eq(GroupKind::Idp.as_str()))
                    .count()
                    .get_result(conn)?;
                let recent_failures: i64 = provisioning_log::table
                    .filter(provisioning_log::connection_id.eq(&id))
                    .filter(provisioning_log::occurred_at.ge(since))
                    .filter(provisioning_log::status.ge(400))
                    .count()
                    .get_result(conn)?;
                out.push(ScimConnectionStatus {
                    connection,
                    provisioned_users,
                    provisioned_groups,
                    recent_failures,
                });
            }
            Ok(out)
        })
    }

    /// Revokes a connection: status `revoked`, SCIM off, every token deleted. Its users, groups
    /// and logs stay.
    pub fn revoke_connection(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: ConnectionId,
    ) -> StoreResult<()> {
        self.write_token_change(|conn| {
            let updated = diesel::update(
                connections::table
                    .filter(connections::workspace_id.eq(workspace_id.to_string()))
                    .filter(connections::id.eq(id.to_string())),
            )
            .set((
                connections::status.eq(ConnectionStatus::Revoked.as_str()),
                connections::updated_at.eq(Timestamp::now().as_micros()),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound { what: "connection" });
            }
            let revoked: Vec<(String, String, String)> = scim_tokens::table
                .filter(scim_tokens::connection_id.eq(id.to_string()))
                .select((scim_tokens::id, scim_tokens::name, scim_tokens::hint))
                .load(conn)?;
            let tokens = diesel::delete(
                scim_tokens::table.filter(scim_tokens::connection_id.eq(id.to_string())),
            )
            .execute(conn)?;
            let connection =
                super::connection::find_connection(conn, self.data_keys(), workspace_id, id)?;
            super::events::record_event(
                conn,
                super::events::NewEvent {
                    workspace_id,
                    event_type: "connection.updated",
                    actor,
                    resource_kind: "connection",
                    resource_id: id.to_string(),
                    resource: super::events::connection_json(&connection),
                    changed: Some(vec!["status".to_owned()]),
                },
            )?;
            for (token_id, name, hint) in &revoked {
                super::token::token_event(
                    conn,
                    actor,
                    workspace_id,
                    "scim_token.revoked",
                    token_id,
                    &id.to_string(),
                    name,
                    hint,
                )?;
            }
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("connection.revoked"),
                    target_kind: "connection",
                    target_id: id.to_string(),
                    detail: serde_json::json!({ "tokens_revoked": tokens }).to_string(),
                },
            )
        })
    }
}
