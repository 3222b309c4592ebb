//! Certificate expiry warnings: the SAML connections to watch, and each warning given once
//! (`roster_domain::certificate_expiry` says which is due). A warning is a
//! `connection.certificate_expiring` event in the connection's workspace — on its feed, its
//! webhooks and the operator's — written in the transaction that records it was given, so
//! replicas and restarts never give it twice and a crash never loses it.

use diesel::prelude::*;
use roster_domain::{Actor, Connection, ConnectionKind, ConnectionStatus, Timestamp};

use super::events::{connection_json, record_event, NewEvent};
use crate::schema::{certificate_warnings, connections};
use crate::{Store, StoreResult};

impl Store {
    /// Every SAML connection that takes logins or is being set up (not revoked), across
    /// workspaces.
    pub fn saml_connections(&self) -> StoreResult<Vec<Connection>> {
        let rows: Vec<super::connection::ConnectionRow> = self.read(|conn| {
            Ok(connections::table
                .filter(connections::kind.eq(ConnectionKind::Saml.as_str()))
                .filter(connections::status.ne(ConnectionStatus::Revoked.as_str()))
                .order(connections::id.asc())
                .select(super::connection::ConnectionRow::as_select())
                .load(conn)?)
        })?;
        rows.into_iter()
            .map(|row| row.into_domain(self.data_keys()))
            .collect()
    }

    /// Gives the warning `days` (30, 7, 1, or 0: expired) about the connection's certificate of
    /// `certificate_use` that expires at `not_after`, unless it was given before: records it and
    /// writes `connection.certificate_expiring`. Returns whether it was given now.
    pub fn warn_certificate_expiring(
        &self,
        connection: &Connection,
        certificate_use: &'static str,
        not_after: Timestamp,
        days: i64,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            let key = (
                certificate_warnings::connection_id.eq(connection.id.to_string()),
                certificate_warnings::certificate_use.eq(certificate_use),
                certificate_warnings::not_after.eq(not_after.as_micros()),
                certificate_warnings::days.eq(days as i32),
            );
            let given: i64 = certificate_warnings::table
                .filter(key.0)
                .filter(key.1)
                .filter(key.2)
                .filter(key.3)
                .count()
                .get_result(conn)?;
            if given > 0 {
                return Ok(false);
            }
            diesel::insert_into(certificate_warnings::table)
                .values((
                    certificate_warnings::connection_id.eq(connection.id.to_string()),
                    certificate_warnings::certificate_use.eq(certificate_use),
                    certificate_warnings::not_after.eq(not_after.as_micros()),
                    certificate_warnings::days.eq(days as i32),
                    certificate_warnings::warned_at.eq(Timestamp::now().as_micros()),
                ))
                .execute(conn)?;
            let mut resource = connection_json(connection);
            resource["certificate"] = serde_json::json!({
                "use": certificate_use,
                "expiresAt": not_after.to_rfc3339(),
                "daysLeft": days,
            });
            record_event(
                conn,
                NewEvent {
                    workspace_id: connection.workspace_id,
                    event_type: "connection.certificate_expiring",
                    actor: &Actor::System,
                    resource_kind: "connection",
                    resource_id: connection.id.to_string(),
                    resource,
                    changed: None,
                },
            )?;
            Ok(true)
        })
    }
}
