//! The provisioning log: one row per SCIM write and per failed SCIM request (method, path,
//! status, duration, error, warnings), so admins see what their IdP changed and why something
//! failed; and the connection's `last_sync_at`, the last time its IdP was heard from.
//!
//! A successful write commits its row in its own transaction ([`Store::scim_write`]): a change
//! is never acknowledged without its log row, and a rolled-back one leaves none. A failed request
//! changed nothing, so its row is written on its own afterwards ([`Store::record_provisioning`]).
//! Successful reads (GET, `.search`) write no row; they only keep `last_sync_at` fresh.
//!
//! `last_sync_at` is moved at most once per [`LAST_SYNC_RESOLUTION`] per connection and server
//! process (and always by a failed request), so it is at most that much behind the last request
//! this process served, and a stream of reads costs one small write transaction per interval
//! instead of one per request.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use roster_domain::{ConnectionId, Timestamp, WorkspaceId};

use crate::db::on_backend;
use crate::schema::{connections, provisioning_log};
use crate::{DbConnection, Store, StoreResult};

/// How often one server process moves a connection's `last_sync_at` at most.
pub const LAST_SYNC_RESOLUTION: Duration = Duration::from_secs(10);

/// Where the time of this process's committed SCIM writes went: each write's transaction — its
/// own statements and its commit (on SQLite, where group commit shares one commit between the
/// writes of a batch, its share of it); waiting for the write lock excluded — and the part spent
/// writing its events to the outbox (issue #12 caps what events may add).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScimWriteTimes {
    pub transactions: u64,
    pub transaction_time: Duration,
    pub event_time: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct WriteCounters {
    transactions: AtomicU64,
    transaction_nanos: AtomicU64,
    event_nanos: AtomicU64,
}

impl WriteCounters {
    fn add(&self, transaction: Duration, events: Duration) {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.transaction_nanos
            .fetch_add(nanos(transaction), Ordering::Relaxed);
        self.event_nanos.fetch_add(nanos(events), Ordering::Relaxed);
    }
}

/// When this process last moved each connection's `last_sync_at`.
#[derive(Debug, Default)]
pub(crate) struct SyncMarks(Mutex<HashMap<String, Instant>>);

impl SyncMarks {
    /// Whether `connection_id`'s `last_sync_at` is due to move now; if so, notes that it moves.
    fn due(&self, connection_id: &str, now: Instant) -> bool {
        let Ok(mut marks) = self.0.lock() else {
            return true;
        };
        match marks.get_mut(connection_id) {
            Some(last) if now.duration_since(*last) < LAST_SYNC_RESOLUTION => false,
            Some(last) => {
                *last = now;
                true
            }
            None => {
                marks.insert(connection_id.to_owned(), now);
                true
            }
        }
    }
}

fn move_last_sync(conn: &mut DbConnection, connection_id: &str) -> StoreResult<()> {
    diesel::update(connections::table.find(connection_id))
        .set(connections::last_sync_at.eq(Timestamp::now().as_micros()))
        .execute(conn)?;
    Ok(())
}

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
    /// The request's query string (without `?`), when it had one.
    pub query: Option<String>,
}

/// A request about to be logged.
/// (`treat_none_as_default_value = false`: one SQL text for every entry, so diesel reuses its prepared statement;
/// no nullable column here has a default.)
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = provisioning_log, treat_none_as_default_value = false)]
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
    pub query: Option<String>,
}

impl Store {
    /// Logs a SCIM request that changed nothing (a failure) and moves the connection's
    /// `last_sync_at`, in a transaction of its own.
    pub fn record_provisioning(&self, entry: &NewProvisioningEntry) -> StoreResult<()> {
        self.write(|conn| {
            diesel::insert_into(provisioning_log::table)
                .values(entry)
                .execute(conn)?;
            move_last_sync(conn, &entry.connection_id)
        })
    }

    /// Runs a SCIM write in one transaction with its provisioning-log row: `log` makes the row
    /// from the write's result, and both commit together or not at all.
    pub(crate) fn scim_write<T, E: From<crate::StoreError>>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
        log: impl FnOnce(&T) -> NewProvisioningEntry,
    ) -> Result<T, E> {
        let worked = Cell::new(None);
        let value = self.write_with(|conn| -> Result<T, E> {
            let begun = Instant::now();
            super::events::take_event_time();
            let value = f(conn)?;
            let entry = log(&value);
            on_backend!(conn, |c| diesel::insert_into(provisioning_log::table)
                .values(&entry)
                .execute(c))
            .map_err(|err| E::from(crate::StoreError::from(err)))?;
            if self.sync_marks.due(&entry.connection_id, Instant::now()) {
                move_last_sync(conn, &entry.connection_id).map_err(E::from)?;
            }
            worked.set(Some((
                begun.elapsed(),
                super::events::take_event_time(),
                Instant::now(),
            )));
            Ok(value)
        })?;
        if let Some((work, events, ended)) = worked.get() {
            // The write's own statements plus its commit: on SQLite its share of the batch's
            // commit (group commit), elsewhere the time from its last statement to committed.
            let commit =
                crate::group_commit::take_commit_share().unwrap_or_else(|| ended.elapsed());
            self.write_counters.add(work + commit, events);
        }
        Ok(value)
    }

    /// Totals of this process's committed SCIM write transactions (see [`ScimWriteTimes`]).
    pub fn scim_write_times(&self) -> ScimWriteTimes {
        let counters = &self.write_counters;
        ScimWriteTimes {
            transactions: counters.transactions.load(Ordering::Relaxed),
            transaction_time: Duration::from_nanos(
                counters.transaction_nanos.load(Ordering::Relaxed),
            ),
            event_time: Duration::from_nanos(counters.event_nanos.load(Ordering::Relaxed)),
        }
    }

    /// Notes a successful SCIM read: moves the connection's `last_sync_at` when it is due (see
    /// the module docs), and does nothing otherwise. Cheap to call on every read.
    pub fn note_scim_read(&self, connection_id: ConnectionId) -> StoreResult<()> {
        let id = connection_id.to_string();
        if !self.sync_marks.due(&id, Instant::now()) {
            return Ok(());
        }
        self.write(|conn| move_last_sync(conn, &id))
    }

    /// Whether [`Store::note_scim_read`] would write now (so callers can skip a thread hop).
    pub fn scim_read_due(&self, connection_id: ConnectionId) -> bool {
        let Ok(marks) = self.sync_marks.0.lock() else {
            return true;
        };
        marks
            .get(&connection_id.to_string())
            .is_none_or(|last| last.elapsed() >= LAST_SYNC_RESOLUTION)
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
