//! The admin SCIM surface (`/api/v1/admin/scim`): sync status, revoking a connection, group
//! mappings over HTTP with their errors — all `{code, message, detail}` JSON.

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, RoleName};
use serde_json::json;

use crate::common::{concrete_path, patch_op, TestApp};

#[test]
fn sync_status_and_revocation() {
    let app = TestApp::new();
    let key = app.api_key();
    app.create_user("ann", "e-ann");
    app.scim("POST", "/Groups", Some(json!({"displayName": "G"})));
    app.scim("GET", "/Users?filter=title+eq+%22x%22", None);
    let status = app.admin(&key, "GET", "/scim", None);
    assert_eq!(status.status, 200, "{:#}", status.body);
    let connection = &status.body["connections"][0];
    assert_eq!(connection["id"], app.connection.id.to_string());
    assert_eq!(
        (
            connection["provisionedUserCount"].as_i64(),
            connection["provisionedGroupCount"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(connection["recentFailures"], 1);
    assert_eq!(connection["status"], "active");
    assert!(connection["lastSyncAt"].is_string());

    let revoked = app.admin(
        &key,
        "DELETE",
        &format!("/scim/connections/{}", app.connection.id),
        None,
    );
    assert_eq!(revoked.status, 204);
    app.scim("GET", "/Users", None).assert_scim_error(401, None);
    let after = app.admin(&key, "GET", "/scim", None);
    assert_eq!(
        after.body["connections"][0]["status"], "revoked",
        "a revoked connection stays listed"
    );
    app.admin(&key, "DELETE", "/scim/connections/not-a-uuid", None)
        .assert_admin_error(404, "not_found");
    app.admin(
        &key,
        "DELETE",
        "/scim/connections/00000000-0000-0000-0000-000000000000",
        None,
    )
    .assert_admin_error(404, "not_found");
}

#[test]
fn mappings_over_http_change_roles_live() {
    let app = TestApp::new();
    let key = app.api_key();
    app.db
        .store
        .create_role(
            &Actor::Cli,
            app.workspace.id,
            &RoleName::parse("analyst").unwrap(),
            10,
        )
        .unwrap();
    let ann = app.create_user("ann", "e-ann");
    // By name, before the group exists: it waits.
    let pending = app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupName": "Analysts", "roleName": "analyst"})),
    );
    assert_eq!(pending.status, 201, "{:#}", pending.body);
    assert_eq!(pending.body["scimGroupId"], serde_json::Value::Null);
    let group = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Analysts", "members": [{"value": ann}]})),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let roles = |app: &TestApp| {
        app.db
            .store
            .effective_roles(&app.workspace, ann.parse().unwrap())
            .unwrap()
            .primary
            .to_string()
    };
    assert_eq!(roles(&app), "analyst");
    let listed = app.admin(&key, "GET", "/scim/group-mappings", None);
    assert_eq!(
        listed.body["mappings"][0]["scimGroupId"],
        group.as_str(),
        "bound to the stable id"
    );
    assert_eq!(listed.body["mappings"][0]["roleName"], "analyst");

    // By id, with an app group.
    let by_id = app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupId": group, "groupName": "Analytics"})),
    );
    assert_eq!(by_id.status, 201, "{:#}", by_id.body);
    let groups = app
        .db
        .store
        .groups_of_user(app.workspace.id, ann.parse().unwrap())
        .unwrap();
    assert!(groups
        .iter()
        .any(|g| g.display_name.as_str() == "Analytics"));

    // Errors, each the JSON envelope, nothing written.
    let before = app.db.store.list_mappings(app.workspace.id).unwrap().len();
    app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupId": group, "roleName": "analyst"})),
    )
    .assert_admin_error(409, "conflict");
    // An unknown role is the request's mistake: a 400 that names it in words and lists the
    // workspace's roles (never a Rust debug string, never a 404 that reads like a wrong URL).
    let unknown_role = app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupName": "X", "roleName": "ghost"})),
    );
    unknown_role.assert_admin_error(400, "validation");
    assert_eq!(
        unknown_role.body,
        json!({
            "code": "validation",
            "message": "no role named \"ghost\" in this workspace (its roles: admin, analyst, member)",
            "detail": {"field": "roleName", "roles": ["admin", "analyst", "member"]},
        })
    );
    app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupId": "00000000-0000-0000-0000-000000000000", "roleName": "analyst"})),
    )
    .assert_admin_error(404, "not_found");
    app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"roleName": "analyst"})),
    )
    .assert_admin_error(400, "validation");
    app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupName": "X"})),
    )
    .assert_admin_error(400, "validation");
    app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupName": "X", "roleName": "bad name!"})),
    )
    .assert_admin_error(400, "validation");
    app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupName": "X", "roleName": "analyst", "surprise": 1})),
    )
    .assert_admin_error(400, "validation");
    let raw = app.raw(
        "POST",
        "/api/v1/admin/scim/group-mappings",
        Some("{oops".into()),
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", "application/json"),
        ],
    );
    raw.assert_admin_error(400, "validation");
    assert_eq!(
        app.db.store.list_mappings(app.workspace.id).unwrap().len(),
        before
    );

    // Delete: roles revert at once.
    let id = pending.body["id"].as_str().unwrap();
    assert_eq!(
        app.admin(&key, "DELETE", &format!("/scim/group-mappings/{id}"), None)
            .status,
        204
    );
    assert_eq!(roles(&app), "member");
    app.admin(&key, "DELETE", &format!("/scim/group-mappings/{id}"), None)
        .assert_admin_error(404, "not_found");
    app.admin(&key, "DELETE", "/scim/group-mappings/garbage", None)
        .assert_admin_error(404, "not_found");
    // SCIM membership changes after that still flow through the remaining mapping.
    app.scim(
        "PATCH",
        &format!("/Groups/{group}"),
        Some(patch_op(json!([{"op": "remove", "path": "members"}]))),
    );
    assert!(!app
        .db
        .store
        .groups_of_user(app.workspace.id, ann.parse().unwrap())
        .unwrap()
        .iter()
        .any(|g| g.display_name.as_str() == "Analytics"));
}

#[test]
fn admin_authentication_and_unknown_routes() {
    let app = TestApp::new();
    app.raw("GET", "/api/v1/admin/scim", None, &[])
        .assert_admin_error(401, "unauthorized");
    app.admin("rsak_wrong", "GET", "/scim", None)
        .assert_admin_error(401, "unauthorized");
    app.admin(&app.token, "GET", "/scim", None)
        .assert_admin_error(401, "unauthorized");
    let key = app.api_key();
    app.admin(&key, "GET", "/nothing/here", None)
        .assert_admin_error(404, "not_found");
    // A path that exists with other methods: 405 with what it answers, and nothing happens.
    let users_before = app.admin(&key, "GET", "/users", None).body;
    let wrong = app.admin(
        &key,
        "PATCH",
        "/users",
        Some(json!({"email": "x@y.example"})),
    );
    wrong.assert_admin_error(405, "method_not_allowed");
    assert_eq!(wrong.body["detail"]["allow"], json!(["GET", "POST"]));
    let allow: Vec<&str> = wrong
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("allow"))
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(allow, ["GET, POST"]);
    app.admin(&key, "PUT", &format!("/users/{}", app.connection.id), None)
        .assert_admin_error(405, "method_not_allowed");
    assert_eq!(app.admin(&key, "GET", "/users", None).body, users_before);
    // Another workspace's key sees nothing of this one.
    let other = app.other_workspace_api_key("globex");
    assert_eq!(
        app.admin(&other, "GET", "/scim", None).body["connections"],
        json!([])
    );
    app.admin(
        &other,
        "DELETE",
        &format!("/scim/connections/{}", app.connection.id),
        None,
    )
    .assert_admin_error(404, "not_found");
    assert_eq!(app.scim("GET", "/Users", None).status, 200, "still active");
}

#[test]
fn every_documented_operation_is_routed() {
    let app = TestApp::new();
    let key = app.api_key();
    let document = app.raw("GET", "/api/v1/openapi.json", None, &[]);
    assert_eq!(document.status, 200);
    assert_eq!(document.body["openapi"], "3.1.0");
    let mut count = 0;
    for (method, path) in roster_admin::openapi::operations() {
        assert!(
            document.body["paths"][path.as_str()][method].is_object(),
            "{method} {path} in the document"
        );
        let concrete = concrete_path(&path);
        let body = matches!(method, "post" | "put").then(|| "{}".to_owned());
        let reply = app.raw(
            &method.to_uppercase(),
            &concrete,
            body,
            &[
                ("authorization", &format!("Bearer {key}")),
                ("content-type", "application/json"),
            ],
        );
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(
            !message.starts_with("no admin endpoint"),
            "{method} {path} is not routed: {:#}",
            reply.body
        );
        assert_ne!(reply.status, 500, "{method} {path}: {:#}", reply.body);
        count += 1;
    }
    assert!(count >= 26);
    // And an undocumented route is reported as such.
    let unknown = app.admin(&key, "GET", "/nothing", None);
    assert!(unknown.body["message"]
        .as_str()
        .unwrap()
        .starts_with("no admin endpoint"));
}

/// The API reference (docs/admin-api.md) documents every operation of the OpenAPI document.
#[test]
fn the_api_reference_documents_every_operation() {
    let reference = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/admin-api.md"),
    )
    .unwrap();
    let shape = |text: &str| -> String {
        let mut out = String::new();
        let mut in_param = false;
        for c in text.chars() {
            match c {
                '{' => {
                    in_param = true;
                    out.push_str("{}");
                }
                '}' => in_param = false,
                _ if !in_param => out.push(c),
                _ => {}
            }
        }
        out
    };
    let reference = shape(&reference);
    let missing: Vec<String> = roster_admin::openapi::operations()
        .map(|(method, path)| {
            format!(
                "{} {}",
                method.to_uppercase(),
                shape(path.strip_prefix("/api/v1/admin").unwrap())
            )
        })
        .filter(|operation| {
            ![
                format!("`{operation}`"),
                format!("`{operation} "),
                format!("`{operation}?"),
            ]
            .iter()
            .any(|form| reference.contains(form.as_str()))
        })
        .collect();
    assert!(missing.is_empty(), "not in docs/admin-api.md: {missing:#?}");
}
