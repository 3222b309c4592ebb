//! The migration `2026-12-06-000001_scrub_scim_secrets` on both backends: rows an earlier build
//! wrote with a SCIM password in their stored attributes lose it under every spelling, and keep
//! everything else. The test stores such rows, steps the migration back, and runs it again
//! through diesel's migration harness, as `roster migrate` does on an upgraded database.

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
use roster_store::domain::{Actor, Source, UserName};
use roster_store::testing::TestStore;
use roster_store::{Backend, DatabaseUrl, NewUser};
use serde_json::{json, Value};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// (stored attributes before, the same after the migration)
fn rows() -> Vec<(Value, Value)> {
    vec![
        (
            json!({format!("{CORE}:password"): "secret-1", "nickName": "n"}),
            json!({"nickName": "n"}),
        ),
        (
            json!({format!("{CORE}:password").to_uppercase(): "secret-2",
                   "phoneNumbers": [{"value": "+1 555", "primary": true}]}),
            json!({"phoneNumbers": [{"value": "+1 555", "primary": true}]}),
        ),
        (
            json!({CORE: {"password": "secret-3", "title": "t"}, "n": 1.5, "b": false, "z": null,
                   "o": {"deep": [1, {"x": true}]}}),
            json!({CORE: {"title": "t"}, "n": 1.5, "b": false, "z": null,
                   "o": {"deep": [1, {"x": true}]}}),
        ),
        (
            json!({"Password": "secret-4", "password.value": "secret-5",
                   CORE.to_lowercase(): {format!("{CORE}:PassWord"): "secret-6"}}),
            json!({CORE.to_lowercase(): {}}),
        ),
        // Not a password: kept as it is.
        (
            json!({"nickName": "password", ENTERPRISE: {"password": "the extension's own"},
                   "name": {"password": "a sub-attribute of another attribute"}}),
            json!({"nickName": "password", ENTERPRISE: {"password": "the extension's own"},
                   "name": {"password": "a sub-attribute of another attribute"}}),
        ),
        (json!({}), json!({})),
    ]
}

/// Steps the scrub migration back and runs it again (its `down.sql` restores nothing).
fn rerun_scrub<DB: DieselBackend>(conn: &mut impl MigrationHarness<DB>, folder: &str)
where
    FileBasedMigrations: MigrationSource<DB>,
{
    let dir = format!("{}/../../migrations/{folder}", env!("CARGO_MANIFEST_DIR"));
    let source = FileBasedMigrations::from_path(dir).unwrap();
    let migrations = source.migrations().unwrap();
    let scrub = migrations
        .iter()
        .find(|m| m.name().to_string().ends_with("_scrub_scim_secrets"))
        .expect("the scrub migration");
    conn.revert_migration(scrub.as_ref()).unwrap();
    conn.run_migration(scrub.as_ref()).unwrap();
}

#[test]
fn the_scrub_migration_removes_stored_scim_passwords() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let mut stored = Vec::new();
    for (n, (before, after)) in rows().into_iter().enumerate() {
        let mut new = NewUser::minimal(
            workspace.id,
            UserName::parse(&format!("user{n}")).unwrap(),
            Source::Scim,
        );
        new.scim_attributes = before.to_string();
        let user = db.store.create_user(&Actor::Cli, &new).unwrap();
        assert_eq!(
            db.store
                .user(workspace.id, user.id)
                .unwrap()
                .scim_attributes,
            new.scim_attributes
        );
        stored.push((user, after));
    }
    let url = DatabaseUrl::parse(&db.url).unwrap();
    match url.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::establish(&url.target).unwrap();
            conn.batch_execute("PRAGMA busy_timeout = 10000").unwrap();
            rerun_scrub(&mut conn, "sqlite");
        }
        Backend::Postgres => {
            let mut conn = PgConnection::establish(&url.target).unwrap();
            rerun_scrub(&mut conn, "postgres");
        }
    }
    for (user, want) in stored {
        let now = db.store.user(workspace.id, user.id).unwrap();
        assert!(
            !now.scim_attributes.contains("secret-"),
            "{}",
            now.scim_attributes
        );
        let got: Value = serde_json::from_str(&now.scim_attributes).unwrap();
        assert_eq!(got, want, "{}", user.user_name);
        assert_eq!(
            now.version, user.version,
            "the resource a client sees did not change"
        );
    }
}
