//! Refusals: every one a SCIM Error JSON with the right status and scimType, and nothing written.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::common::{patch_op, Options, TestApp};

#[test]
fn malformed_requests() {
    let app = TestApp::new();
    let bearer = format!("Bearer {}", app.token);
    let auth = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    app.raw("POST", "/scim/v2/Users", Some("{not json".into()), &auth)
        .assert_scim_error(400, Some("invalidSyntax"));
    app.raw("POST", "/scim/v2/Users", Some("[1,2]".into()), &auth)
        .assert_scim_error(400, Some("invalidSyntax"));
    app.scim(
        "POST",
        "/Users",
        Some(json!({"displayName": "no userName"})),
    )
    .assert_scim_error(400, Some("invalidValue"));
    app.scim(
        "POST",
        "/Users",
        Some(json!({"userName": "x", "active": "maybe"})),
    )
    .assert_scim_error(400, Some("invalidValue"));
    app.scim(
        "POST",
        "/Users",
        Some(json!({"userName": "x", "emails": [{"value": "not an email"}]})),
    )
    .assert_scim_error(400, Some("invalidValue"));
    app.scim("GET", "/Users?filter=userName+eq", None)
        .assert_scim_error(400, Some("invalidFilter"));
    app.scim("GET", "/Users?filter=title+eq+%22x%22", None)
        .assert_scim_error(400, Some("invalidFilter"));
    app.scim("GET", "/Users?filter=meta.created+gt+%22yesterday%22", None)
        .assert_scim_error(400, Some("invalidFilter"));
    app.scim("GET", "/Users?count=ten", None)
        .assert_scim_error(400, Some("invalidValue"));
    app.scim("GET", "/Users?sortBy=title", None)
        .assert_scim_error(400, Some("invalidValue"));
    app.scim(
        "GET",
        "/Users?attributes=userName&excludedAttributes=name",
        None,
    )
    .assert_scim_error(400, Some("invalidValue"));
    assert_eq!(
        app.db.store.count_users(app.workspace.id).unwrap(),
        0,
        "nothing was written"
    );
}

#[test]
fn bad_patches_change_nothing() {
    let app = TestApp::new();
    let id = app.create_user("pat", "e-pat");
    let before = app.user(&id);
    let path = format!("/Users/{id}");
    app.scim("PATCH", &path, Some(json!({"Operations": "nope"})))
        .assert_scim_error(400, Some("invalidSyntax"));
    app.scim(
        "PATCH",
        &path,
        Some(patch_op(json!([{"path": "title", "value": "x"}]))),
    )
    .assert_scim_error(400, Some("invalidSyntax"));
    app.scim(
        "PATCH",
        &path,
        Some(patch_op(json!([{"op": "jump", "path": "title"}]))),
    )
    .assert_scim_error(400, Some("invalidSyntax"));
    app.scim("PATCH", &path, Some(patch_op(json!([{"op": "remove"}]))))
        .assert_scim_error(400, Some("invalidPath"));
    app.scim(
        "PATCH",
        &path,
        Some(patch_op(
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
        )),
    )
    .assert_scim_error(400, Some("invalidPath"));
    // All or nothing: a valid first operation is not applied when the second fails.
    app.scim(
        "PATCH",
        &path,
        Some(patch_op(json!([
            {"op": "replace", "path": "title", "value": "Applied?"},
            {"op": "replace", "path": "id", "value": "other"},
        ]))),
    )
    .assert_scim_error(400, Some("mutability"));
    app.scim(
        "PATCH",
        &path,
        Some(patch_op(
            json!([{"op": "replace", "path": "active", "value": "perhaps"}]),
        )),
    )
    .assert_scim_error(400, Some("invalidValue"));
    assert_eq!(app.user(&id), before);
}

#[test]
fn oversized_bodies_are_refused_with_413() {
    let app = TestApp::with(Options {
        max_body_bytes: 4096,
        ..Options::default()
    });
    let big = json!({"userName": "big", "title": "x".repeat(5000)});
    app.scim("POST", "/Users", Some(big))
        .assert_scim_error(413, None);
    assert_eq!(app.db.store.count_users(app.workspace.id).unwrap(), 0);
}

#[test]
fn authentication_failures() {
    let app = TestApp::new();
    let missing = app.scim_with("GET", "/Users", None, &[]);
    missing.assert_scim_error(401, None);
    assert!(missing.header("www-authenticate").is_some());
    app.scim_with(
        "GET",
        "/Users",
        None,
        &[("authorization", "Bearer rsct_wrong")],
    )
    .assert_scim_error(401, None);
    app.scim_with(
        "GET",
        "/Users",
        None,
        &[("authorization", &format!("Basic {}", app.token))],
    )
    .assert_scim_error(401, None);
    let disabled = TestApp::with(Options {
        scim_enabled: false,
        ..Options::default()
    });
    disabled
        .scim("GET", "/Users", None)
        .assert_scim_error(403, None);
    assert!(
        app.provisioning_log().is_empty(),
        "unauthenticated requests are not attributed to the connection"
    );
}

#[test]
fn tenants_are_isolated() {
    let app = TestApp::new();
    let id = app.create_user("private", "e-private");
    let g = app
        .scim("POST", "/Groups", Some(json!({"displayName": "Private"})))
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app.other_tenant("globex");
    let bearer = format!("Bearer {other}");
    let as_other = |method: &str, path: &str, body| {
        app.scim_with(method, path, body, &[("authorization", bearer.as_str())])
    };
    assert_eq!(as_other("GET", "/Users", None).body["totalResults"], 0);
    assert_eq!(as_other("GET", "/Groups", None).body["totalResults"], 0);
    as_other("GET", &format!("/Users/{id}"), None).assert_scim_error(404, None);
    as_other(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(
            json!([{"op": "replace", "path": "active", "value": false}]),
        )),
    )
    .assert_scim_error(404, None);
    as_other(
        "PUT",
        &format!("/Users/{id}"),
        Some(json!({"userName": "private"})),
    )
    .assert_scim_error(404, None);
    as_other("DELETE", &format!("/Users/{id}"), None).assert_scim_error(404, None);
    as_other("GET", &format!("/Groups/{g}"), None).assert_scim_error(404, None);
    as_other(
        "PATCH",
        &format!("/Groups/{g}"),
        Some(patch_op(
            json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
        )),
    )
    .assert_scim_error(404, None);
    as_other("DELETE", &format!("/Groups/{g}"), None).assert_scim_error(404, None);
    // The other verbs of the surface: /.search and /Bulk see and touch nothing of A either.
    let searched = as_other(
        "POST",
        "/.search",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName eq \"private\""}),
        ),
    );
    assert_eq!(searched.status, 200);
    assert_eq!(searched.body["totalResults"], 0);
    let bulk = as_other(
        "POST",
        "/Bulk",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "PATCH", "path": format!("/Users/{id}"), "data": patch_op(
                    json!([{"op": "replace", "path": "active", "value": false}]))},
                {"method": "DELETE", "path": format!("/Groups/{g}")},
            ]}),
        ),
    );
    assert_eq!(bulk.status, 200, "{:#}", bulk.body);
    for op in bulk.body["Operations"].as_array().unwrap() {
        assert_eq!(op["status"], "404", "{op:#}");
    }
    // Same userName in the other workspace is a different user.
    assert_eq!(
        as_other("POST", "/Users", Some(json!({"userName": "private"}))).status,
        201
    );
    assert!(app.user(&id).lifecycle.is_active());
    assert_eq!(app.scim("GET", &format!("/Groups/{g}"), None).status, 200);
}

#[test]
fn unknown_routes_and_methods() {
    let app = TestApp::new();
    app.scim("GET", "/Nope", None).assert_scim_error(404, None);
    app.scim("GET", "/Users/not-a-uuid", None)
        .assert_scim_error(404, None);
    app.scim("DELETE", "/Users", None)
        .assert_scim_error(405, None);
    // A path is one route resource with several methods: the others are 405 in SCIM's format.
    app.scim(
        "POST",
        "/Users/01a23f5c-ad70-7670-aeb5-e8f727aee2b0",
        Some(serde_json::json!({})),
    )
    .assert_scim_error(405, None);
    app.scim("PUT", "/Groups", Some(serde_json::json!({})))
        .assert_scim_error(405, None);
}

#[test]
fn discovery_is_truthful() {
    let app = TestApp::new();
    let spc = app.scim_with("GET", "/ServiceProviderConfig", None, &[]);
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["bulk"]["supported"], true);
    assert_eq!(spc.body["bulk"]["maxOperations"], 1000);
    assert_eq!(spc.body["etag"]["supported"], true);
    assert_eq!(spc.body["filter"]["supported"], true);
    let schemas = app.scim("GET", "/Schemas", None);
    assert_eq!(schemas.body["totalResults"], 3);
    let user = app.scim(
        "GET",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        None,
    );
    let user_name = user.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["mutability"], "immutable");
    assert_eq!(
        app.scim("GET", "/ResourceTypes/User", None).body["endpoint"],
        "/Users"
    );
}

#[test]
fn rate_limit_answers_429_with_retry_after_per_connection() {
    let app = TestApp::with(Options {
        rate_limit: Some((0.5, 2.0)),
        ..Options::default()
    });
    assert_eq!(app.scim("GET", "/Users", None).status, 200);
    assert_eq!(app.scim("GET", "/Users", None).status, 200);
    let limited = app.scim("GET", "/Users", None);
    limited.assert_scim_error(429, None);
    assert_eq!(limited.header("retry-after"), Some("2"));
    let other = app.other_tenant("globex");
    let bearer = format!("Bearer {other}");
    assert_eq!(
        app.scim_with("GET", "/Users", None, &[("authorization", bearer.as_str())])
            .status,
        200,
        "another connection has its own budget"
    );
    assert_eq!(
        app.provisioning_log()[0].status,
        429,
        "a limited request is logged for the admin"
    );
}
