//! User rules: adoption of pre-SCIM users, identifier immutability (lenient and strict), ETags,
//! concurrent identical creates.

use pretty_assertions::assert_eq;
use roster_store::domain::Source;
use serde_json::json;

use crate::common::{patch_op, Options, TestApp};

#[test]
fn a_pre_scim_user_with_the_same_user_name_and_email_is_adopted() {
    let app = TestApp::new();
    let jit = app.store_user("carol@acme.com", "carol@acme.com", Source::Jit);
    let hidden = app.scim(
        "GET",
        "/Users?filter=userName+eq+%22carol%40acme.com%22",
        None,
    );
    assert_eq!(
        hidden.body["totalResults"], 0,
        "unmanaged users are not visible to SCIM"
    );
    let adopted = app.scim("POST", "/Users", Some(json!({
        "userName": "Carol@acme.com", "externalId": "e-carol",
        "emails": [{"value": "CAROL@acme.com", "primary": true}], "name": {"givenName": "Carol"},
    })));
    assert_eq!(adopted.status, 201, "{:#}", adopted.body);
    assert_eq!(
        adopted.body["id"],
        jit.id.to_string(),
        "same account, no duplicate"
    );
    let stored = app.user(&jit.id.to_string());
    assert_eq!(stored.managing_connection_id, Some(app.connection.id));
    assert_eq!(
        stored.source,
        Source::Jit,
        "source keeps who created the user"
    );
    assert_eq!(stored.external_id.as_deref(), Some("e-carol"));
    assert_eq!(app.db.store.count_users(app.workspace.id).unwrap(), 1);
}

#[test]
fn a_pre_scim_user_with_another_email_is_a_conflict_and_untouched() {
    let app = TestApp::new();
    let jit = app.store_user("dave@acme.com", "dave@acme.com", Source::Jit);
    let refused = app.scim("POST", "/Users", Some(json!({
        "userName": "dave@acme.com", "emails": [{"value": "attacker@evil.test", "primary": true}],
    })));
    refused.assert_scim_error(409, Some("uniqueness"));
    assert_eq!(app.user(&jit.id.to_string()), jit, "nothing changed");
}

#[test]
fn strict_immutability_refuses_identifier_changes_and_applies_nothing() {
    let app = TestApp::with(Options {
        strict_immutability: true,
        ..Options::default()
    });
    let id = app.create_user("erin@acme.com", "e-erin");
    let before = app.user(&id);
    let refused = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([
            {"op": "replace", "path": "name.givenName", "value": "Changed"},
            {"op": "replace", "path": "userName", "value": "erin.new@acme.com"},
        ]))),
    );
    refused.assert_scim_error(400, Some("mutability"));
    assert_eq!(app.user(&id), before, "nothing applied");
    let put = app.scim(
        "PUT",
        &format!("/Users/{id}"),
        Some(json!({
            "userName": "erin@acme.com", "emails": [{"value": "other@acme.com", "primary": true}],
        })),
    );
    put.assert_scim_error(400, Some("mutability"));
    assert_eq!(app.user(&id), before);
}

#[test]
fn lenient_immutability_keeps_the_email_and_applies_the_rest() {
    let app = TestApp::new();
    let id = app.create_user("fay@acme.com", "e-fay");
    let reply = app.scim(
        "PUT",
        &format!("/Users/{id}"),
        Some(json!({
            "userName": "fay.renamed@acme.com",
            "name": {"givenName": "Fay", "familyName": "New"},
            "emails": [{"value": "fay.renamed@acme.com", "primary": true, "type": "work"}],
        })),
    );
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["userName"], "fay@acme.com");
    assert_eq!(
        reply.body["emails"][0]["value"], "fay@acme.com",
        "GET shows what is stored"
    );
    let stored = app.user(&id);
    assert_eq!(
        stored.email.map(|e| e.to_string()).as_deref(),
        Some("fay@acme.com")
    );
    assert_eq!(stored.family_name.as_deref(), Some("New"));
    let warnings = app.provisioning_log()[0]
        .warnings
        .clone()
        .unwrap_or_default();
    assert!(
        warnings.contains("email") && warnings.contains("userName"),
        "{warnings}"
    );
}

#[test]
fn etags_guard_against_lost_updates() {
    let app = TestApp::new();
    let id = app.create_user("gil", "e-gil");
    let got = app.scim("GET", &format!("/Users/{id}"), None);
    assert_eq!(got.header("etag"), Some("W/\"1\""));
    assert_eq!(got.body["meta"]["version"], "W/\"1\"");
    let op = patch_op(json!([{"op": "replace", "path": "title", "value": "A"}]));
    let ok = app.scim_with(
        "PATCH",
        &format!("/Users/{id}"),
        Some(op.clone()),
        &[
            ("authorization", &format!("Bearer {}", app.token)),
            ("if-match", "W/\"1\""),
        ],
    );
    assert_eq!(ok.status, 200);
    let stale = app.scim_with(
        "PATCH",
        &format!("/Users/{id}"),
        Some(op),
        &[
            ("authorization", &format!("Bearer {}", app.token)),
            ("if-match", "W/\"1\""),
        ],
    );
    stale.assert_scim_error(412, None);
    assert_eq!(app.user(&id).version, 2, "the stale write changed nothing");
    let stale_delete = app.scim_with(
        "DELETE",
        &format!("/Users/{id}"),
        None,
        &[
            ("authorization", &format!("Bearer {}", app.token)),
            ("if-match", "W/\"1\""),
        ],
    );
    stale_delete.assert_scim_error(412, None);
    assert_eq!(app.scim("GET", &format!("/Users/{id}"), None).status, 200);
}

#[test]
fn concurrent_identical_creates_yield_one_user() {
    let app = TestApp::new();
    let body = json!({"userName": "race@acme.com", "externalId": "e-race", "emails": [{"value": "race@acme.com"}]});
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| app.scim("POST", "/Users", Some(body.clone())).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(app.db.store.count_users(app.workspace.id).unwrap(), 1);
}

/// Ten PATCHes of one user at once, each replacing a different attribute: a write reads the
/// user and writes its whole row, so without the row lock (`FOR UPDATE` on PostgreSQL, the write
/// lock on SQLite) two of them would read the same version and the later would put back what the
/// earlier changed.
#[test]
fn concurrent_patches_of_one_user_lose_no_update() {
    let app = TestApp::new();
    let created = app.scim(
        "POST",
        "/Users",
        Some(json!({"userName": "many@acme.com", "externalId": "e-many"})),
    );
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let paths = [
        "displayName",
        "nickName",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "profileUrl",
        "name.givenName",
        "name.familyName",
    ];
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .map(|path| {
                let (app, id) = (&app, &id);
                scope.spawn(move || {
                    let value = if *path == "profileUrl" {
                        "https://acme.com/many".to_owned()
                    } else if *path == "timezone" {
                        "Europe/Paris".to_owned()
                    } else if *path == "locale" || *path == "preferredLanguage" {
                        "fr-FR".to_owned()
                    } else {
                        format!("set-{path}")
                    };
                    let patch = json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": path, "value": value}]
                    });
                    app.scim("PATCH", &format!("/Users/{id}"), Some(patch))
                        .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let user = app.scim("GET", &format!("/Users/{id}"), None).body;
    assert_eq!(user["displayName"], "set-displayName");
    assert_eq!(user["nickName"], "set-nickName");
    assert_eq!(user["title"], "set-title");
    assert_eq!(user["userType"], "set-userType");
    assert_eq!(user["preferredLanguage"], "fr-FR");
    assert_eq!(user["locale"], "fr-FR");
    assert_eq!(user["timezone"], "Europe/Paris");
    assert_eq!(user["profileUrl"], "https://acme.com/many");
    assert_eq!(user["name"]["givenName"], "set-name.givenName");
    assert_eq!(user["name"]["familyName"], "set-name.familyName");
    assert_eq!(user["meta"]["version"], "W/\"11\"", "{user}");
}
