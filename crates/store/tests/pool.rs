//! The pool's liveness checks on PostgreSQL (`db::PooledDb`): a connection back from use moments
//! ago is trusted without a ping, so the checks that keep a dead connection from being used
//! twice — the ping of an idle one at checkout, dropping a broken one on return — are tested
//! here against a real server that kills the pool's connections (`pg_terminate_backend`).
//! SQLite has no such checks and skips these tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
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

/// A one-connection store on the test database, its connections named `name` in
/// `pg_stat_activity`, and a separate connection to kill them with.
fn one_connection_store(db: &TestStore, name: &str) -> (Store, PgConnection) {
    let url = format!("{}&application_name={name}", db.url);
    let options = PoolOptions {
        max_size: 1,
        ..PoolOptions::default()
    };
    let store = Store::open(&url, &options).unwrap();
    let admin = PgConnection::establish(&db.url).unwrap();
    (store, admin)
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
    if !on_postgres() {
        eprintln!("PostgreSQL only: skipped on SQLite");
        return;
    }
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let name = format!("roster_idle_{}", std::process::id());
    let (store, mut admin) = one_connection_store(&db, &name);
    assert_eq!(store.workspace(workspace.id).unwrap().id, workspace.id);

    kill_connections(&mut admin, &name);
    std::thread::sleep(Duration::from_millis(600));
    // The checkout pings the idle connection, finds it dead and opens a new one: no failure.
    assert_eq!(store.workspace(workspace.id).unwrap().id, workspace.id);
}

#[test]
fn a_connection_found_dead_in_use_is_dropped_not_handed_out_again() {
    if !on_postgres() {
        eprintln!("PostgreSQL only: skipped on SQLite");
        return;
    }
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let name = format!("roster_failed_{}", std::process::id());
    let (store, mut admin) = one_connection_store(&db, &name);
    let mut failures = 0;
    for _ in 0..5 {
        assert_eq!(store.workspace(workspace.id).unwrap().id, workspace.id);
        kill_connections(&mut admin, &name);
        // Back in the pool moments ago, the dead connection is trusted: this use may fail, as
        // an in-flight request does when the database goes away ...
        match store.workspace(workspace.id) {
            Ok(found) => assert_eq!(found.id, workspace.id),
            Err(err) => {
                assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
                failures += 1;
            }
        }
        // ... but never the next one: diesel reported the dead connection broken, so the pool
        // dropped it on return and opens a new one.
        assert_eq!(store.workspace(workspace.id).unwrap().id, workspace.id);
    }
    assert!(
        failures > 0,
        "a connection killed moments after its use was never trusted: the trust window is off"
    );
}
