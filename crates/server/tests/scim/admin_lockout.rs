//! Nobody locks the workspace out through the admin API: an admin cannot disable their own
//! account, nor disable the workspace's last active admin, nor delete the mapping that makes its
//! active admins admins. Each refusal is the policy's (`403 forbidden` with `detail.refusal`, a
//! sentence in `message`), and afterwards nothing has changed: the user, their sessions, the
//! mapping, the roles, the audit trail and the event feed. Once another admin is active, the
//! same requests go through.

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Lifecycle, UserId};
use serde_json::{json, Value};

use crate::admin_policy::{signed_in_member, with_session};
use crate::common::{Reply, TestApp};

fn refused(reply: &Reply, refusal: &str, message: &str) {
    assert_eq!(
        (
            reply.status,
            &reply.body["code"],
            &reply.body["detail"]["refusal"]
        ),
        (403, &json!("forbidden"), &json!(refusal)),
        "{:#}",
        reply.body
    );
    assert!(
        reply.body["message"].as_str().unwrap().contains(message),
        "{:#}",
        reply.body
    );
}

/// Everything a refused request must leave as it was.
fn snapshot(app: &TestApp) -> Value {
    let store = &app.db.store;
    let workspace = app.workspace.id;
    let users: Vec<Value> = store
        .admin_users(workspace, None, None, 1000)
        .unwrap()
        .items
        .iter()
        .map(|u| json!([roster_store::user_json(u), u.session_epoch, u.version]))
        .collect();
    json!({
        "users": users,
        "admins": store.active_admins(workspace).unwrap().iter().map(UserId::to_string).collect::<Vec<_>>(),
        "mappings": store.list_mappings(workspace).unwrap().len(),
        "audit": store.audit_events(workspace, None, 100_000).unwrap().len(),
        "events": store.events(workspace, 0, 100_000, &[]).unwrap().len(),
    })
}

fn user_actions(app: &TestApp, key: &str, user: UserId) -> Value {
    let reply = app.admin(key, "GET", &format!("/users/{user}"), None);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    reply.body["actions"].clone()
}

#[test]
fn an_admin_cannot_disable_themselves_nor_the_last_active_admin() {
    let app = TestApp::new();
    let key = app.api_key();
    let store = &app.db.store;
    let workspace = app.workspace.id;
    let (ann, ann_session) = signed_in_member(&app, "ann");
    let (bob, _) = signed_in_member(&app, "bob");
    for admin in [ann, bob] {
        store
            .assign_role(&Actor::Cli, workspace, admin, "admin")
            .unwrap();
    }

    // Ann's own account: the console is told up front, and the API refuses.
    let own = with_session(&app, &ann_session, "GET", &format!("/users/{ann}"), None);
    assert_eq!(own.body["actions"]["disable"]["allowed"], false);
    assert_eq!(own.body["actions"]["disable"]["refusal"], "self_lockout");
    assert_eq!(own.body["actions"]["enable"]["allowed"], true);
    assert_eq!(own.body["actions"]["signOutEverywhere"]["allowed"], true);
    let before = snapshot(&app);
    refused(
        &with_session(
            &app,
            &ann_session,
            "POST",
            &format!("/users/{ann}/disable"),
            None,
        ),
        "self_lockout",
        "your own account",
    );
    assert_eq!(
        snapshot(&app),
        before,
        "a refused self-disable changed something"
    );
    assert_eq!(
        with_session(&app, &ann_session, "GET", "/session", None).status,
        200,
        "Ann's session lives on"
    );

    // Bob is another active admin: Ann may disable him. Then Ann is the last one.
    let bob_actions = with_session(&app, &ann_session, "GET", &format!("/users/{bob}"), None);
    assert_eq!(bob_actions.body["actions"]["disable"]["allowed"], true);
    let disabled = with_session(
        &app,
        &ann_session,
        "POST",
        &format!("/users/{bob}/disable"),
        None,
    );
    assert_eq!(
        (disabled.status, disabled.body["active"].as_bool()),
        (200, Some(false)),
        "{:#}",
        disabled.body
    );
    assert_eq!(
        store
            .active_admins(workspace)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![ann]
    );

    // An API key is nobody's account, but the last active admin is protected from it too.
    let actions = user_actions(&app, &key, ann);
    assert_eq!(
        actions["disable"]["refusal"], "last_active_admin",
        "{actions:#}"
    );
    assert_eq!(actions["delete"]["refusal"], "last_active_admin");
    let before = snapshot(&app);
    refused(
        &app.admin(&key, "POST", &format!("/users/{ann}/disable"), None),
        "last_active_admin",
        "last active admin",
    );
    assert_eq!(
        snapshot(&app),
        before,
        "a refused last-admin disable changed something"
    );
    assert_eq!(
        store.user(workspace, ann).unwrap().lifecycle,
        Lifecycle::Active
    );

    // Enabling is never a lockout; with Bob back, Ann may be disabled by the key.
    let enabled = app.admin(&key, "POST", &format!("/users/{bob}/enable"), None);
    assert_eq!(enabled.status, 200, "{:#}", enabled.body);
    assert_eq!(user_actions(&app, &key, ann)["disable"]["allowed"], true);
    let disabled = app.admin(&key, "POST", &format!("/users/{ann}/disable"), None);
    assert_eq!(disabled.status, 200, "{:#}", disabled.body);
    assert_eq!(
        store.user(workspace, ann).unwrap().lifecycle,
        Lifecycle::Deactivated
    );
}

#[test]
fn the_mapping_that_makes_the_last_active_admins_admins_cannot_be_deleted() {
    let app = TestApp::new();
    let key = app.api_key();
    let store = &app.db.store;
    let workspace = app.workspace.id;
    // Carol and Dan are admins only because the IdP puts them in "Admins", mapped to `admin`.
    let carol = app.create_user("carol", "e-carol");
    let dan = app.create_user("dan", "e-dan");
    let group = app.scim(
        "POST",
        "/Groups",
        Some(json!({"displayName": "Admins", "members": [{"value": carol}, {"value": dan}]})),
    );
    assert_eq!(group.status, 201, "{:#}", group.body);
    let mapping = app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(
            json!({"scimGroupId": group.body["id"], "roleName": "admin", "groupName": "Operators"}),
        ),
    );
    assert_eq!(mapping.status, 201, "{:#}", mapping.body);
    let mapping = mapping.body["id"].as_str().unwrap().to_owned();
    let admins = |app: &TestApp| -> Vec<String> {
        app.db
            .store
            .active_admins(workspace)
            .unwrap()
            .iter()
            .map(UserId::to_string)
            .collect()
    };
    let mut expected = vec![carol.clone(), dan.clone()];
    expected.sort();
    assert_eq!(admins(&app), expected);

    // Deleting it would leave nobody: refused, and the dry run that found it out left nothing.
    let before = snapshot(&app);
    refused(
        &app.admin(
            &key,
            "DELETE",
            &format!("/scim/group-mappings/{mapping}"),
            None,
        ),
        "last_active_admin",
        "deleting it would leave none",
    );
    assert_eq!(
        snapshot(&app),
        before,
        "a refused mapping deletion changed something"
    );
    let operators = app.admin(&key, "GET", "/groups?q=Operators", None);
    assert_eq!(
        operators.body["groups"][0]["mapped"], true,
        "{:#}",
        operators.body
    );

    // An unknown mapping is still a 404, not a refusal.
    let unknown = app.admin(
        &key,
        "DELETE",
        &format!("/scim/group-mappings/{}", uuid_like()),
        None,
    );
    assert_eq!(
        (unknown.status, unknown.body["code"].as_str()),
        (404, Some("not_found")),
        "{:#}",
        unknown.body
    );

    // With an admin who does not depend on the mapping, it goes, and takes the role with it.
    let erin = app
        .store_user(
            "erin",
            "erin@acme.test",
            roster_store::domain::Source::Invited,
        )
        .id;
    store
        .assign_role(&Actor::Cli, workspace, erin, "admin")
        .unwrap();
    let deleted = app.admin(
        &key,
        "DELETE",
        &format!("/scim/group-mappings/{mapping}"),
        None,
    );
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
    assert_eq!(admins(&app), vec![erin.to_string()]);
    assert!(store.list_mappings(workspace).unwrap().is_empty());
}

/// A well-formed mapping id that names nothing.
fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".to_owned()
}
