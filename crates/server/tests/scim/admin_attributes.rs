//! Custom attribute declarations over real HTTP (issue #28): the standard templates, a template
//! or a custom attribute declared, every refusal a `validation` or `conflict` that writes
//! nothing, deletion in the workspace only, the same routes through the operator API, and the
//! audit trail.

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::operator_api::{operator, operator_key};

fn names(listed: &Value) -> Vec<String> {
    listed["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn attributes_are_declared_from_templates_or_by_name_and_type() {
    let app = TestApp::new();
    let key = app.api_key();
    let listed = app.admin(&key, "GET", "/attributes", None);
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    assert_eq!(listed.body, json!({ "attributes": [] }));
    let templates = app.admin(&key, "GET", "/attributes/templates", None).body;
    let all = templates["templates"].as_array().unwrap();
    assert_eq!(all.len(), 9);
    assert!(all.iter().all(|t| t["declared"] == false));
    assert_eq!(
        all.iter().find(|t| t["template"] == "manager").unwrap()["type"],
        "user_ref"
    );

    let department = app.admin(
        &key,
        "POST",
        "/attributes",
        Some(json!({"template": "department"})),
    );
    assert_eq!(department.status, 201, "{:#}", department.body);
    assert_eq!(department.body["name"], "department");
    assert_eq!(department.body["label"], "Department");
    assert_eq!(department.body["standard"], "department");
    let code = app.admin(
        &key,
        "POST",
        "/attributes",
        Some(json!({"name": "costCenterCode", "type": "number", "label": "Cost centre code", "released": false})),
    );
    assert_eq!(code.status, 201, "{:#}", code.body);
    assert_eq!(code.body["type"], "number");
    assert_eq!(code.body["released"], false);
    assert_eq!(code.body["caseExact"], false);

    // Refusals: each a 400 or 409, nothing written.
    for (body, status, code_) in [
        (json!({"template": "department"}), 409, "conflict"),
        (
            json!({"name": "COSTCENTERCODE", "type": "string"}),
            400,
            "validation",
        ),
        (
            json!({"name": "costcentercode", "type": "string"}),
            409,
            "conflict",
        ),
        (json!({"name": "skills"}), 400, "validation"),
        (json!({"name": "skills", "type": "date"}), 400, "validation"),
        (
            json!({"name": "manager", "type": "string"}),
            400,
            "validation",
        ),
        (json!({"template": "shoeSize"}), 400, "validation"),
        (
            json!({"template": "title", "label": "Job"}),
            400,
            "validation",
        ),
        (json!({}), 400, "validation"),
        (
            json!({"name": "x", "type": "string", "colour": "red"}),
            400,
            "validation",
        ),
    ] {
        app.admin(&key, "POST", "/attributes", Some(body.clone()))
            .assert_admin_error(status, code_);
    }
    let listed = app.admin(&key, "GET", "/attributes", None).body;
    assert_eq!(names(&listed), ["department", "costCenterCode"]);
    let templates = app.admin(&key, "GET", "/attributes/templates", None).body;
    let declared: Vec<&str> = templates["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["declared"] == true)
        .map(|t| t["template"].as_str().unwrap())
        .collect();
    assert_eq!(declared, ["department"]);

    // Another workspace's key cannot delete it; this one can, once.
    let id = department.body["id"].as_str().unwrap().to_owned();
    let other = app.other_workspace_api_key("globex");
    app.admin(&other, "DELETE", &format!("/attributes/{id}"), None)
        .assert_admin_error(404, "not_found");
    assert_eq!(
        app.admin(&key, "DELETE", &format!("/attributes/{id}"), None)
            .status,
        204
    );
    app.admin(&key, "DELETE", &format!("/attributes/{id}"), None)
        .assert_admin_error(404, "not_found");
    assert_eq!(
        names(&app.admin(&key, "GET", "/attributes", None).body),
        ["costCenterCode"]
    );

    // The operator's entry point is the same implementation.
    let operator_key = operator_key(&app);
    let slug = app.workspace.slug.to_string();
    let through_operator = operator(
        &app,
        &operator_key,
        "POST",
        &format!("/workspaces/{slug}/attributes"),
        Some(json!({"template": "title"})),
    );
    assert_eq!(through_operator.status, 201, "{:#}", through_operator.body);
    assert_eq!(
        names(&app.admin(&key, "GET", "/attributes", None).body),
        ["costCenterCode", "title"]
    );

    let audit: Vec<String> = app
        .db
        .store
        .audit_events(app.workspace.id, None, 100)
        .unwrap()
        .into_iter()
        .map(|event| event.action)
        .filter(|action| action.starts_with("attribute."))
        .collect();
    assert_eq!(
        audit,
        [
            "attribute.created",
            "attribute.created",
            "attribute.deleted",
            "attribute.created"
        ]
    );
}

/// An admin sets a user's values: each typed against its declaration, `null` clears, the rest
/// kept; one `user.updated` names what changed. A value that does not fit, an undeclared
/// attribute or a manager who is nobody is a 400 naming it, and nothing changes; an
/// IdP-managed user's values are the IdP's.
#[test]
fn an_admin_sets_a_users_values_typed_against_their_declarations() {
    let app = TestApp::new();
    let key = app.api_key();
    for body in [
        json!({"template": "department"}),
        json!({"template": "manager"}),
        json!({"name": "costCenterCode", "type": "number"}),
        json!({"name": "skills", "type": "string_list"}),
        json!({"name": "contractor", "type": "boolean"}),
    ] {
        assert_eq!(
            app.admin(&key, "POST", "/attributes", Some(body)).status,
            201
        );
    }
    let ann = app.store_user(
        "ann",
        "ann@acme.test",
        roster_store::domain::Source::Invited,
    );
    let boss = app.store_user(
        "boss",
        "boss@acme.test",
        roster_store::domain::Source::Invited,
    );
    let path = format!("/users/{}/attributes", ann.id);
    let set = app.admin(
        &key,
        "PUT",
        &path,
        Some(json!({"attributes": {
            "department": " Sales ",
            "manager": boss.id.to_string(),
            "costCenterCode": "42",
            "skills": ["rust", "sql"],
            "contractor": "false",
        }})),
    );
    assert_eq!(set.status, 200, "{:#}", set.body);
    assert_eq!(
        set.body["attributes"],
        json!({
            "department": "Sales",
            "manager": boss.id.to_string(),
            "costCenterCode": 42,
            "skills": ["rust", "sql"],
            "contractor": false,
        })
    );
    let version = app.user(&ann.id.to_string()).version;

    for (attributes, names) in [
        (
            json!({"costCenterCode": "abc"}),
            "attributes.costCenterCode: must be a number",
        ),
        (
            json!({"shoeSize": 44}),
            "attributes.shoeSize: the workspace declares no such attribute",
        ),
        (
            json!({"manager": "00000000-0000-7000-8000-000000000000"}),
            "no user",
        ),
        (json!({"manager": "not-an-id"}), "attributes.manager"),
        (
            json!({"department": ["a", "b"]}),
            "attributes.department: takes one value",
        ),
        (json!({"skills": {"a": 1}}), "attributes.skills"),
    ] {
        let message = app
            .admin(
                &key,
                "PUT",
                &path,
                Some(json!({ "attributes": attributes })),
            )
            .assert_admin_error(400, "validation");
        assert!(message.contains(names), "{message} should name {names}");
    }
    assert_eq!(
        app.user(&ann.id.to_string()).version,
        version,
        "nothing changed"
    );

    // null clears; unnamed ones are kept; the event names exactly what changed.
    let cleared = app.admin(
        &key,
        "PUT",
        &path,
        Some(json!({"attributes": {"department": null, "contractor": true, "skills": ["rust", "sql"]}})),
    );
    assert_eq!(cleared.status, 200, "{:#}", cleared.body);
    assert_eq!(cleared.body["attributes"].get("department"), None);
    assert_eq!(cleared.body["attributes"]["costCenterCode"], 42.0);
    let events = app
        .db
        .store
        .events(app.workspace.id, 0, 1000, &["user.updated".to_owned()])
        .unwrap();
    let last = events.last().unwrap().message();
    assert_eq!(
        last.changed,
        Some(vec![
            "attributes.contractor".to_owned(),
            "attributes.department".to_owned()
        ])
    );
    assert_eq!(last.resource["attributes"], cleared.body["attributes"]);

    // What `/api/v1/me` answers carries them too.
    let profile = app
        .db
        .store
        .user_profile(&app.workspace, &app.user(&ann.id.to_string()))
        .unwrap();
    assert_eq!(profile.attributes, cleared.body["attributes"]);

    // Deleting a declaration removes its values (a later one of that name starts empty).
    let contractor = app.admin(&key, "GET", "/attributes", None).body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "contractor")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.admin(&key, "DELETE", &format!("/attributes/{contractor}"), None)
            .status,
        204
    );
    let shown = app.admin(&key, "GET", &format!("/users/{}", ann.id), None);
    assert_eq!(
        shown.body["attributes"].get("contractor"),
        None,
        "{:#}",
        shown.body
    );
    assert_eq!(shown.body["attributes"]["costCenterCode"], 42.0);
    let stripped = app
        .db
        .store
        .events(app.workspace.id, 0, 1000, &["user.updated".to_owned()])
        .unwrap()
        .last()
        .unwrap()
        .message();
    assert_eq!(
        stripped.changed,
        Some(vec!["attributes.contractor".to_owned()])
    );

    // An IdP-managed user: the values are the IdP's.
    let scim = app.create_user("sam", "sam-ext");
    let refused = app.admin(
        &key,
        "PUT",
        &format!("/users/{}/attributes", scim),
        Some(json!({"attributes": {"department": "Ops"}})),
    );
    refused.assert_admin_error(403, "forbidden");
    assert_eq!(refused.body["detail"]["refusal"], "scim_managed_user");
}
