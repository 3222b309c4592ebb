//! The provisioning log: one row per SCIM request (method, path, status, duration, error,
//! warnings), so admins see what their IdP did and why something failed. Writing it also moves
//! the connection's `last_sync_at`.

use diesel::prelude::*;
use roster_domain::{ConnectionId, Timestamp, WorkspaceId};

use crate::schema::{connections, provisioning_log};
use crate::{Store, StoreResult};

/// One SCIM request as logged.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = provisioning_log)]
pub struct ProvisioningEntry {
    pub seq: i64,
    pub workspace_id: String,
    pub connection_id: String,
    pub occurred_at: i64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_us: i64,
    pub resource_id: Option<String>,
    pub error: Option<String>,
    /// JSON array of warnings (e.g. ignored identifier changes with want/got).
    pub warnings: Option<String>,
}

/// A request about to be logged.
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = provisioning_log)]
pub struct NewProvisioningEntry {
    pub workspace_id: String,
    pub connection_id: String,
    pub occurred_at: i64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_us: i64,
    pub resource_id: Option<String>,
    pub error: Option<String>,
    pub warnings: Option<String>,
}

impl Store {
    /// Logs a SCIM request and moves the connection's `last_sync_at`.
    pub fn record_provisioning(&self, entry: &NewProvisioningEntry) -> StoreResult<()> {
        self.write(|conn| {
            diesel::insert_into(provisioning_log::table)
                .values(entry)
                .execute(conn)?;
            diesel::update(connections::table.find(&entry.connection_id))
                .set(connections::last_sync_at.eq(Timestamp::now().as_micros()))
                .execute(conn)?;
            Ok(())
        })
    }

    /// A connection's provisioning log, newest first, before `before_seq`, at most `limit`.
    pub fn provisioning_log(
        &self,
        workspace_id: WorkspaceId,
        connection_id: Option<ConnectionId>,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<ProvisioningEntry>> {
        self.read(|conn| {
            let mut query = provisioning_log::table
                .filter(provisioning_log::workspace_id.eq(workspace_id.to_string()))
                .into_boxed();
            if let Some(connection_id) = connection_id {
                query = query.filter(provisioning_log::connection_id.eq(connection_id.to_string()));
            }
            if let Some(before) = before_seq {
                query = query.filter(provisioning_log::seq.lt(before));
            }
            Ok(query
                .order(provisioning_log::seq.desc())
                .limit(limit)
                .select(ProvisioningEntry::as_select())
                .load(conn)?)
        })
    }
}
