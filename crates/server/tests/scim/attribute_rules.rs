//! Roles from attribute values (issue #28), driven by real SCIM requests: "department = Finance
//! gives finance-viewer" holds after every step — a SCIM create, a PATCH that moves the
//! department (in the same request, with its `user.roles_changed` after the `user.updated`), a
//! deprovisioning, a rule created or deleted — and every refusal writes nothing.

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use crate::common::{patch_op, TestApp};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn roles(app: &TestApp, user_id: &str) -> Vec<String> {
    app.db
        .store
        .effective_roles(&app.workspace, user_id.parse().unwrap())
        .unwrap()
        .roles
        .iter()
        .map(|role| role.to_string())
        .collect()
}

fn scim_user(user_name: &str, department: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": user_name,
        "externalId": format!("ext-{user_name}"),
        "emails": [{"value": user_name, "primary": true}],
        ENTERPRISE: { "department": department },
    })
}

fn set_department(app: &TestApp, id: &str, department: &str) {
    let patched = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([{
            "op": "replace",
            "path": format!("{ENTERPRISE}:department"),
            "value": department,
        }]))),
    );
    assert_eq!(patched.status, 200, "{:#}", patched.body);
}

fn event_types_of(app: &TestApp, key: &str, id: &str) -> Vec<String> {
    app.user_events(key, id)
        .iter()
        .map(|event| event["type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_department_moves_its_role_at_once() {
    let app = TestApp::new();
    let key = app.api_key();
    let declared = app.admin(
        &key,
        "POST",
        "/attributes",
        Some(json!({"template": "department"})),
    );
    assert_eq!(declared.status, 201, "{:#}", declared.body);
    let role = app.admin(
        &key,
        "POST",
        "/roles",
        Some(json!({"name": "finance-viewer"})),
    );
    assert_eq!(role.status, 201, "{:#}", role.body);

    // Ann is in Finance before the rule exists: the rule's creation gives her the role.
    let ann = app.scim(
        "POST",
        "/Users",
        Some(scim_user("ann@acme.test", "Finance")),
    );
    assert_eq!(ann.status, 201, "{:#}", ann.body);
    let ann = ann.body["id"].as_str().unwrap().to_owned();
    assert_eq!(roles(&app, &ann), vec!["member"]);
    let rule = app.admin(
        &key,
        "POST",
        "/attribute-role-rules",
        Some(json!({"attribute": "department", "value": "finance", "roleName": "finance-viewer"})),
    );
    assert_eq!(rule.status, 201, "{:#}", rule.body);
    assert_eq!(rule.body["value"], "finance");
    let rule_id = rule.body["id"].as_str().unwrap().to_owned();
    assert_eq!(roles(&app, &ann), vec!["finance-viewer"]);

    // Bob is created in Finance: he has it from his first event on.
    let bob = app.scim(
        "POST",
        "/Users",
        Some(scim_user("bob@acme.test", "FINANCE")),
    );
    assert_eq!(bob.status, 201, "{:#}", bob.body);
    let bob = bob.body["id"].as_str().unwrap().to_owned();
    assert_eq!(roles(&app, &bob), vec!["finance-viewer"]);
    assert_eq!(
        event_types_of(&app, &key, &bob),
        vec!["user.created", "user.roles_changed"]
    );

    // Moving to Sales takes it away within the PATCH; moving back gives it again.
    set_department(&app, &bob, "Sales");
    assert_eq!(roles(&app, &bob), vec!["member"]);
    let types = event_types_of(&app, &key, &bob);
    assert_eq!(
        types[types.len() - 2..],
        ["user.updated", "user.roles_changed"]
    );
    set_department(&app, &bob, "Finance");
    assert_eq!(roles(&app, &bob), vec!["finance-viewer"]);

    // A change of another attribute does not recompute anything.
    let before = event_types_of(&app, &key, &bob).len();
    let patched = app.scim(
        "PATCH",
        &format!("/Users/{bob}"),
        Some(patch_op(
            json!([{"op": "replace", "path": "displayName", "value": "Bob"}]),
        )),
    );
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    assert_eq!(event_types_of(&app, &key, &bob).len(), before + 1);

    // Deprovisioning drops it with the rest.
    let deleted = app.scim("DELETE", &format!("/Users/{ann}"), None);
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
    assert!(!roles(&app, &ann).contains(&"finance-viewer".to_owned()));

    // Deleting the rule takes it back from everyone it gave it to.
    let listed = app.admin(&key, "GET", "/attribute-role-rules", None);
    assert_eq!(listed.body["rules"].as_array().unwrap().len(), 1);
    let deleted = app.admin(
        &key,
        "DELETE",
        &format!("/attribute-role-rules/{rule_id}"),
        None,
    );
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
    assert_eq!(roles(&app, &bob), vec!["member"]);
}

#[test]
fn a_rule_that_cannot_hold_is_refused_and_writes_nothing() {
    let app = TestApp::new();
    let key = app.api_key();
    for body in [
        json!({"template": "department"}),
        json!({"name": "costCenterCode", "type": "number"}),
    ] {
        let declared = app.admin(&key, "POST", "/attributes", Some(body));
        assert_eq!(declared.status, 201, "{:#}", declared.body);
    }
    let role = app.admin(
        &key,
        "POST",
        "/roles",
        Some(json!({"name": "finance-viewer"})),
    );
    assert_eq!(role.status, 201, "{:#}", role.body);
    let audit_before = app
        .db
        .store
        .audit_events(app.workspace.id, None, 10_000)
        .unwrap()
        .len();

    for (body, status, needle) in [
        (
            json!({"attribute": "shoeSize", "value": "42", "roleName": "finance-viewer"}),
            400,
            "shoeSize",
        ),
        (
            json!({"attribute": "costCenterCode", "value": "abc", "roleName": "finance-viewer"}),
            400,
            "number",
        ),
        (
            json!({"attribute": "department", "value": "Finance", "roleName": "nobody"}),
            400,
            "nobody",
        ),
        (
            json!({"attribute": "department", "value": "Finance", "roleName": "admin"}),
            400,
            "admin",
        ),
        (
            json!({"attribute": "department", "value": " ", "roleName": "finance-viewer"}),
            400,
            "blank",
        ),
    ] {
        let refused = app.admin(&key, "POST", "/attribute-role-rules", Some(body.clone()));
        assert_eq!(refused.status, status, "{body}: {:#}", refused.body);
        assert!(
            refused.body.to_string().contains(needle),
            "{body}: {:#}",
            refused.body
        );
    }
    assert_eq!(
        app.db
            .store
            .audit_events(app.workspace.id, None, 10_000)
            .unwrap()
            .len(),
        audit_before
    );
    let first = app.admin(
        &key,
        "POST",
        "/attribute-role-rules",
        Some(json!({"attribute": "costCenterCode", "value": "4100", "roleName": "finance-viewer"})),
    );
    assert_eq!(first.status, 201, "{:#}", first.body);
    // The same number written another way is the same rule.
    let again = app.admin(
        &key,
        "POST",
        "/attribute-role-rules",
        Some(
            json!({"attribute": "costCenterCode", "value": "4.1e3", "roleName": "finance-viewer"}),
        ),
    );
    assert_eq!(again.status, 409, "{:#}", again.body);
}
