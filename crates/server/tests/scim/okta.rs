//! Okta: the SPEC test's assertions and the lifecycle it drives (scim-interop.md §3.1): paging
//! with integers, PUT for profile updates, `active=false` instead of DELETE, and re-POSTs of
//! deactivated users that must reactivate rather than lock people out.

use pretty_assertions::assert_eq;
use roster_store::domain::Lifecycle;
use serde_json::json;

use crate::common::{patch_op, TestApp};

fn okta_user(user_name: &str, external_id: &str, given: &str) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": given, "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": format!("{given} User"),
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true,
    })
}

#[test]
fn spec_test_assertions() {
    let app = TestApp::new();
    let created = app.scim(
        "POST",
        "/Users",
        Some(okta_user(
            "test.user@okta.local",
            "00ujl29u0le5T6Aj10h7",
            "Test",
        )),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert!(
        created.body.get("password").is_none(),
        "passwords are never stored or returned"
    );
    assert_eq!(created.body["active"], true);
    let id = created.body["id"].as_str().unwrap().to_owned();

    let page = app.scim("GET", "/Users?count=1&startIndex=1", None);
    assert_eq!(page.status, 200);
    for field in ["itemsPerPage", "startIndex", "totalResults"] {
        assert!(
            page.body[field].is_i64(),
            "{field} is an integer: {:#}",
            page.body
        );
    }
    let first = &page.body["Resources"][0];
    for field in ["id", "userName", "active"] {
        assert!(!first[field].is_null(), "{field}");
    }
    assert_eq!(first["name"]["familyName"], "User");
    assert_eq!(first["emails"][0]["value"], "test.user@okta.local");

    let again = app.scim(
        "POST",
        "/Users",
        Some(okta_user(
            "test.user@okta.local",
            "00ujl29u0le5T6Aj10h7",
            "Test",
        )),
    );
    again.assert_scim_error(409, Some("uniqueness"));
    assert_eq!(app.db.store.count_users(app.workspace.id).unwrap(), 1);

    let upper = app.scim(
        "GET",
        "/Users?filter=userName%20eq%20%22TEST.USER%40OKTA.LOCAL%22",
        None,
    );
    assert_eq!(
        upper.body["totalResults"], 1,
        "userName is case-insensitive"
    );

    app.scim("GET", "/Users/00919288221112222", None)
        .assert_scim_error(404, None);
    app.scim_with("GET", "/Users", None, &[("authorization", "non-token")])
        .assert_scim_error(401, None);
    let random = app.scim(
        "GET",
        "/Users?filter=userName%20eq%20%22nobody-1234%40example.com%22",
        None,
    );
    assert_eq!(random.body["totalResults"], 0);
    assert_eq!(
        app.scim("GET", &format!("/Users/{id}"), None).body["id"],
        id.as_str()
    );
}

#[test]
fn profile_update_by_put_then_deactivate_and_reassign() {
    let app = TestApp::new();
    let id = app
        .scim(
            "POST",
            "/Users",
            Some(okta_user("ana@okta.local", "00u-ana", "Ana")),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // O4: GET then PUT the whole object.
    let mut put = okta_user("ana@okta.local", "00u-ana", "Another");
    put["id"] = json!(id);
    put["name"]["middleName"] = json!("Excited");
    let replaced = app.scim("PUT", &format!("/Users/{id}"), Some(put.clone()));
    assert_eq!(replaced.status, 200, "{:#}", replaced.body);
    assert_eq!(replaced.body["name"]["middleName"], "Excited");
    assert_eq!(app.user(&id).given_name.as_deref(), Some("Another"));

    // O5: deactivate by PATCH with a path-less value, then by PUT active=false (AIW apps).
    let off = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(
            json!([{"op": "replace", "value": {"active": false}}]),
        )),
    );
    assert_eq!(off.body["active"], false);
    assert_eq!(app.user(&id).lifecycle, Lifecycle::Deactivated);
    put["active"] = json!(true);
    app.scim("PUT", &format!("/Users/{id}"), Some(put.clone()));
    assert_eq!(app.user(&id).lifecycle, Lifecycle::Active);
    put["active"] = json!(false);
    app.scim("PUT", &format!("/Users/{id}"), Some(put));
    assert_eq!(app.user(&id).lifecycle, Lifecycle::Deactivated);

    // Reassignment re-POSTs the deactivated user: it comes back with the same id, not a 409.
    let back = app.scim(
        "POST",
        "/Users",
        Some(okta_user("ana@okta.local", "00u-ana", "Ana")),
    );
    assert_eq!(back.status, 201, "{:#}", back.body);
    assert_eq!(back.body["id"], id.as_str());
    assert_eq!(app.user(&id).lifecycle, Lifecycle::Active);
    assert_eq!(app.db.store.count_users(app.workspace.id).unwrap(), 1);
}

#[test]
fn re_post_after_delete_reprovisions_with_the_same_id() {
    let app = TestApp::new();
    let id = app.create_user("gone@okta.local", "00u-gone");
    assert_eq!(
        app.scim("DELETE", &format!("/Users/{id}"), None).status,
        204
    );
    let back = app.scim(
        "POST",
        "/Users",
        Some(okta_user("gone@okta.local", "00u-gone", "Back")),
    );
    assert_eq!(
        (back.status, back.body["id"].as_str()),
        (201, Some(id.as_str())),
        "{:#}",
        back.body
    );
    assert_eq!(app.user(&id).lifecycle, Lifecycle::Active);
    assert_eq!(app.scim("GET", &format!("/Users/{id}"), None).status, 200);
}
