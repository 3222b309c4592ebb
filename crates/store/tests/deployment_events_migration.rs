//! The migration `2026-12-07-000030_deployment_events` on both backends, as `roster migrate` runs
//! it on an existing deployment: events, webhook endpoints, their deliveries and resends survive
//! it (SQLite rebuilds the tables), positions go on after the last one given out even when
//! retention emptied the feed, and afterwards a workspace's `workspace.deleted` event outlives it.
//! The test steps the migration back (its `down.sql`) and runs it again through diesel's
//! migration harness, on a connection with foreign keys on, as the server's are.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::backend::Backend as DieselBackend;
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Timestamp, UserName};
use roster_store::testing::TestStore;
use roster_store::{Backend, DatabaseUrl, NewWebhook, Store};

/// Steps the migration back and runs it again.
fn down_and_up<DB: DieselBackend>(conn: &mut impl MigrationHarness<DB>, folder: &str)
where
    FileBasedMigrations: MigrationSource<DB>,
{
    let dir = format!("{}/../../migrations/{folder}", env!("CARGO_MANIFEST_DIR"));
    let source = FileBasedMigrations::from_path(dir).unwrap();
    let migrations = source.migrations().unwrap();
    let migration = migrations
        .iter()
        .find(|m| m.name().to_string().ends_with("_deployment_events"))
        .expect("the migration");
    conn.revert_migration(migration.as_ref()).unwrap();
    conn.run_migration(migration.as_ref()).unwrap();
}

fn remigrate(db: &TestStore) {
    let url = DatabaseUrl::parse(&db.url).unwrap();
    match url.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::establish(&url.target).unwrap();
            conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                .unwrap();
            down_and_up(&mut conn, "sqlite");
        }
        Backend::Postgres => {
            let mut conn = PgConnection::establish(&url.target).unwrap();
            down_and_up(&mut conn, "postgres");
        }
    }
}

fn positions(store: &Store) -> Vec<i64> {
    store
        .deployment_events(None, 0, 1000, &[])
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

fn invite(store: &Store, workspace: roster_store::domain::WorkspaceId, name: &str) {
    let new = roster_store::NewUser::minimal(
        workspace,
        UserName::parse(name).unwrap(),
        roster_store::domain::Source::Invited,
    );
    store.create_user(&Actor::Cli, &new).unwrap();
}

#[test]
fn the_migration_keeps_every_row_and_position_and_then_events_outlive_their_workspace() {
    let db = TestStore::new();
    let acme = db.workspace("acme");
    let globex = db.workspace("globex");
    invite(&db.store, acme.id, "ann");
    invite(&db.store, globex.id, "gus");
    let endpoint = db
        .store
        .create_webhook(
            &Actor::Cli,
            acme.id,
            NewWebhook {
                url: "https://hooks.example.com/in",
                event_types: &["user.created".to_owned()],
                workspaces: &[],
                secret: "whsec_c2VjcmV0",
            },
        )
        .unwrap();
    invite(&db.store, acme.id, "bob");
    let before = positions(&db.store);
    assert_eq!(before.len(), 5, "{before:?}");
    let batch = db
        .store
        .claim_webhook_batches(60, 1, 10)
        .unwrap()
        .pop()
        .expect("due");
    assert_eq!(batch.deliveries.len(), 1, "bob's user.created");
    let delivered = batch.deliveries[0].event.clone();
    db.store
        .finish_webhook_batch(
            &batch,
            &[roster_store::DeliveryOutcome {
                status_code: Some(200),
                duration_ms: 3,
                error: None,
                retry_at: None,
                give_up: false,
            }],
        )
        .unwrap();
    db.store
        .resend_webhook_event(acme.id, &endpoint.id, &delivered.id)
        .unwrap();

    remigrate(&db);

    assert_eq!(positions(&db.store), before, "every event, at its position");
    let kept: Vec<_> = db
        .store
        .list_webhooks(acme.id)
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.workspace_id, e.url, e.event_types, e.cursor_seq))
        .collect();
    assert_eq!(
        kept,
        [(
            endpoint.id.clone(),
            Some(acme.id.to_string()),
            endpoint.url.clone(),
            endpoint.event_types.clone(),
            delivered.seq
        )]
    );
    let deliveries = db
        .store
        .webhook_deliveries(acme.id, &endpoint.id, 10)
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].event_id, delivered.id);
    let resend = db
        .store
        .claim_webhook_batches(60, 1, 10)
        .unwrap()
        .pop()
        .expect("the resend");
    let resent: Vec<_> = resend
        .deliveries
        .iter()
        .map(|d| (d.event.id.as_str(), d.resend_id.is_some()))
        .collect();
    assert_eq!(resent, [(delivered.id.as_str(), true)]);

    // Retention empties the feed; the next position still comes after every one given out.
    db.store.publish_events().unwrap();
    db.store
        .prune_events(Timestamp::now().plus_seconds(60))
        .unwrap();
    assert_eq!(positions(&db.store), Vec::<i64>::new());
    remigrate(&db);
    invite(&db.store, globex.id, "gina");
    let after = positions(&db.store);
    assert_eq!(after.len(), 1);
    assert!(after[0] > *before.last().unwrap(), "{after:?} {before:?}");

    // A deleted workspace's events go with it but its `workspace.deleted`.
    db.store.delete_workspace(&Actor::Cli, globex.id).unwrap();
    let left = db.store.deployment_events(None, 0, 1000, &[]).unwrap();
    let kept: Vec<(&str, &str)> = left
        .iter()
        .map(|e| (e.event_type.as_str(), e.workspace_id.as_str()))
        .collect();
    let globex_id = globex.id.to_string();
    assert_eq!(kept, [("workspace.deleted", globex_id.as_str())]);
    let message = left[0].message();
    assert_eq!(message.workspace_slug.as_deref(), Some("globex"));
    assert!(left[0].seq > after[0]);
}
