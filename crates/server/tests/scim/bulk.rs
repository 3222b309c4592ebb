//! `/Bulk`: bulkId references in any order, per-operation results, failOnErrors, limits.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::common::TestApp;

fn bulk(ops: serde_json::Value, fail_on_errors: Option<u64>) -> serde_json::Value {
    let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
    if let Some(limit) = fail_on_errors {
        body["failOnErrors"] = json!(limit);
    }
    body
}

#[test]
fn creates_with_references_in_any_order() {
    let app = TestApp::new();
    let reply = app.scim("POST", "/Bulk", Some(bulk(json!([
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"displayName": "Bulk group", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "bulk1"}},
        {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "bulk2"}},
        {"method": "PATCH", "path": "/Users/bulkId:u1",
         "data": {"Operations": [{"op": "replace", "path": "active", "value": false}]}},
    ]), None)));
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(
        reply.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = reply.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["201", "201", "201", "200"], "{ops:#?}");
    assert_eq!(ops[0]["bulkId"], "g1");
    let group_location = ops[0]["location"].as_str().unwrap();
    let group_id = group_location.rsplit('/').next().unwrap();
    let group = app.scim("GET", &format!("/Groups/{group_id}"), None);
    assert_eq!(
        group.body["members"].as_array().unwrap().len(),
        2,
        "{:#}",
        group.body
    );
    let u1 = ops[1]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        !app.user(&u1).lifecycle.is_active(),
        "the PATCH by bulkId reached the created user"
    );
}

#[test]
fn errors_are_reported_per_operation_and_fail_on_errors_stops() {
    let app = TestApp::new();
    app.create_user("taken", "e-taken");
    let reply = app.scim(
        "POST",
        "/Bulk",
        Some(bulk(
            json!([
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "taken"}},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "fresh"}},
                {"method": "DELETE", "path": "/Users/00000000-0000-0000-0000-000000000000"},
                {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "never"}},
            ]),
            Some(2),
        )),
    );
    assert_eq!(reply.status, 200);
    let ops = reply.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 3, "processing stops after two errors: {ops:#?}");
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    assert_eq!(ops[1]["status"], "201");
    assert_eq!(ops[2]["status"], "404");
    let never = app.scim("GET", "/Users?filter=userName+eq+%22never%22", None);
    assert_eq!(never.body["totalResults"], 0);
}

#[test]
fn unknown_references_and_limits() {
    let app = TestApp::new();
    let reply = app.scim("POST", "/Bulk", Some(bulk(json!([
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:ghost"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "bulkId:y"}},
        {"method": "POST", "path": "/Users", "bulkId": "y", "data": {"userName": "bulkId:x"}},
        {"method": "GET", "path": "/Users"},
    ]), None)));
    let ops = reply.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["409", "409", "409", "400"], "{ops:#?}");
    assert_eq!(app.db.store.count_users(app.workspace.id).unwrap(), 0);
    let too_many: Vec<_> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    app.scim("POST", "/Bulk", Some(bulk(json!(too_many), None)))
        .assert_scim_error(413, None);
    app.scim("POST", "/Bulk", Some(json!({"Operations": "no"})))
        .assert_scim_error(400, Some("invalidSyntax"));
}
