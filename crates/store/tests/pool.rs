//! The pool's liveness checks on PostgreSQL (`db::PooledDb`): a connection back from use moments
//! ago is trusted without a ping, so the checks that keep a dead connection from being used
//! twice — the ping of an idle one at checkout, dropping a broken one on return — are tested
//! here against a real server that kills the pool's connections (`pg_terminate_backend`).
//! SQLite has no such checks and skips these tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use roster_store::domain::WorkspaceId;
use roster_store::testing::{TestStore, TEST_DATABASE_URL};
use roster_store::{PoolOptions, Store, StoreError};

fn on_postgres() -> bool {
    std::env::var(TEST_DATABASE_URL).is_ok_and(|url| !url.is_empty())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// The test database with a workspace, and a one-connection store on it whose connections are
/// named `name` in `pg_stat_activity`, with a separate connection to kill them with.
struct Setup {
    _db: TestStore,
    workspace_id: WorkspaceId,
    name: String,
    store: Store,
    admin: PgConnection,
}

/// `None` on SQLite, which has no pool checks to test.
fn setup(test: &str) -> Option<Setup> {
    if !on_postgres() {
        eprintln!("PostgreSQL only: skipped on SQLite");
        return None;
    }
    let db = TestStore::new();
    let workspace_id = db.workspace("acme").id;
    let name = format!("roster_{test}_{}", std::process::id());
    let options = PoolOptions {
        max_size: 1,
        ..PoolOptions::default()
    };
    let store = Store::open(&format!("{}&application_name={name}", db.url), &options).unwrap();
    let admin = PgConnection::establish(&db.url).unwrap();
    Some(Setup {
        _db: db,
        workspace_id,
        name,
        store,
        admin,
    })
}

/// Terminates the store's connections and waits until PostgreSQL has let them go.
fn kill_connections(admin: &mut PgConnection, name: &str) {
    let killed = diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS count FROM pg_stat_activity \
         WHERE application_name = $1",
    )
    .bind::<Text, _>(name)
    .get_result::<Count>(admin)
    .unwrap();
    assert_eq!(
        killed.count, 1,
        "the store's one connection was there to kill"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = diesel::sql_query(
            "SELECT count(*) AS count FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind::<Text, _>(name)
        .get_result::<Count>(admin)
        .unwrap();
        if left.count == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the connection did not go");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_connection_idle_past_the_trust_window_is_pinged_and_replaced() {
    let Some(mut t) = setup("idle") else { return };
    assert_eq!(
        t.store.workspace(t.workspace_id).unwrap().id,
        t.workspace_id
    );

    kill_connections(&mut t.admin, &t.name);
    std::thread::sleep(Duration::from_millis(600));
    // The checkout pings the idle connection, finds it dead and opens a new one: no failure.
    assert_eq!(
        t.store.workspace(t.workspace_id).unwrap().id,
        t.workspace_id
    );
}

#[test]
fn a_connection_found_dead_in_use_is_dropped_not_handed_out_again() {
    let Some(mut t) = setup("dead") else { return };
    let mut failures = 0;
    for _ in 0..5 {
        assert_eq!(
            t.store.workspace(t.workspace_id).unwrap().id,
            t.workspace_id
        );
        kill_connections(&mut t.admin, &t.name);
        // Back in the pool moments ago, the dead connection is trusted: this use may fail, as
        // an in-flight request does when the database goes away ...
        match t.store.workspace(t.workspace_id) {
            Ok(found) => assert_eq!(found.id, t.workspace_id),
            Err(err) => {
                assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
                failures += 1;
            }
        }
        // ... but never the next one: diesel reported the dead connection broken, so the pool
        // dropped it on return and opens a new one.
        assert_eq!(
            t.store.workspace(t.workspace_id).unwrap().id,
            t.workspace_id
        );
    }
    assert!(
        failures > 0,
        "a connection killed moments after its use was never trusted: the trust window is off"
    );
}
