//! The audit trail: written inside the transaction of the change it describes.

use diesel::prelude::*;
use roster_domain::{AuditEvent, NewAuditEvent, Timestamp, WorkspaceId};

use crate::db::on_backend;
use crate::schema::audit_events;
use crate::{DbConnection, Store, StoreResult};

/// `treat_none_as_default_value = false`: one SQL text for every entry, so diesel reuses its prepared statement
/// (no nullable column here has a default).
#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
struct NewAuditRow<'a> {
    workspace_id: Option<String>,
    occurred_at: i64,
    actor_kind: &'a str,
    actor_id: Option<String>,
    action: &'a str,
    target_kind: &'a str,
    target_id: &'a str,
    detail: &'a str,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    seq: i64,
    workspace_id: Option<String>,
    occurred_at: i64,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    target_kind: String,
    target_id: String,
    detail: String,
}

/// Writes one audit event on `conn`; call it inside the transaction of the change.
pub fn record_audit(conn: &mut DbConnection, event: &NewAuditEvent) -> StoreResult<()> {
    let (actor_kind, actor_id) = event.actor.to_stored();
    let row = NewAuditRow {
        workspace_id: event.workspace_id.map(|id| id.to_string()),
        occurred_at: Timestamp::now().as_micros(),
        actor_kind,
        actor_id,
        action: event.action.0,
        target_kind: event.target_kind,
        target_id: &event.target_id,
        detail: &event.detail,
    };
    on_backend!(conn, |c| diesel::insert_into(audit_events::table)
        .values(&row)
        .execute(c))?;
    Ok(())
}

impl Store {
    /// A workspace's audit events in commit order, after `after_seq`, at most `limit`.
    pub fn audit_events(
        &self,
        workspace_id: WorkspaceId,
        after_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEvent>> {
        let rows: Vec<AuditRow> = self.read(|conn| {
            Ok(audit_events::table
                .filter(audit_events::workspace_id.eq(workspace_id.to_string()))
                .filter(audit_events::seq.gt(after_seq.unwrap_or(0)))
                .order(audit_events::seq.asc())
                .limit(limit)
                .select(AuditRow::as_select())
                .load(conn)?)
        })?;
        rows.into_iter().map(AuditRow::into_event).collect()
    }

    /// A workspace's audit events newest first, before `before_seq` (all when `None`), at most
    /// `limit`: the console's view starts from the latest change.
    pub fn audit_events_newest_first(
        &self,
        workspace_id: WorkspaceId,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEvent>> {
        let rows: Vec<AuditRow> = self.read(|conn| {
            Ok(audit_events::table
                .filter(audit_events::workspace_id.eq(workspace_id.to_string()))
                .filter(audit_events::seq.lt(before_seq.unwrap_or(i64::MAX)))
                .order(audit_events::seq.desc())
                .limit(limit)
                .select(AuditRow::as_select())
                .load(conn)?)
        })?;
        rows.into_iter().map(AuditRow::into_event).collect()
    }

    /// The newest audit events that belong to no workspace (operator actions such as session
    /// key rotations), newest first, at most `limit`.
    pub fn system_audit_events(&self, limit: i64) -> StoreResult<Vec<AuditEvent>> {
        self.system_audit_events_before(None, limit)
    }

    /// [`Store::system_audit_events`] before the position `before` (the operator's audit
    /// trail pages back with it).
    pub fn system_audit_events_before(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEvent>> {
        let rows: Vec<AuditRow> = self.read(|conn| {
            Ok(audit_events::table
                .filter(audit_events::workspace_id.is_null())
                .filter(audit_events::seq.lt(before.unwrap_or(i64::MAX)))
                .order(audit_events::seq.desc())
                .limit(limit)
                .select(AuditRow::as_select())
                .load(conn)?)
        })?;
        rows.into_iter().map(AuditRow::into_event).collect()
    }
}

impl AuditRow {
    fn into_event(self) -> StoreResult<AuditEvent> {
        let row = self;
        Ok(AuditEvent {
            seq: row.seq,
            workspace_id: row
                .workspace_id
                .map(|id| id.parse())
                .transpose()
                .map_err(super::corrupt("audit_events"))?,
            occurred_at: Timestamp::from_micros(row.occurred_at),
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            action: row.action,
            target_kind: row.target_kind,
            target_id: row.target_id,
            detail: row.detail,
        })
    }
}
