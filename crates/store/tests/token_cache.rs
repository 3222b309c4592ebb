//! The cache of recently accepted SCIM tokens: it answers for the database for at most a second,
//! this process forgets a token the moment it revokes it (or its connection, or SCIM on it), a
//! second process on the same database (a replica) refuses it within the second, and an expiry
//! is checked at every request, cached or not. SQLite by default, PostgreSQL when
//! `TEST_DATABASE_URL` is set.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use roster_store::domain::{Actor, ConnectionId, Timestamp, TokenId, WorkspaceId};
use roster_store::testing::TestStore;
use roster_store::{PoolOptions, Store, StoreError};

/// Longer than the cache's lifetime (one second), with room for a slow machine.
const PAST_LIFETIME: Duration = Duration::from_millis(1_200);

/// A workspace `acme` with a SCIM connection and one token of it.
struct Issued {
    workspace: WorkspaceId,
    connection: ConnectionId,
    token_id: TokenId,
    secret: String,
}

fn issue(db: &TestStore, expires: Option<Timestamp>) -> Issued {
    let workspace = db.workspace("acme");
    let connection = db.scim_connection(workspace.id, "entra", true, false);
    let (info, secret) = db
        .store
        .create_scim_token(&Actor::Cli, workspace.id, connection.id, "t", expires)
        .unwrap();
    Issued {
        workspace: workspace.id,
        connection: connection.id,
        token_id: info.id,
        secret: secret.expose().to_owned(),
    }
}

/// Revokes the token through `db`'s store (one replica).
fn revoke(db: &TestStore, issued: &Issued) {
    db.store
        .revoke_scim_token(&Actor::Cli, issued.workspace, issued.token_id)
        .unwrap();
}

fn refused(store: &Store, secret: &str) -> bool {
    matches!(
        store.authenticate_scim_token(secret),
        Err(StoreError::Unauthorized)
    )
}

#[test]
fn an_accepted_token_is_answered_from_memory_until_revoked_here() {
    let db = TestStore::new();
    let issued = issue(&db, None);
    let secret = issued.secret.as_str();
    assert!(
        db.store.recently_authenticated_scim_token(secret).is_none(),
        "nothing is cached before the database accepted the token"
    );
    let wrong = format!("{secret}x");
    assert!(refused(&db.store, &wrong));
    assert!(
        db.store.recently_authenticated_scim_token(&wrong).is_none(),
        "a refused token is not kept"
    );

    db.store.authenticate_scim_token(secret).unwrap();
    let cached = db
        .store
        .recently_authenticated_scim_token(secret)
        .expect("kept after the database accepted it")
        .unwrap();
    assert_eq!(cached.token_id, issued.token_id);
    assert_eq!(cached.connection.id, issued.connection);
    assert_eq!(cached.connection.workspace_id, issued.workspace);

    revoke(&db, &issued);
    assert!(
        db.store.recently_authenticated_scim_token(secret).is_none(),
        "the revocation emptied the cache"
    );
    assert!(refused(&db.store, secret));
}

#[test]
fn switching_scim_off_or_revoking_the_connection_here_applies_to_the_next_request() {
    let db = TestStore::new();
    let Issued {
        workspace,
        connection,
        secret,
        ..
    } = issue(&db, None);
    db.store.authenticate_scim_token(&secret).unwrap();

    db.store
        .set_connection_scim(&Actor::Cli, workspace, connection, false)
        .unwrap();
    assert!(matches!(
        db.store.authenticate_scim_token(&secret),
        Err(StoreError::Forbidden { .. })
    ));
    db.store
        .set_connection_scim(&Actor::Cli, workspace, connection, true)
        .unwrap();
    db.store.authenticate_scim_token(&secret).unwrap();

    db.store
        .revoke_connection(&Actor::Cli, workspace, connection)
        .unwrap();
    assert!(db
        .store
        .recently_authenticated_scim_token(&secret)
        .is_none());
    assert!(db.store.authenticate_scim_token(&secret).is_err());
}

#[test]
fn a_replica_refuses_a_token_revoked_elsewhere_once_its_entry_ages_out() {
    let db = TestStore::new();
    let issued = issue(&db, None);
    let replica = Store::open(&db.url, &PoolOptions::default()).unwrap();
    replica.authenticate_scim_token(&issued.secret).unwrap();

    revoke(&db, &issued);
    std::thread::sleep(PAST_LIFETIME);
    assert!(replica
        .recently_authenticated_scim_token(&issued.secret)
        .is_none());
    assert!(refused(&replica, &issued.secret));
}

#[test]
fn with_the_cache_off_every_request_reads_the_token_and_replicas_agree_at_once() {
    let db = TestStore::new();
    let issued = issue(&db, None);
    let off = PoolOptions {
        scim_token_cache: Duration::ZERO,
        ..PoolOptions::default()
    };
    let replica = Store::open(&db.url, &off).unwrap();
    replica.authenticate_scim_token(&issued.secret).unwrap();
    assert!(
        replica
            .recently_authenticated_scim_token(&issued.secret)
            .is_none(),
        "nothing kept"
    );
    revoke(&db, &issued);
    assert!(refused(&replica, &issued.secret));
}

#[test]
fn a_token_that_expires_while_cached_is_refused() {
    let db = TestStore::new();
    let expires = Timestamp::from_micros(Timestamp::now().as_micros() + 300_000);
    let issued = issue(&db, Some(expires));
    let accepted = Instant::now();
    db.store.authenticate_scim_token(&issued.secret).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(accepted.elapsed() < Duration::from_secs(1), "still cached");
    assert!(matches!(
        db.store.recently_authenticated_scim_token(&issued.secret),
        Some(Err(StoreError::Unauthorized))
    ));
}
