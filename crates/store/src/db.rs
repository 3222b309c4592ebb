//! Connections and pools for both backends behind one `DbConnection` type.
//!
//! `DbConnection` is diesel's `MultiConnection`: queries written once with the DSL run on SQLite or
//! PostgreSQL. Where the backends must differ — SQLite's `BEGIN IMMEDIATE` for write transactions,
//! PostgreSQL's advisory lock around migrations — the code matches on the variant here, in one
//! place, and nowhere else.
//!
//! SQLite runs in WAL mode with foreign keys on, a busy timeout, and `synchronous = FULL` by
//! default, so an acknowledged write survives a crash of the process or the machine. Its write
//! transactions go through [`crate::group_commit`], so concurrent writes share one commit.
//!
//! Lookups by a unique key use `get_result`, not diesel's `.first()`: `.first()` adds `LIMIT ?`
//! with a bound value, and SQLite (since 3.47) plans a bound `LIMIT` by its value, so it discards
//! the prepared statement and parses the SQL again at every execution — about half of the
//! server's CPU time on `GET /Users/{id}` before this rule, and 8 % of a SAML login's (the
//! connection and workspace reads). On a unique key the query returns one row at most, so
//! `get_result` (no `LIMIT`) reads the same row, and diesel's statement cache can keep the
//! statement. `.first()` stays only where several rows may match and the first in an order is
//! wanted: there `LIMIT 1` keeps PostgreSQL from sending every row.

use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{StoreError, StoreResult};
use crate::group_commit::GroupCommit;

/// Runs `$body` with `$c` bound to the backend's own connection (`SqliteConnection` or
/// `PgConnection`) instead of the `MultiConnection`, for the hottest point reads.
///
/// Through `MultiConnection` every execution serialises the query to SQL text (its wrapper
/// builds the SQL even when diesel only collects binds), which was ~10 % of the server's CPU on
/// `GET /Users/{id}`. On the backend's connection a query without `into_boxed()` has a static
/// query id: diesel finds its prepared statement by type and builds no SQL at all.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Inserts `$values` into `$table` on the backend's own connection, skipping rows whose unique
/// key is taken (SQLite `INSERT OR IGNORE`, PostgreSQL `ON CONFLICT DO NOTHING`); the value is
/// the number of rows inserted. A skipped row is no error, so a PostgreSQL transaction stays
/// usable afterwards.
macro_rules! insert_ignoring_taken_keys {
    ($conn:expr, $table:path, $values:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite(c) => diesel::insert_or_ignore_into($table)
                .values($values)
                .execute(c),
            $crate::db::DbConnection::Postgres(c) => diesel::insert_into($table)
                .values($values)
                .on_conflict_do_nothing()
                .execute(c),
        }
    };
}
pub(crate) use insert_ignoring_taken_keys;

/// Runs an `UPDATE` and returns how many rows it changed, kept prepared on PostgreSQL (see
/// [`KeepPrepared`]): there it returns `$key` (a text column) of each changed row and counts
/// them, since only a statement that returns rows can be kept; SQLite runs it as it is.
macro_rules! update_kept_prepared {
    ($conn:expr, $update:expr, returning $key:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres(c) => {
                $crate::db::KeepPrepared($update.returning($key))
                    .load::<String>(c)
                    .map(|changed| changed.len())
            }
            $crate::db::DbConnection::Sqlite(c) => $update.execute(c),
        }
    };
}
pub(crate) use update_kept_prepared;

/// A statement that returns rows, which diesel would send to be parsed and planned again at
/// every execution, kept prepared on the connection instead, found by its SQL text.
///
/// diesel keeps no `UPDATE` and no `sql_query` prepared: their SQL can differ between two
/// executions of the same Rust type, and its cache finds a statement by type. On PostgreSQL
/// such a statement goes as an unnamed one, parsed, analysed and planned at every execution; a
/// log of the bench's PATCH phase showed the user's `UPDATE` sent that way at every write, and
/// a profile of the cluster had about a quarter of its CPU in the parser and planner. This
/// wrapper says the statement is safe to keep and gives it no type id, so the cache keys it by
/// its SQL text and bind types: each distinct text is prepared once per connection, which is
/// exact however the SQL varies (a changeset's optional columns make a few texts, never one per
/// value).
///
/// Only for statements run with `load` or `get_result` (an `UPDATE … RETURNING`, a query):
/// `execute` hands diesel a reference, whose check of the statement walks it again and finds
/// the `UPDATE` unsafe, so an executed statement is not kept (the tests show both).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepPrepared<Q>(pub(crate) Q);

impl<Q> diesel::query_builder::QueryId for KeepPrepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for KeepPrepared<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for KeepPrepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for KeepPrepared<Q> {}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// A database connection of either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A parsed `database.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// What the driver receives: a file path for SQLite, the URL itself for PostgreSQL.
    pub target: String,
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite::memory:`, `postgres://...` and `postgresql://...`.
    pub fn parse(url: &str) -> StoreResult<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::Unavailable(
                    "database.url sqlite:// needs a file path, e.g. sqlite://./data/roster.db"
                        .into(),
                ));
            }
            return Ok(Self {
                backend: Backend::Sqlite,
                target: path.to_owned(),
            });
        }
        if url == "sqlite::memory:" {
            return Ok(Self {
                backend: Backend::Sqlite,
                target: ":memory:".to_owned(),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // libpq tries GSSAPI encryption first by default, which loads Kerberos; its
            // thread-specific data can then abort the process at exit while pool threads still
            // hold connections (`krb5int_getspecific` assertion, seen in the CLI). Roster does
            // not use GSS encryption unless the URL asks for it.
            let target = if url.contains("gssencmode=") {
                url.to_owned()
            } else {
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}gssencmode=disable")
            };
            return Ok(Self {
                backend: Backend::Postgres,
                target,
            });
        }
        Err(StoreError::Unavailable(
            "database.url must start with sqlite:// or postgres://".into(),
        ))
    }
}

/// Pool and connection settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connect_timeout: Duration,
    /// How long SQLite waits for a lock before answering "busy".
    pub busy_timeout: Duration,
    /// SQLite `synchronous`: `FULL` (durable, default) or `NORMAL` (faster; a power loss may drop
    /// the last commits, a process crash never does).
    pub sqlite_synchronous: String,
    /// How long an accepted SCIM token answers for the database (see `token_cache`); zero
    /// reads it at every request.
    pub scim_token_cache: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 8,
            connect_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            sqlite_synchronous: "FULL".to_owned(),
            scim_token_cache: Duration::from_secs(1),
        }
    }
}

/// Opens connections of the configured backend; r2d2 pools them, and SQLite's group commit
/// opens its dedicated writer with it.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    busy_timeout_ms: u128,
    sqlite_synchronous: String,
}

/// A connection in the pool, with what the pool knows of its health.
///
/// A PostgreSQL connection dies with its server, and the pool cannot tell until it is used. A
/// ping before every checkout found dead ones, at the cost of a round trip per checkout: two of
/// the four round trips of a SCIM `GET` (the token, then the user). The pool now pings only a
/// connection idle in the pool for longer than [`TRUSTED_FOR`], as HikariCP does (its
/// `aliveBypassWindowMs`, 500 ms by default). A connection that dies while in steady use fails
/// the one request that finds it dead (503 with `Retry-After`, as in-flight requests do anyway);
/// diesel then reports it broken (libpq no longer knows its transaction state), so the pool
/// drops it on return instead of handing it out again.
pub struct PooledDb {
    conn: DbConnection,
    returned_at: Instant,
}

/// How long after going back to the pool a connection is trusted without a ping.
const TRUSTED_FOR: Duration = Duration::from_millis(500);

impl std::ops::Deref for PooledDb {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PooledDb {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

impl ConnectionManager {
    /// Opens a connection with the pool's settings (SQLite's group commit opens its writer so).
    pub(crate) fn open(&self) -> Result<DbConnection, StoreError> {
        match self.url.backend {
            Backend::Postgres => PgConnection::establish(&self.url.target)
                .map(DbConnection::Postgres)
                .map_err(|err| StoreError::Unavailable(err.to_string())),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url.target)
                    .map_err(|err| StoreError::Unavailable(err.to_string()))?;
                // WAL mode is a property of the file, set once in `build_pool`.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {};
                     PRAGMA synchronous = {};
                     PRAGMA foreign_keys = ON;",
                    self.busy_timeout_ms, self.sqlite_synchronous
                ))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = PooledDb;
    type Error = StoreError;

    fn connect(&self) -> Result<PooledDb, StoreError> {
        Ok(PooledDb {
            conn: self.open()?,
            returned_at: Instant::now(),
        })
    }

    /// Called at checkout (PostgreSQL only, see [`build_pool`]).
    fn is_valid(&self, pooled: &mut PooledDb) -> Result<(), StoreError> {
        if pooled.returned_at.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        pooled.conn.ping().map_err(StoreError::from)
    }

    /// Called as the connection goes back to the pool: the moment its trust window starts, and
    /// the check that drops a connection found dead (or in an unknown transaction state).
    fn has_broken(&self, pooled: &mut PooledDb) -> bool {
        pooled.returned_at = Instant::now();
        R2D2Connection::is_broken(&mut pooled.conn)
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// The pool, and for a SQLite file the group commit that all its writes go through.
pub(crate) fn build_pool(
    url: &DatabaseUrl,
    options: &PoolOptions,
) -> StoreResult<(Pool, Option<GroupCommit>)> {
    let synchronous = options.sqlite_synchronous.to_ascii_uppercase();
    if !matches!(synchronous.as_str(), "FULL" | "NORMAL" | "EXTRA") {
        return Err(StoreError::Unavailable(format!(
            "database.sqlite_synchronous must be FULL, NORMAL or EXTRA, not {synchronous:?}"
        )));
    }
    if url.backend == Backend::Sqlite && url.target != ":memory:" {
        // Switching to WAL takes an exclusive lock; doing it once here, before the pool opens its
        // connections in parallel, keeps them from racing for it.
        let mut conn = SqliteConnection::establish(&url.target)
            .map_err(|err| StoreError::Unavailable(err.to_string()))?;
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL;",
            options.busy_timeout.as_millis()
        ))?;
    }
    let manager = ConnectionManager {
        url: url.clone(),
        busy_timeout_ms: options.busy_timeout.as_millis(),
        sqlite_synchronous: synchronous,
    };
    let group_commit = (url.backend == Backend::Sqlite && url.target != ":memory:")
        .then(|| GroupCommit::new(manager.clone()));
    let pool = r2d2::Pool::builder()
        .max_size(options.max_size)
        // Open connections on demand: a CLI command needs one, the server grows to `max_size`.
        .min_idle(Some(1))
        .connection_timeout(options.connect_timeout)
        // SQLite connections are local files: a ping buys nothing. PostgreSQL connections die
        // with the server; a ping at checkout of a connection idle long enough to be stale
        // (`PooledDb`) turns that into a fresh connect.
        .test_on_check_out(url.backend == Backend::Postgres)
        .build(manager)
        .map_err(StoreError::from)?;
    Ok((pool, group_commit))
}

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (takes the write lock up front,
/// so two writers queue on the busy timeout instead of one failing at its first write), a plain
/// `BEGIN` on PostgreSQL. Commits on `Ok`, rolls back on `Err`.
pub(crate) fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    E: From<StoreError>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    let begun = match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(inner) => AnsiTransactionManager::begin_transaction(inner),
    };
    begun.map_err(|err| E::from(StoreError::from(err)))?;
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)
                .map_err(|err| E::from(StoreError::from(err)))?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) =
                <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
            {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(err)
        }
    }
}

/// Applies pending migrations and returns their names. Safe to run from several processes at
/// once: SQLite serialises them on the write lock, PostgreSQL on an advisory lock.
pub(crate) fn run_migrations(conn: &mut DbConnection) -> StoreResult<Vec<String>> {
    let to_names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| {
        versions.into_iter().map(|v| v.to_string()).collect()
    };
    match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            let result = inner
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(to_names)
                .map_err(|err| StoreError::Migration(err.to_string()));
            match result {
                Ok(names) => {
                    AnsiTransactionManager::commit_transaction(inner)?;
                    Ok(names)
                }
                Err(err) => {
                    AnsiTransactionManager::rollback_transaction(inner).ok();
                    Err(err)
                }
            }
        }
        DbConnection::Postgres(inner) => {
            // An arbitrary constant: "roster migrations" for pg_advisory_lock.
            inner.batch_execute("SELECT pg_advisory_lock(7262001)")?;
            let result = inner
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(to_names)
                .map_err(|err| StoreError::Migration(err.to_string()));
            inner.batch_execute("SELECT pg_advisory_unlock(7262001)")?;
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Store::migrate` recognises the migration that introduced the attribute index by its
    /// version (to rebuild the index from values stored before it): that version must exist, in
    /// both folders, in the spelling diesel reports.
    #[test]
    fn the_attribute_index_migration_is_recognised_by_its_version() {
        use diesel::migration::MigrationSource;
        for source in [SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS] {
            let versions: Vec<String> =
                MigrationSource::<diesel::sqlite::Sqlite>::migrations(&source)
                    .unwrap()
                    .iter()
                    .map(|migration| migration.name().version().to_string().replace('-', ""))
                    .collect();
            assert!(
                versions
                    .iter()
                    .any(|version| version == crate::models::ATTRIBUTE_INDEX_MIGRATION),
                "{versions:?}"
            );
        }
    }

    /// On PostgreSQL, an `UPDATE … RETURNING` wrapped in [`KeepPrepared`] is prepared once and
    /// kept, one statement per SQL text; the same update unwrapped is not kept, nor is a wrapped
    /// one run with `execute` (PostgreSQL lists only kept statements in
    /// `pg_prepared_statements`). [`update_kept_prepared`] keeps it and counts the changed rows.
    #[test]
    fn keep_prepared_keeps_an_update_returning_rows_by_its_sql_text() {
        use diesel::prelude::*;

        use crate::schema::workspaces;
        use crate::testing::{kept_statements, TestStore};

        #[derive(Clone, Copy)]
        enum Run {
            Plain,
            Kept,
            KeptButExecuted,
            Macro,
        }
        let db = TestStore::new();
        if db.store.backend() != Backend::Postgres {
            return;
        }
        let workspace = db.workspace("acme").id.to_string();
        let kept_updates = |run: Run| -> usize {
            // A fresh session each run, so its kept statements are this run's.
            let store = db.one_connection_store();
            store
                .write(|conn| {
                    for name in ["one", "two", "three"] {
                        let update = diesel::update(workspaces::table.find(&workspace))
                            .set(workspaces::name.eq(name));
                        if let Run::Macro = run {
                            let changed =
                                update_kept_prepared!(&mut *conn, update, returning workspaces::id)?;
                            assert_eq!(changed, 1);
                            continue;
                        }
                        let DbConnection::Postgres(conn) = &mut *conn else {
                            unreachable!("a PostgreSQL store")
                        };
                        let returning = update.clone().returning(workspaces::name);
                        match run {
                            Run::Plain => drop(returning.get_result::<String>(conn)?),
                            Run::Kept => drop(KeepPrepared(returning).get_result::<String>(conn)?),
                            Run::KeptButExecuted => drop(KeepPrepared(update).execute(conn)?),
                            Run::Macro => unreachable!(),
                        }
                    }
                    Ok(())
                })
                .unwrap();
            kept_statements(&store)
                .iter()
                .filter(|sql| sql.starts_with(r#"UPDATE "workspaces""#))
                .count()
        };
        assert_eq!(kept_updates(Run::Plain), 0);
        assert_eq!(kept_updates(Run::Kept), 1);
        assert_eq!(kept_updates(Run::KeptButExecuted), 0);
        assert_eq!(kept_updates(Run::Macro), 1, "update_kept_prepared!");
    }

    #[test]
    fn database_urls() {
        let sqlite = DatabaseUrl::parse("sqlite://./data/roster.db").unwrap();
        assert_eq!(sqlite.backend, Backend::Sqlite);
        assert_eq!(sqlite.target, "./data/roster.db");
        let pg = DatabaseUrl::parse("postgres://u@127.0.0.1:5432/db").unwrap();
        assert_eq!(pg.backend, Backend::Postgres);
        assert_eq!(
            pg.target,
            "postgres://u@127.0.0.1:5432/db?gssencmode=disable"
        );
        let with_options = DatabaseUrl::parse("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!(
            with_options.target,
            "postgres://u@h/db?sslmode=require&gssencmode=disable"
        );
        let asked = DatabaseUrl::parse("postgres://u@h/db?gssencmode=prefer").unwrap();
        assert_eq!(asked.target, "postgres://u@h/db?gssencmode=prefer");
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }
}
