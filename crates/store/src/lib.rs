#![doc = include_str!("../README.md")]

mod any_of;
mod db;
mod error;
mod filter;
mod group_commit;
mod models;
pub mod offload;
mod outbox_wake;
pub mod schema;
pub mod sealing;
pub mod testing;

use std::sync::Arc;

pub use db::{Backend, DatabaseUrl, DbConnection, PoolOptions};
pub use error::{StoreError, StoreResult};
pub use filter::FilterTypeError;
pub use group_commit::GroupCommitCounts;
pub use models::*;
pub use offload::blocking;
pub use outbox_wake::OutboxWake;
/// The domain types this crate returns, so protocol crates need no second import path.
pub use roster_domain as domain;
pub use roster_policy::EffectiveRoles;
pub use sealing::{DataKey, DataKeys};

use db::Pool;

/// The handle every protocol crate uses: a connection pool plus the operations on it.
/// Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Arc<Pool>,
    /// SQLite files: the one writer all write transactions go through (see [`group_commit`]).
    group_commit: Option<Arc<group_commit::GroupCommit>>,
    backend: Backend,
    /// Login attempts this process recorded, by outcome (the `/metrics` counters).
    login_outcomes: Arc<models::LoginOutcomes>,
    /// When this process last moved each connection's `last_sync_at` (see `provisioning`).
    sync_marks: Arc<models::SyncMarks>,
    /// Where SCIM write transactions spend their time (see `provisioning`).
    write_counters: Arc<models::WriteCounters>,
    /// Recent `totalResults` for later cursor pages (see `list_totals`).
    list_totals: Arc<models::ListTotals>,
    /// SCIM tokens accepted in the last second (see `token_cache`).
    token_cache: Arc<models::TokenCache>,
    /// Rung after a commit that queued a back-channel logout (see `outbox_wake`).
    outbox_wake: Arc<OutboxWake>,
    /// Rung after a commit that wrote directory events, for the webhooks (see `outbox_wake`).
    events_wake: Arc<OutboxWake>,
    /// What seals the secrets Roster must use again (see [`sealing`]).
    data_keys: Arc<DataKeys>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a pool on `url` (`sqlite://PATH` or `postgres://...`). Creates the SQLite file's
    /// directory if needed. Does not migrate: call [`Store::migrate`].
    pub fn open(url: &str, options: &PoolOptions) -> StoreResult<Self> {
        let url = DatabaseUrl::parse(url)?;
        if url.backend == Backend::Sqlite && url.target != ":memory:" {
            if let Some(dir) = std::path::Path::new(&url.target).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|err| {
                        StoreError::Unavailable(format!(
                            "cannot create the database directory {}: {err}",
                            dir.display()
                        ))
                    })?;
                }
            }
        }
        let (pool, group_commit) = db::build_pool(&url, options)?;
        Ok(Self {
            pool: Arc::new(pool),
            group_commit: group_commit.map(Arc::new),
            backend: url.backend,
            login_outcomes: Arc::default(),
            sync_marks: Arc::default(),
            write_counters: Arc::default(),
            list_totals: Arc::default(),
            token_cache: Arc::new(models::TokenCache::new(options.scim_token_cache)),
            outbox_wake: Arc::default(),
            events_wake: Arc::default(),
            data_keys: Arc::default(),
        })
    }

    /// This store with the deployment's data keys: without them it stores no secret and opens
    /// no sealed one (see [`sealing`]).
    #[must_use]
    pub fn with_data_keys(mut self, keys: DataKeys) -> Self {
        self.data_keys = Arc::new(keys);
        self
    }

    pub(crate) fn data_keys(&self) -> &DataKeys {
        &self.data_keys
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns the versions applied (empty when up to date).
    pub fn migrate(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.pool.get()?;
        let applied = db::run_migrations(&mut conn)?;
        drop(conn);
        if applied
            .iter()
            .any(|version| version.replace('-', "") == models::ATTRIBUTE_INDEX_MIGRATION)
        {
            // Values stored before the index existed become filterable.
            self.write(models::rebuild_every_attribute_index)?;
        }
        Ok(applied)
    }

    /// Whether the database answers (for `/readyz`).
    pub fn check_ready(&self) -> StoreResult<()> {
        use diesel::r2d2::R2D2Connection;
        let mut conn = self.pool.get()?;
        conn.ping().map_err(StoreError::from)
    }

    /// What SQLite's group commit has done in this process (`None` on PostgreSQL).
    pub fn group_commit_counts(&self) -> Option<GroupCommitCounts> {
        self.group_commit.as_ref().map(|group| group.counts())
    }

    /// What the delivery worker waits on between polls: rung by every commit of this process
    /// that queued a back-channel logout.
    pub fn outbox_wake(&self) -> &OutboxWake {
        &self.outbox_wake
    }

    /// What the webhook worker waits on between polls: rung by every commit of this process that
    /// wrote directory events (and by the worker itself when a batch leaves work behind).
    pub fn events_wake(&self) -> &OutboxWake {
        &self.events_wake
    }

    /// Pool usage: (connections open, connections idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    pub(crate) fn conn(&self) -> StoreResult<r2d2::PooledConnection<db::ConnectionManager>> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in one write transaction (see [`db`] for how each backend does it).
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.write_with(f)
    }

    /// [`Store::write`] for a change SCIM authentication depends on — a token revoked, a
    /// connection revoked or its SCIM switched — so the cache of accepted tokens is emptied
    /// once it has committed (see `token_cache`).
    pub(crate) fn write_token_change<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let result = self.write_with(f);
        self.token_cache.invalidate();
        result
    }

    /// [`Store::write`] for operations whose closure can fail with the caller's own error type
    /// (e.g. a SCIM PATCH that turns out invalid halfway): any `Err` rolls back.
    pub(crate) fn write_with<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let (result, marks) = outbox_wake::tracking(|| match &self.group_commit {
            // A write started inside another one's work gets a transaction of its own, as it
            // did before group commit (SQLite then makes it wait for the outer one).
            Some(group) if !group_commit::inside_batch() => group.run(f),
            _ => {
                let mut conn = self.conn()?;
                db::write_transaction(&mut conn, f)
            }
        });
        if result.is_ok() {
            if marks.contains(outbox_wake::Queued::Logout) {
                self.outbox_wake.notify();
            }
            if marks.contains(outbox_wake::Queued::Event) {
                self.events_wake.notify();
            }
        }
        result
    }

    /// Runs `f` on a pooled connection without a transaction (single-statement reads).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.conn()?;
        f(&mut conn)
    }
}
