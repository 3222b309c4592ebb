//! Groups: membership changes as set operations in every dialect, renames, deletes, and no lost
//! update under concurrent PATCHes.

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use crate::common::{patch_op, TestApp};

fn members(app: &TestApp, group_id: &str) -> Vec<String> {
    let reply = app.scim("GET", &format!("/Groups/{group_id}"), None);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let mut ids: Vec<String> = reply.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    ids.sort();
    ids
}

fn patch(app: &TestApp, group_id: &str, ops: Value) -> u16 {
    let reply = app.scim("PATCH", &format!("/Groups/{group_id}"), Some(patch_op(ops)));
    assert!(
        reply.status == 204 || reply.status == 200,
        "{:#}",
        reply.body
    );
    reply.status
}

#[test]
fn membership_changes_in_every_dialect() {
    let app = TestApp::new();
    let [a, b, c] = ["a", "b", "c"].map(|n| app.create_user(n, &format!("e-{n}")));
    let created = app.scim("POST", "/Groups", Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0", "displayName": "Engineering", "meta": {"resourceType": "Group"},
        "members": [{"value": a}],
    })));
    assert_eq!(created.status, 201, "{:#}", created.body);
    let g = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(members(&app, &g), vec![a.clone()]);

    // Entra: add several at once (204, no body).
    assert_eq!(
        patch(
            &app,
            &g,
            json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": b}, {"value": c}]}])
        ),
        204
    );
    assert_eq!(members(&app, &g), sorted(&[&a, &b, &c]));
    // Entra default job: Remove with a value removes only those members.
    patch(
        &app,
        &g,
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": b}]}]),
    );
    assert_eq!(members(&app, &g), sorted(&[&a, &c]));
    // aadOpt / Okta: remove by value filter.
    patch(
        &app,
        &g,
        json!([{"op": "remove", "path": format!("members[value eq \"{c}\"]")}]),
    );
    assert_eq!(members(&app, &g), vec![a.clone()]);
    // Okta push: remove + add in one request.
    patch(
        &app,
        &g,
        json!([
            {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
            {"op": "add", "path": "members", "value": [{"value": b, "display": "b"}]},
        ]),
    );
    assert_eq!(members(&app, &g), vec![b.clone()]);
    // Idempotent repeats.
    patch(
        &app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": b}]}]),
    );
    assert_eq!(members(&app, &g), vec![b.clone()]);
    // Replace sets the list; an empty replace clears it (Okta's empty push).
    patch(
        &app,
        &g,
        json!([{"op": "replace", "path": "members", "value": [{"value": a}, {"value": c}]}]),
    );
    assert_eq!(members(&app, &g), sorted(&[&a, &c]));
    patch(
        &app,
        &g,
        json!([{"op": "replace", "path": "members", "value": []}]),
    );
    assert!(members(&app, &g).is_empty());
    // Microsoft's collection: a bare string value; then remove all.
    patch(
        &app,
        &g,
        json!([{"op": "add", "path": "members", "value": a}]),
    );
    assert_eq!(members(&app, &g), vec![a.clone()]);
    patch(&app, &g, json!([{"op": "remove", "path": "members"}]));
    assert!(members(&app, &g).is_empty());
}

#[test]
fn rename_exclude_members_and_delete() {
    let app = TestApp::new();
    let a = app.create_user("a", "e-a");
    let g = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Sales", "members": [{"value": a}]})),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Okta rename: path-less replace carrying the unchanged id.
    assert_eq!(
        patch(
            &app,
            &g,
            json!([{"op": "replace", "value": {"id": g, "displayName": "Sales EMEA"}}])
        ),
        204
    );
    let without = app.scim(
        "GET",
        &format!("/Groups/{g}?excludedAttributes=members"),
        None,
    );
    assert_eq!(without.body["displayName"], "Sales EMEA");
    assert!(without.body.get("members").is_none(), "{:#}", without.body);
    let found = app.scim(
        "GET",
        "/Groups?excludedAttributes=members&filter=displayName+eq+%22sales+emea%22",
        None,
    );
    assert_eq!(found.body["totalResults"], 1);
    assert!(found.body["Resources"][0].get("members").is_none());
    // Asking for attributes turns the 204 into a 200 with the resource.
    let asked = app.scim(
        "PATCH",
        &format!("/Groups/{g}?attributes=displayName"),
        Some(patch_op(json!([
            {"op": "replace", "path": "displayName", "value": "Sales APAC"}
        ]))),
    );
    assert_eq!(
        (asked.status, asked.body["displayName"].as_str()),
        (200, Some("Sales APAC"))
    );
    assert_eq!(
        app.scim("DELETE", &format!("/Groups/{g}"), None).status,
        204
    );
    app.scim("GET", &format!("/Groups/{g}"), None)
        .assert_scim_error(404, None);
    assert_eq!(
        app.scim("GET", &format!("/Users/{a}"), None).status,
        200,
        "members stay"
    );
}

#[test]
fn duplicate_group_names_conflict() {
    let app = TestApp::new();
    assert_eq!(
        app.scim("POST", "/Groups", Some(json!({"displayName": "Ops"})))
            .status,
        201
    );
    app.scim("POST", "/Groups", Some(json!({"displayName": "OPS"})))
        .assert_scim_error(409, Some("uniqueness"));
}

#[test]
fn unknown_member_ids_are_ignored_and_logged() {
    let app = TestApp::new();
    let a = app.create_user("a", "e-a");
    let g = app
        .scim("POST", "/Groups", Some(json!({"displayName": "Mixed"})))
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    patch(
        &app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": "not-a-user"}]}]),
    );
    assert_eq!(members(&app, &g), vec![a]);
    // Newest first; the GET that read the members back is a read and writes no row.
    let warnings = app.provisioning_log()[0]
        .warnings
        .clone()
        .unwrap_or_default();
    assert!(warnings.contains("not-a-user"), "{warnings}");
}

#[test]
fn concurrent_member_patches_lose_no_update() {
    let app = TestApp::new();
    let users: Vec<String> = (0..16)
        .map(|i| app.create_user(&format!("u{i}"), &format!("e-{i}")))
        .collect();
    let g = app
        .scim("POST", "/Groups", Some(json!({"displayName": "Everyone"})))
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    std::thread::scope(|scope| {
        for user in &users {
            let (app, g) = (&app, &g);
            scope.spawn(move || {
                patch(
                    app,
                    g,
                    json!([{"op": "add", "path": "members", "value": [{"value": user}]}]),
                )
            });
        }
    });
    let mut want = users.clone();
    want.sort();
    assert_eq!(members(&app, &g), want);
    // And concurrent removals of half of them.
    std::thread::scope(|scope| {
        for user in users.iter().step_by(2) {
            let (app, g) = (&app, &g);
            scope.spawn(move || {
                patch(
                    app,
                    g,
                    json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]),
                )
            });
        }
    });
    let mut want: Vec<String> = users.iter().skip(1).step_by(2).cloned().collect();
    want.sort();
    assert_eq!(members(&app, &g), want);
}
