//! Domains with proof against a real database (SQLite, and PostgreSQL when `TEST_DATABASE_URL`
//! is set): a domain is verified by one workspace at most, only a verified domain routes
//! `login_hint` discovery, public mail domains are refused, and the upgrade migration turns the
//! domains workspaces and connections listed before into verified records, noted in the audit
//! log. The DNS side is tested in crates/server/tests/domains against a real DNS server; here the
//! check's outcome is given.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::backend::Backend as DieselBackend;
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection as _;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use pretty_assertions::assert_eq;
use roster_store::domain::domain_proof::{Check, DomainState, Trigger};
use roster_store::domain::{
    Actor, ConnectionKind, DisplayName, Domain, GroupSync, ProfileSync, Vendor, Workspace,
};
use roster_store::testing::TestStore;
use roster_store::{Backend, DatabaseUrl, NewConnection, Store, StoreError};

fn domain(name: &str) -> Domain {
    Domain::parse(name).unwrap()
}

fn connection(store: &Store, workspace: &Workspace, name: &str, domains: &[&str]) {
    store
        .create_connection(
            &Actor::Cli,
            NewConnection {
                workspace_id: workspace.id,
                name: DisplayName::parse(name).unwrap(),
                kind: ConnectionKind::Oidc,
                vendor: Vendor::Generic,
                protocol_config: "{}".to_owned(),
                domains: domains.iter().map(|d| domain(d)).collect(),
                scim_enabled: false,
                profile_sync: ProfileSync::FirstLogin,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap();
}

fn verify(store: &Store, workspace: &Workspace, name: &str) -> Result<DomainState, StoreError> {
    let record = store.workspace_domain(workspace.id, &domain(name))?;
    store
        .record_domain_check(
            &Actor::Cli,
            workspace.id,
            &domain(name),
            &record.challenge,
            Check::Found,
            Trigger::Request,
        )
        .map(|d| d.state)
}

#[test]
fn a_domain_is_verified_by_one_workspace_at_most() {
    let db = TestStore::new();
    let (acme, globex) = (db.workspace("acme"), db.workspace("globex"));
    for ws in [&acme, &globex] {
        let added = db
            .store
            .add_domain(&Actor::Cli, ws.id, &domain("corp.example"))
            .unwrap();
        assert_eq!(added.state, DomainState::Pending);
        assert_eq!(added.record_name(), "_roster-challenge.corp.example");
    }
    assert_eq!(
        verify(&db.store, &acme, "corp.example").unwrap(),
        DomainState::Verified
    );
    let err = verify(&db.store, &globex, "corp.example").unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(
        err.to_string().contains("verified by another workspace"),
        "{err}"
    );
    // Nothing changed for the loser.
    let still = db
        .store
        .workspace_domain(globex.id, &domain("corp.example"))
        .unwrap();
    assert_eq!((still.state, still.attempts), (DomainState::Pending, 0));
    // In the background the same finding counts as a wrong record.
    let background = db
        .store
        .record_domain_check(
            &Actor::System,
            globex.id,
            &domain("corp.example"),
            &still.challenge,
            Check::Found,
            Trigger::Background,
        )
        .unwrap();
    assert_eq!(background.state, DomainState::Pending);
    assert_eq!(background.last_check.as_deref(), Some("wrong"));
    // Once the holder lets it go, the other workspace can verify it.
    db.store
        .delete_domain(&Actor::Cli, acme.id, &domain("corp.example"))
        .unwrap();
    assert_eq!(
        verify(&db.store, &globex, "corp.example").unwrap(),
        DomainState::Verified
    );
    // The same workspace cannot add a domain twice.
    let twice = db
        .store
        .add_domain(&Actor::Cli, globex.id, &domain("corp.example"));
    assert!(
        matches!(twice, Err(StoreError::Conflict { .. })),
        "{twice:?}"
    );
}

#[test]
fn public_mail_domains_are_refused_and_nothing_is_written() {
    let db = TestStore::new();
    let acme = db.workspace("acme");
    for name in [
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
    ] {
        let err = db
            .store
            .add_domain(&Actor::Cli, acme.id, &domain(name))
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{name}: {err:?}");
        assert!(err.to_string().contains("public mail domain"), "{err}");
    }
    assert!(db.store.list_domains(acme.id).unwrap().is_empty());
}

#[test]
fn only_a_verified_domain_routes_discovery() {
    let db = TestStore::new();
    let (acme, globex) = (db.workspace("acme"), db.workspace("globex"));
    connection(&db.store, &acme, "corp", &["corp.example"]);
    // Another workspace lists the same domain on its connection without proving it.
    connection(&db.store, &globex, "squatter", &["corp.example"]);
    assert!(db
        .store
        .connections_for_domain("corp.example")
        .unwrap()
        .is_empty());
    db.store
        .add_domain(&Actor::Cli, acme.id, &domain("corp.example"))
        .unwrap();
    assert!(
        db.store
            .connections_for_domain("corp.example")
            .unwrap()
            .is_empty(),
        "a pending domain routes nothing"
    );
    verify(&db.store, &acme, "corp.example").unwrap();
    let found = db.store.connections_for_domain("corp.example").unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].workspace_id, acme.id,
        "only the workspace that proved it"
    );
    // A failed re-check takes it away again.
    let record = db
        .store
        .workspace_domain(acme.id, &domain("corp.example"))
        .unwrap();
    let failed = db
        .store
        .record_domain_check(
            &Actor::Cli,
            acme.id,
            &domain("corp.example"),
            &record.challenge,
            Check::Missing,
            Trigger::Request,
        )
        .unwrap();
    assert_eq!(failed.state, DomainState::Failed);
    assert!(db
        .store
        .connections_for_domain("corp.example")
        .unwrap()
        .is_empty());
}

/// Steps the domain migration back and runs it again, as `roster migrate` does on a database
/// of the previous release.
fn rerun_domain_migration<DB: DieselBackend>(conn: &mut impl MigrationHarness<DB>, folder: &str)
where
    FileBasedMigrations: MigrationSource<DB>,
{
    let dir = format!("{}/../../migrations/{folder}", env!("CARGO_MANIFEST_DIR"));
    let source = FileBasedMigrations::from_path(dir).unwrap();
    let migrations = source.migrations().unwrap();
    let migration = migrations
        .iter()
        .find(|m| m.name().to_string().ends_with("_domain_verification"))
        .expect("the domain migration");
    conn.revert_migration(migration.as_ref()).unwrap();
    conn.run_migration(migration.as_ref()).unwrap();
}

#[test]
fn the_upgrade_turns_existing_domains_into_verified_records() {
    let db = TestStore::new();
    let (acme, globex) = (db.workspace("acme"), db.workspace("globex"));
    // As the previous release stored them: domains on workspaces and connections, no records.
    connection(
        &db.store,
        &globex,
        "corp",
        &["globex.example", "shared.example"],
    );
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let listed = format!(
        "UPDATE workspaces SET domains = '[\"acme.example\",\"shared.example\"]' WHERE id = '{}'",
        acme.id
    );
    match url.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::establish(&url.target).unwrap();
            conn.batch_execute("PRAGMA busy_timeout = 10000").unwrap();
            conn.batch_execute(&listed).unwrap();
            rerun_domain_migration(&mut conn, "sqlite");
        }
        Backend::Postgres => {
            let mut conn = PgConnection::establish(&url.target).unwrap();
            conn.batch_execute(&listed).unwrap();
            rerun_domain_migration(&mut conn, "postgres");
        }
    }
    let states = |ws: &Workspace| -> Vec<(String, DomainState)> {
        db.store
            .list_domains(ws.id)
            .unwrap()
            .into_iter()
            .map(|d| (d.domain.to_string(), d.state))
            .collect()
    };
    assert_eq!(
        states(&acme),
        vec![
            ("acme.example".to_owned(), DomainState::Verified),
            ("shared.example".to_owned(), DomainState::Verified),
        ]
    );
    // The younger workspace listed a domain the older one holds: it has to prove it.
    assert_eq!(
        states(&globex),
        vec![
            ("globex.example".to_owned(), DomainState::Verified),
            ("shared.example".to_owned(), DomainState::Pending),
        ]
    );
    // Each record is noted in the audit log by `system`.
    let notes: Vec<(String, String, String)> = db
        .store
        .audit_events(globex.id, None, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "domain.migrated")
        .map(|e| (e.actor_kind, e.target_id, e.detail))
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes.iter().all(|(actor, _, _)| actor == "system"));
    let shared = notes
        .iter()
        .find(|(_, target, _)| target == "shared.example")
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&shared.2).unwrap();
    assert_eq!(detail["state"], "pending");
    assert!(detail["note"]
        .as_str()
        .unwrap()
        .contains("another workspace"));
    // The migrated domain routes discovery as before the upgrade.
    let found = db.store.connections_for_domain("globex.example").unwrap();
    assert_eq!(found.len(), 1);
    // And an operator-declared domain is verified at creation.
    let declared = db
        .store
        .create_workspace(
            &Actor::Cli,
            roster_store::NewWorkspace {
                slug: roster_store::domain::Slug::parse("initech").unwrap(),
                name: "Initech".to_owned(),
                domains: vec![domain("initech.example")],
            },
        )
        .unwrap();
    assert_eq!(
        states(&declared),
        vec![("initech.example".to_owned(), DomainState::Verified)]
    );
}

/// Two background checkers (replicas) never check the same domain at once: the first claim
/// takes it, the second finds nothing until the claim runs out.
#[test]
fn a_due_domain_is_claimed_by_one_checker() {
    let db = TestStore::new();
    let acme = db.workspace("acme");
    db.store
        .add_domain(&Actor::Cli, acme.id, &domain("corp.example"))
        .unwrap();
    let now = roster_store::domain::Timestamp::now();
    assert!(
        db.store.claim_due_domains(now, 10).unwrap().is_empty(),
        "not due yet"
    );
    let later = now.plus_seconds(61);
    let first = db.store.claim_due_domains(later, 10).unwrap();
    assert_eq!(first.len(), 1);
    assert!(db.store.claim_due_domains(later, 10).unwrap().is_empty());
    let after_the_claim = later.plus_seconds(roster_store::CLAIM_SECS);
    assert_eq!(
        db.store
            .claim_due_domains(after_the_claim, 10)
            .unwrap()
            .len(),
        1
    );
}
