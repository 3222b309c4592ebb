//! The workspace's active admins, the facts of the admin policy's lockout rules, against a real
//! database (SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set): who holds the
//! `admin` role and is active, whatever way the role reaches them; who would once a mapping is
//! deleted (found by a dry run that leaves nothing behind); and the default role's part.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use pretty_assertions::assert_eq;
use roster_store::domain::{
    Actor, ConnectionKind, DisplayName, GroupKind, GroupSync, LifecycleEvent, MappingId,
    ProfileSync, Provenance, RoleName, Source, User, UserId, UserName, Vendor, Workspace,
};
use roster_store::testing::TestStore;
use roster_store::{NewConnection, NewGroup, NewMapping, NewUser, StoreError};
use serde_json::{json, Value};

fn user(db: &TestStore, workspace: &Workspace, name: &str) -> User {
    db.store
        .create_user(
            &Actor::Cli,
            &NewUser::minimal(
                workspace.id,
                UserName::parse(name).unwrap(),
                Source::Invited,
            ),
        )
        .unwrap()
}

fn ids(users: &[&User]) -> BTreeSet<UserId> {
    users.iter().map(|u| u.id).collect()
}

/// What a dry run must leave as it was.
fn snapshot(db: &TestStore, workspace: &Workspace) -> Value {
    let store = &db.store;
    json!({
        "mappings": store.list_mappings(workspace.id).unwrap().len(),
        "admins": store.active_admins(workspace.id).unwrap().iter().map(UserId::to_string).collect::<Vec<_>>(),
        "audit": store.audit_events(workspace.id, None, 100_000).unwrap().len(),
        "events": store.events(workspace.id, 0, 100_000, &[]).unwrap().len(),
    })
}

/// Maps an IdP group of a new SCIM connection, with `members`, to the `admin` role.
fn admins_group(db: &TestStore, workspace: &Workspace, members: &[&User]) -> MappingId {
    let store = &db.store;
    let connection = store
        .create_connection(
            &Actor::Cli,
            NewConnection {
                workspace_id: workspace.id,
                name: DisplayName::parse("directory").unwrap(),
                kind: ConnectionKind::Scim,
                vendor: Vendor::Generic,
                protocol_config: "{}".to_owned(),
                domains: Vec::new(),
                scim_enabled: true,
                profile_sync: ProfileSync::FirstLogin,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap();
    let group = store
        .create_group(
            &Actor::Cli,
            &NewGroup {
                workspace_id: workspace.id,
                kind: GroupKind::Idp,
                display_name: DisplayName::parse("Admins").unwrap(),
                connection_id: Some(connection.id),
                external_id: Some("admins".to_owned()),
                scim_attributes: "{}".to_owned(),
            },
        )
        .unwrap();
    for member in members {
        store
            .add_group_member(
                &Actor::Cli,
                workspace.id,
                group.id,
                member.id,
                Provenance::Idp,
            )
            .unwrap();
    }
    let admin = store.role_by_name(workspace.id, "admin").unwrap();
    store
        .create_mapping(
            &Actor::Cli,
            &NewMapping {
                workspace_id: workspace.id,
                connection_id: connection.id,
                idp_group_key: Some(group.id.to_string()),
                idp_group_name: None,
                app_group_id: None,
                role_id: Some(admin.id),
            },
        )
        .unwrap()
        .id
}

#[test]
fn active_admins_are_the_active_users_the_admin_role_reaches() {
    let db = TestStore::new();
    let store = &db.store;
    let workspace = db.workspace("acme");
    let ann = user(&db, &workspace, "ann");
    let bob = user(&db, &workspace, "bob");
    let cat = user(&db, &workspace, "cat");
    let dan = user(&db, &workspace, "dan");
    for direct in [&ann, &bob] {
        store
            .assign_role(&Actor::Cli, workspace.id, direct.id, "admin")
            .unwrap();
    }
    store
        .change_lifecycle(
            &Actor::Cli,
            workspace.id,
            bob.id,
            LifecycleEvent::Deactivate,
        )
        .unwrap();
    assert_eq!(store.active_admins(workspace.id).unwrap(), ids(&[&ann]));

    // Through a mapped IdP group too; and another workspace's admins are not this one's.
    let mapping = admins_group(&db, &workspace, &[&cat, &dan]);
    assert_eq!(
        store.active_admins(workspace.id).unwrap(),
        ids(&[&ann, &cat, &dan])
    );
    let other = db.workspace("other");
    let stranger = user(&db, &other, "stranger");
    store
        .assign_role(&Actor::Cli, other.id, stranger.id, "admin")
        .unwrap();
    assert_eq!(store.active_admins(other.id).unwrap(), ids(&[&stranger]));

    // Without the mapping only Ann would be left; finding that out changes nothing.
    let before = snapshot(&db, &workspace);
    assert_eq!(
        store
            .active_admins_without_mapping(workspace.id, mapping)
            .unwrap(),
        ids(&[&ann])
    );
    assert_eq!(
        snapshot(&db, &workspace),
        before,
        "the dry run left something"
    );
    // Another workspace's mapping is not found from this one.
    assert!(matches!(
        store.active_admins_without_mapping(other.id, mapping),
        Err(StoreError::NotFound { what: "mapping" })
    ));
    assert_eq!(snapshot(&db, &workspace), before);

    // The real deletion agrees with the dry run.
    store
        .delete_mapping(&Actor::Cli, workspace.id, mapping)
        .unwrap();
    assert_eq!(store.active_admins(workspace.id).unwrap(), ids(&[&ann]));
}

#[test]
fn when_the_default_role_is_admin_everyone_no_role_reaches_is_an_admin() {
    // Workspaces are created with `member` as their default role; an imported one may carry
    // another, and effective roles then give it to everyone no role reaches.
    let source = TestStore::new();
    let workspace = source.workspace("acme");
    user(&source, &workspace, "eve");
    let fay = user(&source, &workspace, "fay");
    source
        .store
        .create_role(
            &Actor::Cli,
            workspace.id,
            &RoleName::parse("viewer").unwrap(),
            1,
        )
        .unwrap();
    source
        .store
        .assign_role(&Actor::Cli, workspace.id, fay.id, "viewer")
        .unwrap();
    let mut export = source.store.export_workspace(workspace.id).unwrap();
    export["workspace"]["default_role"] = json!("admin");

    let db = TestStore::new();
    let imported = db.store.import_workspace(&Actor::Cli, &export).unwrap();
    let eve = db.store.user_by_user_name(imported.id, "eve").unwrap();
    assert_eq!(
        db.store
            .effective_roles(&imported, eve.id)
            .unwrap()
            .roles
            .iter()
            .map(RoleName::as_str)
            .collect::<Vec<_>>(),
        vec!["admin"]
    );
    assert_eq!(db.store.active_admins(imported.id).unwrap(), ids(&[&eve]));
}
