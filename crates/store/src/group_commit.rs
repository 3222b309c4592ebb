//! Group commit for SQLite: concurrent write transactions share one durable commit.
//!
//! SQLite has one writer at a time, and with `synchronous = FULL` every commit waits for the disk
//! (an fsync of the WAL). With one commit per write, a server's write throughput is the disk's
//! fsync rate, whatever the CPUs could do: SCIM creates, PATCHes and SSO logins all queued on it.
//! Here the writes of a process go through one dedicated connection instead. The first writer
//! to arrive opens a transaction (`BEGIN IMMEDIATE`); each writer runs its work inside a
//! savepoint of it, so a failed write rolls back only its own changes; the last writer present
//! commits for everyone, and nobody is answered before that commit is durable. Under load one
//! fsync covers up to [`MAX_BATCH`] writes; a lone writer commits at once, as before.
//!
//! What each writer sees is what it would see with one transaction each, run one after the
//! other: the writes of a batch run serially, each after the previous one's changes. A writer
//! whose work failed is answered with its own error once the batch is decided. When the shared
//! commit itself fails (disk full, I/O error), every writer of the batch gets `Unavailable`:
//! nothing of the batch was written, and retrying is right.
//!
//! PostgreSQL needs none of this: it runs writers concurrently and groups their WAL flushes
//! itself. An in-memory SQLite database is one per connection, so it keeps the plain path.

use std::collections::HashMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection;

use crate::db::{ConnectionManager, DbConnection};
use crate::error::StoreError;

thread_local! {
    /// Whether this thread is running a member's work (a nested write must not wait for the
    /// writer lock it holds).
    static INSIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// See [`take_commit_share`].
    static COMMIT_SHARE: std::cell::Cell<Option<Duration>> = const { std::cell::Cell::new(None) };
}

/// The share of its batch's commit time of the last write this thread ran through group commit
/// (taken: a second call returns `None`), for the write-time metrics.
pub(crate) fn take_commit_share() -> Option<Duration> {
    COMMIT_SHARE.with(std::cell::Cell::take)
}

/// Whether the current thread is inside a batch member's work.
pub(crate) fn inside_batch() -> bool {
    INSIDE.with(std::cell::Cell::get)
}

/// Most writes one commit covers: bounds how long the first writer of a batch waits for it.
pub(crate) const MAX_BATCH: usize = 64;

/// The shared writer of one SQLite database in this process.
pub(crate) struct GroupCommit {
    /// Opens the dedicated connection (with the pool's pragmas).
    manager: ConnectionManager,
    writer: Mutex<Writer>,
    /// Writers waiting for the writer lock: a member leaves the commit to them while any are.
    arriving: AtomicUsize,
    /// Signalled when a batch is decided.
    decided: Condvar,
    /// Committed batches and the writes they carried (for `/metrics` and the tests).
    commits: AtomicU64,
    committed_writes: AtomicU64,
}

/// What group commit has done in this process: `writes / commits` is the writes per fsync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitCounts {
    pub commits: u64,
    pub writes: u64,
}

#[derive(Default)]
struct Writer {
    /// The dedicated connection; opened on first use, and again after a failure broke it.
    conn: Option<DbConnection>,
    /// The batch whose transaction is open.
    open: Option<Batch>,
    /// Batches are numbered from 1; `decided` is the newest whose commit or rollback is done.
    last_id: u64,
    decided: u64,
    /// How decided batches ended, until every member that waited for it has read it:
    /// (members still to read, the decision).
    outcomes: HashMap<u64, (usize, Decision)>,
}

/// How a batch ended.
#[derive(Clone, Default)]
struct Decision {
    /// The commit's error, if it failed.
    failed: Option<String>,
    /// The commit's duration divided among the batch's writes.
    commit_share: Duration,
}

struct Batch {
    id: u64,
    members: usize,
    /// Members whose work succeeded (their savepoint was released): without any, the batch
    /// rolls back instead of committing.
    succeeded: usize,
    /// Members that wait for another member to decide the batch.
    waiting: usize,
}

impl GroupCommit {
    pub(crate) fn new(manager: ConnectionManager) -> Self {
        Self {
            manager,
            writer: Mutex::new(Writer::default()),
            arriving: AtomicUsize::new(0),
            decided: Condvar::new(),
            commits: AtomicU64::new(0),
            committed_writes: AtomicU64::new(0),
        }
    }

    pub(crate) fn counts(&self) -> GroupCommitCounts {
        GroupCommitCounts {
            commits: self.commits.load(Ordering::Relaxed),
            writes: self.committed_writes.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        // A panic is caught before it can poison the lock (see `run`); recover regardless.
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` as one write of a batch and returns once the batch is durably committed (or
    /// rolled back). `Err` from `f` undoes `f`'s changes only.
    pub(crate) fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
    {
        self.arriving.fetch_add(1, Ordering::SeqCst);
        let mut writer = self.lock();
        self.arriving.fetch_sub(1, Ordering::SeqCst);
        if writer.open.is_none() {
            writer.begin(&self.manager).map_err(E::from)?;
        }
        let Writer {
            conn: Some(conn),
            open: Some(batch),
            ..
        } = &mut *writer
        else {
            return Err(E::from(StoreError::Unavailable(
                "the SQLite writer has no open batch".into(),
            )));
        };
        let result = member(conn, f);
        let batch_id = batch.id;
        batch.members += 1;
        let broken = match &result {
            Member::Done(Ok(_)) => {
                batch.succeeded += 1;
                false
            }
            Member::Done(Err(_)) => false,
            Member::Panicked { broken, .. } => *broken,
            Member::Broken(_) => true,
        };
        let decision =
            if !broken && self.arriving.load(Ordering::SeqCst) > 0 && batch.members < MAX_BATCH {
                // Someone is at the door: they commit (or pass it on), and this member waits.
                batch.waiting += 1;
                self.await_decision(writer, batch_id)
            } else {
                let succeeded = writer.open.as_ref().map_or(0, |batch| batch.succeeded);
                let decision = writer.decide(broken);
                if decision.failed.is_none() && succeeded > 0 && !broken {
                    self.commits.fetch_add(1, Ordering::Relaxed);
                    self.committed_writes
                        .fetch_add(succeeded as u64, Ordering::Relaxed);
                }
                self.decided.notify_all();
                drop(writer);
                decision
            };
        COMMIT_SHARE.with(|share| share.set(Some(decision.commit_share)));
        match result {
            Member::Panicked { payload, .. } => resume_unwind(payload),
            Member::Broken(err) => Err(E::from(err)),
            Member::Done(value) => match decision.failed {
                None => value,
                Some(message) => Err(E::from(StoreError::Unavailable(message))),
            },
        }
    }

    /// Waits until batch `id` is decided, and returns how.
    fn await_decision(&self, mut writer: MutexGuard<'_, Writer>, id: u64) -> Decision {
        while writer.decided < id {
            writer = self
                .decided
                .wait(writer)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        let (left, decision) = writer
            .outcomes
            .get_mut(&id)
            .map(|(left, decision)| {
                *left -= 1;
                (*left, decision.clone())
            })
            .unwrap_or_default();
        if left == 0 {
            writer.outcomes.remove(&id);
        }
        decision
    }
}

/// SQLite keeps the page images a `ROLLBACK TO` a savepoint needs in a sub-journal, which
/// spills to a temporary file past 64 KiB. A batch of savepoints reaches that after a few
/// writes: in a create phase this connection made about 16,000 `pwrite`s a second to
/// `/var/tmp/etilqs_*`, inside the writer everybody waits for. With `temp_store = MEMORY` the
/// sub-journal stays in memory (a batch's pages, a few MiB at most, freed at its commit). Only
/// this connection: it runs writes, not the large sorts that temp files are for.
fn keep_savepoints_in_memory(conn: &mut DbConnection) -> Result<(), StoreError> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("PRAGMA temp_store = MEMORY;")?;
    Ok(())
}

impl Writer {
    /// Opens a batch: `BEGIN IMMEDIATE` takes SQLite's write lock for it (waiting up to the
    /// busy timeout while another process holds it).
    fn begin(&mut self, manager: &ConnectionManager) -> Result<(), StoreError> {
        if self.conn.is_none() {
            let mut conn = manager.open()?;
            keep_savepoints_in_memory(&mut conn)?;
            self.conn = Some(conn);
        }
        let Some(DbConnection::Sqlite(inner)) = self.conn.as_mut() else {
            return Err(StoreError::Unavailable(
                "group commit needs a SQLite connection".into(),
            ));
        };
        if let Err(err) = AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE") {
            // A connection whose transaction state is unknown is not reused.
            if AnsiTransactionManager::transaction_manager_status_mut(inner)
                .transaction_depth()
                .is_err()
            {
                self.conn = None;
            }
            return Err(err.into());
        }
        self.last_id += 1;
        self.open = Some(Batch {
            id: self.last_id,
            members: 0,
            succeeded: 0,
            waiting: 0,
        });
        Ok(())
    }

    /// Commits the open batch (or rolls it back when no member succeeded, or `broken`), records
    /// the decision for the members that wait, and returns it.
    fn decide(&mut self, broken: bool) -> Decision {
        let started = Instant::now();
        let (Some(batch), Some(conn)) = (self.open.take(), self.conn.as_mut()) else {
            return Decision {
                failed: Some("the SQLite writer has no open batch".into()),
                commit_share: Duration::ZERO,
            };
        };
        let manager = <DbConnection as Connection>::TransactionManager::commit_transaction;
        let ended = if batch.succeeded > 0 && !broken {
            manager(conn)
        } else {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
        };
        let outcome = match ended {
            Ok(()) if batch.succeeded > 0 && !broken => None,
            Ok(()) if broken => Some("a write of this batch broke the connection".to_owned()),
            Ok(()) => None,
            Err(err) => {
                tracing::error!(error = %err, batch = batch.id, "group commit failed");
                // The transaction may still be open: roll it back, and start afresh next time.
                let _ =
                    <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
                self.conn = None;
                Some(format!("the commit failed: {err}"))
            }
        };
        if broken {
            self.conn = None;
        }
        self.decided = batch.id;
        let decision = Decision {
            failed: outcome,
            commit_share: started.elapsed() / u32::try_from(batch.members.max(1)).unwrap_or(1),
        };
        if batch.waiting > 0 {
            self.outcomes
                .insert(batch.id, (batch.waiting, decision.clone()));
        }
        decision
    }
}

/// What running one member's work did.
enum Member<T, E> {
    /// Its work ran, and its savepoint was released (`Ok`) or rolled back (`Err`).
    Done(Result<T, E>),
    /// Its work panicked (and its savepoint was rolled back, or the batch is `broken`). The
    /// panic resumes once the batch is decided.
    Panicked {
        payload: Box<dyn std::any::Any + Send>,
        broken: bool,
    },
    /// Its savepoint could not be rolled back: the whole batch must be.
    Broken(StoreError),
}

/// Runs `f` inside a savepoint of the open batch.
fn member<T, E, F>(conn: &mut DbConnection, f: F) -> Member<T, E>
where
    E: From<StoreError>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    type Manager = <DbConnection as Connection>::TransactionManager;
    if let Err(err) = Manager::begin_transaction(conn) {
        return Member::Broken(err.into());
    }
    INSIDE.with(|inside| inside.set(true));
    let ran = catch_unwind(AssertUnwindSafe(|| f(&mut *conn)));
    INSIDE.with(|inside| inside.set(false));
    match ran {
        Ok(Ok(value)) => match Manager::commit_transaction(conn) {
            Ok(()) => Member::Done(Ok(value)),
            Err(err) => Member::Broken(err.into()),
        },
        Ok(Err(err)) => match Manager::rollback_transaction(conn) {
            Ok(()) => Member::Done(Err(err)),
            Err(rollback) => Member::Broken(rollback.into()),
        },
        Err(payload) => Member::Panicked {
            payload,
            broken: Manager::rollback_transaction(conn).is_err(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::time::Duration;

    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use crate::testing::TestStore;
    use crate::{Backend, StoreError, StoreResult};

    fn insert(conn: &mut crate::DbConnection, name: &str) -> StoreResult<()> {
        diesel::sql_query("INSERT INTO probe (name) VALUES ($1)")
            .bind::<Text, _>(name)
            .execute(conn)?;
        Ok(())
    }

    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }

    fn names(db: &TestStore) -> Vec<String> {
        let mut names: Vec<String> = db
            .store
            .read(|conn| {
                Ok(diesel::sql_query("SELECT name FROM probe ORDER BY name").load::<Name>(conn)?)
            })
            .unwrap()
            .into_iter()
            .map(|row| row.name)
            .collect();
        names.sort();
        names
    }

    /// A SQLite store with a scratch table; `None` on PostgreSQL (no group commit there).
    fn sqlite_store() -> Option<TestStore> {
        let db = TestStore::new();
        if db.store.backend() != Backend::Sqlite {
            return None;
        }
        db.store
            .write(|conn| {
                diesel::sql_query("CREATE TABLE probe (name TEXT PRIMARY KEY)").execute(conn)?;
                Ok(())
            })
            .unwrap();
        Some(db)
    }

    /// Sixteen writers at once: each one's answer is its own, the failed ones' rows are gone,
    /// the others' rows are all there, and they shared commits.
    #[test]
    fn concurrent_writes_share_commits_and_keep_their_own_outcome() {
        let Some(db) = sqlite_store() else { return };
        let before = db.store.group_commit_counts().unwrap();
        let start = Barrier::new(16);
        let answers: Vec<(usize, Result<(), StoreError>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let (store, start) = (&db.store, &start);
                    scope.spawn(move || {
                        start.wait();
                        let answer = store.write(|conn| {
                            insert(conn, &format!("w{i:02}"))?;
                            // Long enough that the others queue behind this one.
                            std::thread::sleep(Duration::from_millis(5));
                            if i % 4 == 3 {
                                return Err(StoreError::NotFound { what: "probe" });
                            }
                            Ok(())
                        });
                        (i, answer)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (i, answer) in &answers {
            if i % 4 == 3 {
                assert!(
                    matches!(answer, Err(StoreError::NotFound { .. })),
                    "writer {i} gets its own error: {answer:?}"
                );
            } else {
                assert!(answer.is_ok(), "writer {i}: {answer:?}");
            }
        }
        let expected: Vec<String> = (0..16)
            .filter(|i| i % 4 != 3)
            .map(|i| format!("w{i:02}"))
            .collect();
        assert_eq!(names(&db), expected);
        let after = db.store.group_commit_counts().unwrap();
        assert_eq!(after.writes - before.writes, 12);
        assert!(
            after.commits - before.commits < 12,
            "12 writes took {} commits: none were shared",
            after.commits - before.commits
        );
    }

    /// A write that panics loses only its own changes, and the writer goes on working.
    #[test]
    fn a_panicking_write_loses_only_its_own_changes() {
        let Some(db) = sqlite_store() else { return };
        let start = Barrier::new(3);
        std::thread::scope(|scope| {
            let (store, start) = (&db.store, &start);
            let panicking = scope.spawn(move || {
                start.wait();
                store.write(|conn| -> StoreResult<()> {
                    insert(conn, "panicked")?;
                    std::thread::sleep(Duration::from_millis(10));
                    panic!("boom");
                })
            });
            let others: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|name| {
                    scope.spawn(move || {
                        start.wait();
                        store.write(|conn| insert(conn, name))
                    })
                })
                .collect();
            assert!(panicking.join().is_err(), "the panic reaches its caller");
            for other in others {
                other.join().unwrap().unwrap();
            }
        });
        db.store.write(|conn| insert(conn, "c")).unwrap();
        assert_eq!(names(&db), ["a", "b", "c"]);
    }
}
