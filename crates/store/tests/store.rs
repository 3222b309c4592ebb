//! Store tests against a real database: SQLite by default, PostgreSQL when `TEST_DATABASE_URL`
//! is set (`cargo xtask test` runs both).

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};

use pretty_assertions::assert_eq;
use roster_store::domain::{
    Actor, ConnectionKind, ConnectionStatus, DisplayName, Email, GroupKind, GroupSync, Lifecycle,
    LifecycleEvent, ProfileSync, Provenance, RoleName, Slug, Source, Timestamp, UserName, Vendor,
    WorkspaceId,
};
use roster_store::testing::TestStore;
use roster_store::{NewConnection, NewGroup, NewUser, NewWorkspace, Store, StoreError};

fn scim_connection(
    db: &TestStore,
    workspace_id: WorkspaceId,
    name: &str,
    scim_enabled: bool,
) -> roster_store::domain::Connection {
    db.scim_connection(workspace_id, name, scim_enabled, false)
}

fn new_user(workspace_id: WorkspaceId, user_name: &str) -> NewUser {
    NewUser::minimal(
        workspace_id,
        UserName::parse(user_name).unwrap(),
        Source::Scim,
    )
}

fn audit_actions(store: &Store, workspace_id: WorkspaceId) -> Vec<String> {
    store
        .audit_events(workspace_id, None, 1000)
        .unwrap()
        .into_iter()
        .map(|event| event.action)
        .collect()
}

#[test]
fn migrations_are_idempotent() {
    let db = TestStore::new();
    assert_eq!(db.store.migrate().unwrap(), Vec::<String>::new());
    db.store.check_ready().unwrap();
}

#[test]
fn workspace_gets_default_roles_and_slug_is_unique() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    assert_eq!(db.store.workspace_by_slug("acme").unwrap(), workspace);
    assert_eq!(workspace.default_role.as_str(), "member");
    let roles: Vec<(String, i32)> = db
        .store
        .list_roles(workspace.id)
        .unwrap()
        .into_iter()
        .map(|role| (role.name.to_string(), role.rank))
        .collect();
    assert_eq!(roles, vec![("admin".into(), 100), ("member".into(), 0)]);

    let again = db.store.create_workspace(
        &Actor::Cli,
        NewWorkspace {
            slug: Slug::parse("acme").unwrap(),
            name: "Other".into(),
            domains: vec![],
        },
    );
    assert!(
        matches!(
            again,
            Err(StoreError::Conflict {
                what: "workspace",
                ..
            })
        ),
        "{again:?}"
    );
    assert_eq!(db.store.list_workspaces().unwrap().len(), 1);
    assert!(matches!(
        db.store.workspace_by_slug("nope"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn concurrent_creates_of_one_user_name_yield_one_row_and_typed_conflicts() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let store = db.store.clone();
            let barrier = barrier.clone();
            // The same name in different letter cases: one user, case-insensitively.
            let name = if i % 2 == 0 {
                "Alice@Example.com"
            } else {
                "alice@example.COM"
            };
            std::thread::spawn(move || {
                barrier.wait();
                store.create_user(&Actor::Cli, &new_user(workspace.id, name))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let created = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict { what: "user", detail }) if detail.contains("userName")))
        .count();
    assert_eq!((created, conflicts), (1, threads - 1), "{results:?}");
    assert_eq!(db.store.count_users(workspace.id).unwrap(), 1);
    let created_events = audit_actions(&db.store, workspace.id)
        .into_iter()
        .filter(|action| action == "user.created")
        .count();
    assert_eq!(created_events, 1, "a refused create writes no audit event");
}

#[test]
fn user_name_is_unique_per_workspace_only() {
    let db = TestStore::new();
    let acme = db.workspace("acme");
    let globex = db.workspace("globex");
    db.store
        .create_user(&Actor::Cli, &new_user(acme.id, "bob"))
        .unwrap();
    db.store
        .create_user(&Actor::Cli, &new_user(globex.id, "BOB"))
        .unwrap();
    let dup = db.store.create_user(&Actor::Cli, &new_user(acme.id, "Bob"));
    assert!(
        matches!(dup, Err(StoreError::Conflict { what: "user", .. })),
        "{dup:?}"
    );
    let found = db.store.user_by_user_name(acme.id, "BOB").unwrap();
    assert_eq!(found.user_name.as_str(), "bob", "kept as first sent");
    assert!(
        matches!(
            db.store.user(globex.id, found.id),
            Err(StoreError::NotFound { what: "user" })
        ),
        "a user of one workspace is invisible from another"
    );
}

#[test]
fn external_id_is_unique_per_connection() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let entra = scim_connection(&db, workspace.id, "entra", true);
    let okta = scim_connection(&db, workspace.id, "okta", true);
    let with_external = |name: &str, connection| NewUser {
        external_id: Some("ext-1".into()),
        managing_connection_id: Some(connection),
        ..new_user(workspace.id, name)
    };
    db.store
        .create_user(&Actor::Cli, &with_external("a", entra.id))
        .unwrap();
    db.store
        .create_user(&Actor::Cli, &with_external("b", okta.id))
        .unwrap();
    let dup = db
        .store
        .create_user(&Actor::Cli, &with_external("c", entra.id));
    match dup {
        Err(StoreError::Conflict {
            what: "user",
            detail,
        }) => assert!(detail.contains("externalId"), "{detail}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(db.store.count_users(workspace.id).unwrap(), 2);
}

#[test]
fn user_fields_round_trip() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let new = NewUser {
        email: Some(Email::parse("Carol@Example.com").unwrap()),
        given_name: Some("Carol".into()),
        family_name: Some("Jones".into()),
        display_name: Some("Carol Jones".into()),
        external_id: Some("00u1".into()),
        active: false,
        scim_attributes: r#"{"title":"Engineer"}"#.into(),
        ..new_user(workspace.id, "carol")
    };
    let user = db.store.create_user(&Actor::Cli, &new).unwrap();
    assert_eq!(
        user.email.as_ref().map(Email::as_str),
        Some("Carol@Example.com")
    );
    assert_eq!(user.given_name.as_deref(), Some("Carol"));
    assert_eq!(user.lifecycle, Lifecycle::Deactivated);
    assert_eq!(user.source, Source::Scim);
    assert_eq!((user.version, user.session_epoch), (1, 0));
    assert_eq!(user.scim_attributes, r#"{"title":"Engineer"}"#);
    assert_eq!(db.store.user(workspace.id, user.id).unwrap(), user);
}

#[test]
fn lifecycle_changes_bump_version_and_revoke_sessions_when_leaving_active() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let user = db
        .store
        .create_user(&Actor::Cli, &new_user(workspace.id, "dave"))
        .unwrap();

    let off = db
        .store
        .change_lifecycle(
            &Actor::Cli,
            workspace.id,
            user.id,
            LifecycleEvent::Deactivate,
        )
        .unwrap();
    assert_eq!(
        (off.lifecycle, off.version, off.session_epoch),
        (Lifecycle::Deactivated, 2, 1)
    );

    let repeat = db
        .store
        .change_lifecycle(
            &Actor::Cli,
            workspace.id,
            user.id,
            LifecycleEvent::Deactivate,
        )
        .unwrap();
    assert_eq!(repeat, off, "repeating an event changes nothing");

    let on = db
        .store
        .change_lifecycle(
            &Actor::Cli,
            workspace.id,
            user.id,
            LifecycleEvent::Reactivate,
        )
        .unwrap();
    assert_eq!(
        (on.lifecycle, on.version, on.session_epoch),
        (Lifecycle::Active, 3, 1)
    );

    let gone = db
        .store
        .change_lifecycle(
            &Actor::Cli,
            workspace.id,
            user.id,
            LifecycleEvent::Deprovision,
        )
        .unwrap();
    assert_eq!(
        (gone.lifecycle, gone.session_epoch),
        (Lifecycle::Deprovisioned, 2)
    );

    let refused = db.store.change_lifecycle(
        &Actor::Cli,
        workspace.id,
        user.id,
        LifecycleEvent::Reactivate,
    );
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(
        db.store.user(workspace.id, user.id).unwrap(),
        gone,
        "a refused transition changes nothing"
    );

    let back = db
        .store
        .change_lifecycle(
            &Actor::Cli,
            workspace.id,
            user.id,
            LifecycleEvent::Reprovision { active: true },
        )
        .unwrap();
    assert_eq!(back.lifecycle, Lifecycle::Active);
    // A re-provisioning is recorded as a SCIM re-POST records it (`Lifecycle::plan`): audited
    // `user.reprovisioned`, announced as `user.updated` (`lifecycle`) and `user.reactivated`.
    assert_eq!(
        audit_actions(&db.store, workspace.id),
        vec![
            "workspace.created",
            "user.created",
            "user.deactivated",
            "user.reactivated",
            "user.deprovisioned",
            "user.reprovisioned",
        ]
    );
    let events: Vec<(String, Option<String>)> = db
        .store
        .events(workspace.id, 0, 1000, &[])
        .unwrap()
        .into_iter()
        .map(|event| (event.event_type, event.changed))
        .collect();
    let event = |event_type: &str, changed: Option<&str>| {
        (event_type.to_owned(), changed.map(str::to_owned))
    };
    assert_eq!(
        events,
        vec![
            event("workspace.created", None),
            event("user.created", None),
            event("user.deactivated", None),
            event("session.revoked", None),
            event("user.reactivated", None),
            event("user.deprovisioned", None),
            event("session.revoked", None),
            event("user.updated", Some(r#"["lifecycle"]"#)),
            event("user.reactivated", None),
        ]
    );
}

#[test]
fn scim_tokens_authenticate_until_revoked_or_expired() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let connection = scim_connection(&db, workspace.id, "entra", true);
    let (info, secret) = db
        .store
        .create_scim_token(&Actor::Cli, workspace.id, connection.id, "primary", None)
        .unwrap();
    assert!(secret.expose().starts_with("rsct_"));
    assert_eq!(info.hint, secret.hint());

    let principal = db.store.authenticate_scim_token(secret.expose()).unwrap();
    assert_eq!(principal.connection.id, connection.id);
    assert_eq!(principal.token_id, info.id);
    assert!(
        principal.last_used_stale,
        "a token never used is due a touch"
    );
    let listed = db
        .store
        .list_scim_tokens(workspace.id, connection.id)
        .unwrap();
    assert!(
        listed[0].last_used_at.is_none(),
        "authentication itself writes nothing"
    );
    db.store.touch_scim_token(principal.token_id).unwrap();
    let listed = db
        .store
        .list_scim_tokens(workspace.id, connection.id)
        .unwrap();
    assert!(listed[0].last_used_at.is_some(), "use is recorded");
    let again = db.store.authenticate_scim_token(secret.expose()).unwrap();
    assert!(!again.last_used_stale, "not due again within the minute");

    let wrong = format!("{}x", secret.expose());
    assert!(matches!(
        db.store.authenticate_scim_token(&wrong),
        Err(StoreError::Unauthorized)
    ));
    assert!(matches!(
        db.store.authenticate_scim_token(""),
        Err(StoreError::Unauthorized)
    ));

    let other = db.workspace("globex");
    assert!(
        matches!(
            db.store.revoke_scim_token(&Actor::Cli, other.id, info.id),
            Err(StoreError::NotFound { .. })
        ),
        "another workspace cannot revoke it"
    );
    assert!(db.store.authenticate_scim_token(secret.expose()).is_ok());

    db.store
        .revoke_scim_token(&Actor::Cli, workspace.id, info.id)
        .unwrap();
    assert!(matches!(
        db.store.authenticate_scim_token(secret.expose()),
        Err(StoreError::Unauthorized)
    ));

    let past = Timestamp::now().plus_seconds(-1);
    let (_, expired) = db
        .store
        .create_scim_token(&Actor::Cli, workspace.id, connection.id, "old", Some(past))
        .unwrap();
    assert!(matches!(
        db.store.authenticate_scim_token(expired.expose()),
        Err(StoreError::Unauthorized)
    ));

    let actions = audit_actions(&db.store, workspace.id);
    assert!(actions.contains(&"scim_token.created".to_owned()));
    assert!(actions.contains(&"scim_token.revoked".to_owned()));
    let details: String = db
        .store
        .audit_events(workspace.id, None, 100)
        .unwrap()
        .into_iter()
        .map(|event| event.detail)
        .collect();
    assert!(
        !details.contains(secret.expose()),
        "no secret in the audit trail"
    );
}

#[test]
fn scim_token_of_a_disabled_connection_is_forbidden() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let connection = scim_connection(&db, workspace.id, "saml-only", false);
    let (_, secret) = db
        .store
        .create_scim_token(&Actor::Cli, workspace.id, connection.id, "t", None)
        .unwrap();
    assert!(matches!(
        db.store.authenticate_scim_token(secret.expose()),
        Err(StoreError::Forbidden { .. })
    ));
}

#[test]
fn tokens_only_for_connections_of_the_workspace() {
    let db = TestStore::new();
    let acme = db.workspace("acme");
    let globex = db.workspace("globex");
    let connection = scim_connection(&db, acme.id, "entra", true);
    let refused = db
        .store
        .create_scim_token(&Actor::Cli, globex.id, connection.id, "t", None);
    assert!(
        matches!(refused, Err(StoreError::NotFound { what: "connection" })),
        "{refused:?}"
    );
    assert!(db
        .store
        .list_scim_tokens(acme.id, connection.id)
        .unwrap()
        .is_empty());
}

#[test]
fn connection_names_are_unique_per_workspace() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    scim_connection(&db, workspace.id, "Entra", true);
    let result = db.store.create_connection(
        &Actor::Cli,
        NewConnection {
            workspace_id: workspace.id,
            name: DisplayName::parse("entra").unwrap(),
            kind: ConnectionKind::Saml,
            vendor: Vendor::Entra,
            protocol_config: "{}".into(),
            domains: vec![],
            scim_enabled: false,
            profile_sync: ProfileSync::FirstLogin,
            group_sync: GroupSync::Off,
            strict_immutability: false,
        },
    );
    assert!(
        matches!(
            result,
            Err(StoreError::Conflict {
                what: "connection",
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(
        db.store
            .connection_by_name(workspace.id, "ENTRA")
            .unwrap()
            .kind,
        ConnectionKind::Scim
    );
}

fn saml_connection(workspace_id: WorkspaceId, name: &str, scim_enabled: bool) -> NewConnection {
    NewConnection {
        workspace_id,
        name: DisplayName::parse(name).unwrap(),
        kind: ConnectionKind::Saml,
        vendor: Vendor::Okta,
        protocol_config: r#"{"idp_metadata_xml": ""}"#.into(),
        domains: vec![],
        scim_enabled,
        profile_sync: ProfileSync::FirstLogin,
        group_sync: GroupSync::Off,
        strict_immutability: false,
    }
}

#[test]
fn a_draft_connection_is_stored_serves_scim_and_becomes_active_with_its_settings() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let draft = db
        .store
        .create_connection_in(
            &Actor::Cli,
            saml_connection(workspace.id, "okta", true),
            ConnectionStatus::Draft,
        )
        .unwrap();
    assert_eq!(draft.status, ConnectionStatus::Draft);
    let read = db.store.connection(workspace.id, draft.id).unwrap();
    assert_eq!(read, draft);
    assert_eq!(
        db.store.list_connections(workspace.id).unwrap()[0].status,
        ConnectionStatus::Draft
    );
    // Its SCIM works before its logins do.
    let (_, secret) = db
        .store
        .create_scim_token(&Actor::Cli, workspace.id, draft.id, "t", None)
        .unwrap();
    assert!(db.store.authenticate_scim_token(secret.expose()).is_ok());
    assert_eq!(db.store.scim_status(workspace.id).unwrap().len(), 1);

    // Only a SAML connection can be a draft, and nothing is created revoked.
    for (kind, status) in [
        (ConnectionKind::Oidc, ConnectionStatus::Draft),
        (ConnectionKind::Scim, ConnectionStatus::Draft),
        (ConnectionKind::Saml, ConnectionStatus::Revoked),
    ] {
        let refused = db.store.create_connection_in(
            &Actor::Cli,
            NewConnection {
                kind,
                ..saml_connection(workspace.id, "other", false)
            },
            status,
        );
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{kind:?} {status:?}: {refused:?}"
        );
    }
    assert_eq!(db.store.list_connections(workspace.id).unwrap().len(), 1);

    // Validated settings make it active, with an event saying so (and an audit detail).
    let active = db
        .store
        .update_connection_config(
            &Actor::Cli,
            workspace.id,
            draft.id,
            r#"{"idp_metadata_xml": "<md/>"}"#,
        )
        .unwrap();
    assert_eq!(active.status, ConnectionStatus::Active);
    assert_eq!(
        db.store.connection_by_id(draft.id).unwrap().status,
        ConnectionStatus::Active
    );
    let events = db
        .store
        .events(workspace.id, 0, 100, &["connection.updated".to_owned()])
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].changed.as_deref(), Some(r#"["status"]"#));
    assert!(
        events[0].resource.contains(r#""status":"active""#),
        "{}",
        events[0].resource
    );
    // Settings changed again: no status change, no event.
    db.store
        .update_connection_config(
            &Actor::Cli,
            workspace.id,
            draft.id,
            r#"{"idp_metadata_xml": "<md2/>"}"#,
        )
        .unwrap();
    assert_eq!(
        db.store
            .events(workspace.id, 0, 100, &["connection.updated".to_owned()])
            .unwrap()
            .len(),
        1
    );

    // A draft revoked is revoked (not a draft, not active).
    let second = db
        .store
        .create_connection_in(
            &Actor::Cli,
            saml_connection(workspace.id, "entra", false),
            ConnectionStatus::Draft,
        )
        .unwrap();
    db.store
        .revoke_connection(&Actor::Cli, workspace.id, second.id)
        .unwrap();
    assert_eq!(
        db.store.connection(workspace.id, second.id).unwrap().status,
        ConnectionStatus::Revoked
    );
}

#[test]
fn groups_memberships_and_roles() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let user = db
        .store
        .create_user(&Actor::Cli, &new_user(workspace.id, "erin"))
        .unwrap();
    let new_group = |name: &str| NewGroup {
        workspace_id: workspace.id,
        kind: GroupKind::App,
        display_name: DisplayName::parse(name).unwrap(),
        connection_id: None,
        external_id: None,
        scim_attributes: "{}".into(),
    };
    let group = db
        .store
        .create_group(&Actor::Cli, &new_group("Engineering"))
        .unwrap();
    let dup = db
        .store
        .create_group(&Actor::Cli, &new_group("engineering"));
    assert!(
        matches!(dup, Err(StoreError::Conflict { what: "group", .. })),
        "{dup:?}"
    );

    assert!(db
        .store
        .add_group_member(
            &Actor::Cli,
            workspace.id,
            group.id,
            user.id,
            Provenance::Manual
        )
        .unwrap());
    assert!(!db
        .store
        .add_group_member(
            &Actor::Cli,
            workspace.id,
            group.id,
            user.id,
            Provenance::Manual
        )
        .unwrap());
    assert!(db
        .store
        .add_group_member(
            &Actor::Cli,
            workspace.id,
            group.id,
            user.id,
            Provenance::Idp
        )
        .unwrap());
    let groups = db.store.groups_of_user(workspace.id, user.id).unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|g| g.display_name.as_str())
            .collect::<Vec<_>>(),
        vec!["Engineering"]
    );

    let steward = db
        .store
        .create_role(
            &Actor::Cli,
            workspace.id,
            &RoleName::parse("steward").unwrap(),
            50,
        )
        .unwrap();
    let dup_role = db.store.create_role(
        &Actor::Cli,
        workspace.id,
        &RoleName::parse("STEWARD").unwrap(),
        1,
    );
    assert!(
        matches!(dup_role, Err(StoreError::Conflict { what: "role", .. })),
        "{dup_role:?}"
    );
    db.store
        .assign_role(&Actor::Cli, workspace.id, user.id, "steward")
        .unwrap();
    db.store
        .assign_role(&Actor::Cli, workspace.id, user.id, "steward")
        .unwrap();
    assert_eq!(
        db.store.direct_roles(workspace.id, user.id).unwrap(),
        vec![steward]
    );
    assert!(matches!(
        db.store
            .assign_role(&Actor::Cli, workspace.id, user.id, "ghost"),
        Err(StoreError::NotFound { what: "role" })
    ));
}

#[test]
fn backend_follows_test_database_url() {
    let db = TestStore::new();
    let want = match std::env::var(roster_store::testing::TEST_DATABASE_URL) {
        Ok(url) if !url.is_empty() => roster_store::Backend::Postgres,
        _ => roster_store::Backend::Sqlite,
    };
    assert_eq!(db.store.backend(), want);
}

#[test]
fn events_are_written_with_their_change_and_pruned_past_retention() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    scim_connection(&db, workspace.id, "entra", true);
    db.store
        .create_user(&Actor::Cli, &new_user(workspace.id, "ann"))
        .unwrap();
    let refused = db
        .store
        .create_user(&Actor::Cli, &new_user(workspace.id, "ANN"));
    assert!(refused.is_err());
    let events = db.store.events(workspace.id, 0, 100, &[]).unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        vec!["workspace.created", "connection.created", "user.created"],
        "the refused create has no event"
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        db.store
            .prune_events(Timestamp::now().plus_seconds(-86_400))
            .unwrap(),
        0
    );
    assert_eq!(
        db.store
            .prune_events(Timestamp::now().plus_seconds(1))
            .unwrap(),
        3
    );
    assert!(db
        .store
        .events(workspace.id, 0, 100, &[])
        .unwrap()
        .is_empty());
}

#[test]
fn exports_leave_out_oidc_client_secrets() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let connection = db.scim_connection(workspace.id, "idp", false, false);
    db.store
        .update_connection_config(
            &Actor::Cli,
            workspace.id,
            connection.id,
            r#"{"issuer":"https://idp.test","client_id":"c","client_secret":"s3cr3t-value"}"#,
        )
        .unwrap();
    let export = db.store.export_workspace(workspace.id).unwrap().to_string();
    assert!(!export.contains("s3cr3t-value"), "{export}");
    assert!(export.contains("https://idp.test"));
    // The stored connection keeps its secret.
    let stored = db.store.connection_by_id(connection.id).unwrap();
    assert!(stored.protocol_config.contains("s3cr3t-value"));
    assert!(
        audit_actions(&db.store, workspace.id).contains(&"connection.config_updated".to_owned())
    );
}

/// Custom attribute definitions (issue #28): declared, listed in order, a name once per
/// workspace whatever its case (another workspace may reuse it), deleted only in their own
/// workspace; each change audited.
#[test]
fn attribute_definitions_are_unique_per_workspace_and_audited() {
    use roster_store::domain::attributes::{
        AttributeKind, NewAttributeDefinition, StandardAttribute,
    };
    let db = TestStore::new();
    let acme = db.workspace("acme");
    let globex = db.workspace("globex");
    let store = &db.store;
    let department = NewAttributeDefinition::standard(StandardAttribute::Department);
    let created = store
        .create_attribute(&Actor::Cli, acme.id, &department)
        .unwrap();
    assert_eq!(created.name.as_str(), "department");
    assert_eq!(created.standard, Some(StandardAttribute::Department));
    let code = NewAttributeDefinition::new(
        "costCenterCode",
        Some("Cost centre code"),
        AttributeKind::Number,
        true,
        false,
    )
    .unwrap();
    store.create_attribute(&Actor::Cli, acme.id, &code).unwrap();

    let shouting =
        NewAttributeDefinition::new("costcentercode", None, AttributeKind::String, false, true)
            .unwrap();
    let error = store
        .create_attribute(&Actor::Cli, acme.id, &shouting)
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Conflict {
                what: "attribute",
                ..
            }
        ),
        "{error:?}"
    );
    store
        .create_attribute(&Actor::Cli, globex.id, &shouting)
        .unwrap();

    let listed = store.attribute_definitions(acme.id).unwrap();
    let names: Vec<&str> = listed.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["department", "costCenterCode"]);
    assert_eq!(listed[1].kind, AttributeKind::Number);
    assert!(listed[1].case_exact && !listed[1].released);

    assert!(matches!(
        store.delete_attribute(&Actor::Cli, globex.id, created.id),
        Err(StoreError::NotFound { .. })
    ));
    store
        .delete_attribute(&Actor::Cli, acme.id, created.id)
        .unwrap();
    assert_eq!(store.attribute_definitions(acme.id).unwrap().len(), 1);
    let actions = audit_actions(store, acme.id);
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.starts_with("attribute."))
            .collect::<Vec<_>>(),
        [
            "attribute.created",
            "attribute.created",
            "attribute.deleted"
        ]
    );
}

/// An export carries the declarations and the users' values; an import into another database
/// brings both back as they were.
#[test]
fn attributes_and_their_values_survive_export_and_import() {
    use roster_store::domain::attributes::{AttrValue, NewAttributeDefinition, StandardAttribute};
    use roster_store::AttributeEdit;
    let source = TestStore::new();
    let acme = source.workspace("acme");
    let store = &source.store;
    let department = store
        .create_attribute(
            &Actor::Cli,
            acme.id,
            &NewAttributeDefinition::standard(StandardAttribute::Department),
        )
        .unwrap();
    let ann = store
        .create_user(&Actor::Cli, &new_user(acme.id, "ann"))
        .unwrap();
    store
        .set_user_attributes(
            &Actor::Cli,
            acme.id,
            ann.id,
            &[AttributeEdit {
                definition: department,
                value: Some(AttrValue::Text("Sales".into())),
            }],
        )
        .unwrap();
    let export = store.export_workspace(acme.id).unwrap();

    let target = TestStore::new();
    let imported = target.store.import_workspace(&Actor::Cli, &export).unwrap();
    let definitions = target.store.attribute_definitions(imported.id).unwrap();
    assert_eq!(definitions.len(), 1);
    assert_eq!(definitions[0].name.as_str(), "department");
    let ann = target.store.user_by_user_name(imported.id, "ann").unwrap();
    assert_eq!(ann.attributes, r#"{"department":"Sales"}"#);
}
