//! SCIM passwords (core User `password`, `returned: "never"`): accepted under every spelling an
//! IdP can send, and dropped before anything is stored — so no response, listing, stored row,
//! audit or event record, provisioning-log row or export ever holds one. A row written by an
//! older build that still holds one is never shown or exported either.

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use crate::common::{patch_op, TestApp};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The password a test sends: unique, so finding it anywhere is a leak.
fn secret(n: usize) -> String {
    format!("S3cr3t-pw-{n}-9f2c")
}

/// A User resource with `password` merged in at the top level.
fn user_with(user_name: &str, password: Value) -> Value {
    let mut user = json!({
        "schemas": [CORE],
        "userName": user_name,
        "name": {"givenName": "Pat", "familyName": "Word"},
    });
    if let (Some(user), Value::Object(extra)) = (user.as_object_mut(), password) {
        user.extend(extra);
    }
    user
}

/// Every spelling of the password a User body can carry.
fn spellings(secret: &str) -> Vec<Value> {
    vec![
        json!({"password": secret}),
        json!({"PassWord": secret}),
        json!({format!("{CORE}:password"): secret}),
        json!({format!("{CORE}:PASSWORD").to_uppercase(): secret}),
        json!({CORE: {"password": secret}}),
        json!({CORE.to_lowercase(): {"Password": secret}}),
        json!({"password.value": secret}),
    ]
}

/// Everything Roster keeps about a workspace, as text: users (through the store's export, which
/// is what `roster export` prints), the stored SCIM attributes of every listed user, the audit
/// trail, the events feed and the provisioning log.
fn everything_stored(app: &TestApp) -> String {
    let store = &app.db.store;
    let export = store.export_workspace(app.workspace.id).unwrap();
    let audit = store.audit_events(app.workspace.id, None, 10_000).unwrap();
    let events: Vec<Value> = store
        .events(app.workspace.id, 0, 10_000, &[])
        .unwrap()
        .iter()
        .map(|event| event.to_json())
        .collect();
    let log = app.provisioning_log();
    format!("{export}\n{audit:?}\n{events:?}\n{log:?}")
}

/// The stored SCIM attributes of a user, straight from the database.
fn stored_attributes(app: &TestApp, id: &str) -> String {
    app.user(id).scim_attributes
}

/// No password, under any spelling, in what the database holds for the user.
fn assert_never_stored(app: &TestApp, id: &str) {
    let stored = stored_attributes(app, id);
    assert!(
        !stored.to_lowercase().contains("password"),
        "stored {stored}"
    );
}

fn assert_no_password(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} holds {secret}: {text}"
        );
    }
}

fn read_everything(app: &TestApp, id: &str) -> String {
    let filter = format!(
        "/Users?filter=userName%20eq%20%22{}%22",
        app.user(id).user_name
    );
    let reads = [
        app.scim("GET", &format!("/Users/{id}"), None),
        app.scim("GET", &format!("/Users/{id}?attributes=password"), None),
        app.scim(
            "GET",
            &format!("/Users/{id}?attributes={CORE}:password,{CORE}"),
            None,
        ),
        app.scim("GET", "/Users", None),
        app.scim("GET", "/Users?cursor=&count=100", None),
        app.scim("GET", "/Users?attributes=password,userName", None),
        app.scim("GET", &filter, None),
        app.scim(
            "POST",
            "/Users/.search",
            Some(json!({"attributes": ["password"]})),
        ),
        app.scim("POST", "/.search", Some(json!({}))),
    ];
    let mut text = String::new();
    for reply in reads {
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        text.push_str(&reply.body.to_string());
    }
    text
}

#[test]
fn a_created_user_never_keeps_a_password_under_any_spelling() {
    let app = TestApp::new();
    let mut secrets = Vec::new();
    for n in 0..spellings("").len() {
        let secret = secret(n);
        let password = spellings(&secret).swap_remove(n);
        secrets.push(secret);
        let body = user_with(&format!("pw{n}"), password.clone());
        let reply = app.scim("POST", "/Users", Some(body));
        assert_eq!(reply.status, 201, "{password}: {:#}", reply.body);
        assert_no_password("the 201", &reply.body.to_string(), &secrets);
        let id = reply.body["id"].as_str().unwrap().to_owned();
        assert_never_stored(&app, &id);
        assert_no_password("GETs and lists", &read_everything(&app, &id), &secrets);
        // The operator learns why: a warning in the provisioning log.
        let warnings = app.provisioning_log()[0]
            .warnings
            .clone()
            .unwrap_or_default();
        assert!(warnings.contains("ignored password"), "{warnings}");
    }
    assert_no_password("the stored workspace", &everything_stored(&app), &secrets);
}

#[test]
fn put_patch_and_bulk_never_store_a_password() {
    let app = TestApp::new();
    let id = app.create_user("pat", "e-pat");
    let version = app.user(&id).version;
    let mut secrets = Vec::new();
    // PUT: the same user plus a password is no change at all (no write, same version).
    for n in 0..spellings("").len() {
        let secret = secret(n);
        let password = spellings(&secret).swap_remove(n);
        secrets.push(secret);
        let mut body = app.scim("GET", &format!("/Users/{id}"), None).body;
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), password.clone()) {
            body.extend(extra);
        }
        let reply = app.scim("PUT", &format!("/Users/{id}"), Some(body));
        assert_eq!(reply.status, 200, "{password}: {:#}", reply.body);
        assert_no_password("the PUT answer", &reply.body.to_string(), &secrets);
        assert_eq!(
            app.user(&id).version,
            version,
            "{password}: a password alone is no change"
        );
        assert_never_stored(&app, &id);
    }
    // PATCH, in every form an operation can name the password.
    let patches = |s: &str| {
        vec![
            json!({"op": "replace", "path": "password", "value": s}),
            json!({"op": "add", "path": "PASSWORD", "value": s}),
            json!({"op": "add", "path": format!("{CORE}:password"), "value": s}),
            json!({"op": "Replace", "path": format!("{CORE}:password").to_uppercase(), "value": s}),
            json!({"op": "replace", "path": "password.value", "value": s}),
            json!({"op": "replace", "value": {"password": s}}),
            json!({"op": "add", "value": {format!("{CORE}:Password"): s}}),
            json!({"op": "replace", "value": {CORE: {"password": s}}}),
            json!({"op": "add", "path": CORE, "value": {"PassWord": s}}),
            json!({"op": "add", "value": {CORE.to_lowercase(): {"password": s}}}),
            json!({"op": "add", "path": format!("{CORE}:password").to_lowercase(), "value": s}),
        ]
    };
    for n in 0..patches("").len() {
        let secret = secret(100 + n);
        let op = patches(&secret).swap_remove(n);
        secrets.push(secret);
        let reply = app.scim(
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch_op(json!([op]))),
        );
        assert_eq!(reply.status, 200, "{op}: {:#}", reply.body);
        assert_no_password("the PATCH answer", &reply.body.to_string(), &secrets);
        assert_eq!(
            app.user(&id).version,
            version,
            "{op}: a password alone is no change"
        );
        assert_never_stored(&app, &id);
        let warnings = app.provisioning_log()[0]
            .warnings
            .clone()
            .unwrap_or_default();
        assert!(warnings.contains("ignored password"), "{op}: {warnings}");
    }
    // Under the core schema URN, the password goes and the rest is applied.
    let with_nick_name =
        json!({"op": "replace", "value": {CORE: {"nickName": "Patty", "password": secret(200)}}});
    secrets.push(secret(200));
    let reply = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([with_nick_name]))),
    );
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["nickName"], "Patty");
    assert_eq!(app.user(&id).version, version + 1);
    // Bulk runs the same operations.
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "b",
             "data": user_with("bulk-pw", json!({format!("{CORE}:password"): secret(300)}))},
            {"method": "PATCH", "path": "/Users/bulkId:b",
             "data": patch_op(json!([{"op": "replace", "value": {CORE: {"password": secret(301)}}}]))},
            {"method": "PUT", "path": format!("/Users/{id}"),
             "data": user_with("pat", json!({CORE: {"password": secret(302)}}))},
        ],
    });
    secrets.extend([secret(300), secret(301), secret(302)]);
    let reply = app.scim("POST", "/Bulk", Some(bulk));
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let statuses: Vec<&str> = reply.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses, ["201", "200", "200"], "{:#}", reply.body);
    let location = reply.body["Operations"][0]["location"].as_str().unwrap();
    let bulk_id = location.rsplit('/').next().unwrap();
    assert_never_stored(&app, bulk_id);
    assert_never_stored(&app, &id);
    assert_no_password("GETs and lists", &read_everything(&app, &id), &secrets);
    assert_no_password("the stored workspace", &everything_stored(&app), &secrets);
}

/// A row an older build wrote, with the password in its stored attributes (the migration
/// `2026-12-06-000001_scrub_scim_secrets` cleans those; this is the defence behind it).
#[test]
fn a_stored_password_is_never_returned_or_exported() {
    let app = TestApp::new();
    let id = app.create_user("legacy", "e-legacy");
    let leaked = secret(0);
    let stored = json!({
        "nickName": "Lee",
        format!("{CORE}:password"): leaked,
        "PASSWORD": leaked,
        CORE: {"password": leaked, "title": "kept"},
    });
    let scope = roster_store::ScimScope {
        workspace_id: app.workspace.id,
        connection_id: app.connection.id,
    };
    app.db
        .store
        .scim_modify_user(
            &roster_store::domain::Actor::Cli,
            scope,
            &id,
            None,
            |current| {
                Ok::<_, roster_store::StoreError>(Some(roster_store::UserUpdate {
                    given_name: current.given_name.clone(),
                    family_name: current.family_name.clone(),
                    display_name: current.display_name.clone(),
                    external_id: current.external_id.clone(),
                    email: current.email.clone(),
                    active: true,
                    scim_attributes: stored.to_string(),
                    attributes: Vec::new(),
                    changed: vec![],
                    note: json!({}),
                }))
            },
            |user| roster_store::NewProvisioningEntry {
                workspace_id: app.workspace.id.to_string(),
                connection_id: app.connection.id.to_string(),
                occurred_at: 0,
                request_id: "legacy".into(),
                method: "PUT".into(),
                path: format!("/Users/{}", user.id),
                status: 200,
                duration_us: 0,
                resource_id: None,
                error: None,
                warnings: None,
                query: None,
            },
        )
        .unwrap();
    assert!(
        stored_attributes(&app, &id).contains(&leaked),
        "the row holds one, as old ones did"
    );
    let reads = read_everything(&app, &id);
    assert_no_password("GETs and lists", &reads, std::slice::from_ref(&leaked));
    assert!(
        reads.contains("Lee"),
        "the other stored attributes are still returned"
    );
    let export = app
        .db
        .store
        .export_workspace(app.workspace.id)
        .unwrap()
        .to_string();
    assert_no_password("the export", &export, std::slice::from_ref(&leaked));
    assert!(
        export.contains("Lee") && export.contains("kept"),
        "{export}"
    );
    // The next write through SCIM leaves it behind too.
    let reply = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(
            json!([{"op": "replace", "path": "nickName", "value": "Leo"}]),
        )),
    );
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert!(!stored_attributes(&app, &id).contains(&leaked));
}
