//! Microsoft Entra ID: Test Connection, the default `scim` job's dialect, and the
//! `aadOptscim062020` dialect (scim-interop.md §2).

use pretty_assertions::assert_eq;
use roster_store::domain::Lifecycle;
use serde_json::json;

use crate::common::{patch_op, TestApp};

#[test]
fn test_connection_gets_empty_lists_for_a_random_guid() {
    let app = TestApp::new();
    let users = app.scim(
        "GET",
        "/Users?filter=userName+eq+%226f2c3b0e-1111-2222-3333-444455556666%22",
        None,
    );
    assert_eq!(users.status, 200);
    assert_eq!(users.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        users.body,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0,
               "itemsPerPage": 0, "startIndex": 1, "Resources": []})
    );
    let groups = app.scim(
        "GET",
        "/Groups?excludedAttributes=members&filter=displayName+eq+%22b0e-guid%22",
        None,
    );
    assert_eq!(
        (groups.status, groups.body["totalResults"].as_i64()),
        (200, Some(0))
    );
}

#[test]
fn default_job_user_lifecycle() {
    let app = TestApp::new();
    // U2 create, with JSON nulls and the enterprise URN declared without an extension object.
    let created = app.scim("POST", "/Users", Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa@contoso.com",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [], "addresses": null, "phoneNumbers": null, "title": null, "manager": null,
    })));
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("http://roster.test/scim/v2/Users/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert!(
        created.body.get("addresses").is_none(),
        "nulls are not stored"
    );

    // U1 match queries by every attribute Entra may use.
    for filter in [
        "userName+eq+%22test_user_00aa00aa%40contoso.com%22",
        "externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22",
        "emails%5Btype+eq+%22work%22%5D.value+eq+%22test_user_11bb%40testuser.com%22",
        &format!("id+eq+%22{id}%22"),
    ] {
        let found = app.scim("GET", &format!("/Users?filter={filter}"), None);
        assert_eq!(found.body["totalResults"], 1, "{filter}: {:#}", found.body);
        assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    }

    // U6 default-dialect PATCH: capitalised ops, string boolean, typed email path, URN path.
    let epoch_before = app.user(&id).session_epoch;
    let patched = app.scim("PATCH", &format!("/Users/{id}"), Some(patch_op(json!([
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"},
        {"op": "Add", "path": "nickName", "value": "Babs"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "2c2f6fb8-manager"},
        {"op": "Replace", "path": "active", "value": "False"},
    ]))));
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    assert_eq!(patched.body["active"], false);
    assert_eq!(patched.body["nickName"], "Babs");
    assert_eq!(
        patched.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        json!({"employeeNumber": "Eqpj", "manager": {"value": "2c2f6fb8-manager"}})
    );
    let stored = app.user(&id);
    assert_eq!(stored.lifecycle, Lifecycle::Deactivated);
    assert_eq!(
        stored.session_epoch,
        epoch_before + 1,
        "deactivation revokes sessions"
    );
    assert_eq!(
        (stored.given_name.as_deref(), stored.family_name.as_deref()),
        (Some("Gtfd"), Some("Pkqf"))
    );
    assert_eq!(stored.display_name.as_deref(), Some("Pvlo"));
    assert_eq!(stored.version, 2);

    // Reactivate with a boolean, as the tutorial does.
    let on = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(
            json!([{"op": "Replace", "path": "active", "value": true}]),
        )),
    );
    assert_eq!(on.body["active"], true);
    assert_eq!(app.user(&id).lifecycle, Lifecycle::Active);

    // U5: a userName change is not applied, the rest is, and the provisioning log says so.
    let renamed = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([
            {"op": "Replace", "path": "userName", "value": "5b50642d@testuser.com"},
            {"op": "Replace", "path": "title", "value": "Engineer"},
        ]))),
    );
    assert_eq!(renamed.status, 200, "{:#}", renamed.body);
    assert_eq!(renamed.body["userName"], "Test_User_00aa00aa@contoso.com");
    assert_eq!(renamed.body["title"], "Engineer");
    let log = app.provisioning_log();
    let warning = log[0].warnings.clone().unwrap_or_default();
    assert!(
        warning.contains("userName") && warning.contains("5b50642d@testuser.com"),
        "{warning}"
    );
    let audit = app
        .db
        .store
        .audit_events(app.workspace.id, None, 100)
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "user.updated" && e.detail.contains("5b50642d@testuser.com")),
        "ignored change in the audit trail"
    );

    // U8 delete: 204, then 404, the account kept and deprovisioned.
    let deleted = app.scim("DELETE", &format!("/Users/{id}"), None);
    assert_eq!(deleted.status, 204);
    app.scim("GET", &format!("/Users/{id}"), None)
        .assert_scim_error(404, None);
    assert_eq!(app.user(&id).lifecycle, Lifecycle::Deprovisioned);
    let listed = app.scim(
        "GET",
        "/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22",
        None,
    );
    assert_eq!(
        listed.body["totalResults"], 0,
        "hidden from SCIM after DELETE"
    );
}

#[test]
fn entra_adds_a_missing_work_email_through_a_typed_path() {
    let app = TestApp::new();
    let created = app.scim(
        "POST",
        "/Users",
        Some(json!({"userName": "noemail", "active": true})),
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    let patched = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "noemail@contoso.com"},
        ]))),
    );
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    assert_eq!(
        patched.body["emails"],
        json!([{"type": "work", "value": "noemail@contoso.com"}])
    );
    assert_eq!(
        app.user(&id).email.map(|e| e.to_string()).as_deref(),
        Some("noemail@contoso.com")
    );
}

#[test]
fn aad_opt_dialect_pathless_replace_with_dotted_and_urn_keys() {
    let app = TestApp::new();
    let id = app.create_user("opt@contoso.com", "ext-opt");
    let patched = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
            }},
        ]))),
    );
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    let stored = app.user(&id);
    assert_eq!(stored.lifecycle, Lifecycle::Deactivated);
    assert_eq!(stored.display_name.as_deref(), Some("Bjfe"));
    assert_eq!(
        (stored.given_name.as_deref(), stored.family_name.as_deref()),
        (Some("Kkom"), Some("Unua"))
    );
    assert_eq!(
        patched.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
            ["employeeNumber"],
        "Aklq"
    );
    assert!(
        patched.body.get("name.givenName").is_none(),
        "dotted keys are paths, not attribute names"
    );
}

#[test]
fn empty_operations_and_repeats_are_harmless() {
    let app = TestApp::new();
    let id = app.create_user("idem", "ext-idem");
    let empty = app.scim("PATCH", &format!("/Users/{id}"), Some(patch_op(json!([]))));
    assert_eq!(empty.status, 200, "{:#}", empty.body);
    assert_eq!(app.user(&id).version, 1, "an empty PATCH changes nothing");
    let op = patch_op(json!([{"op": "replace", "path": "name.givenName", "value": "Same"}]));
    app.scim("PATCH", &format!("/Users/{id}"), Some(op.clone()));
    let again = app.scim("PATCH", &format!("/Users/{id}"), Some(op));
    assert_eq!(again.status, 200);
    assert_eq!(app.user(&id).version, 2, "a repeated PATCH is a no-op");
}
