//! Custom attributes provisioned over SCIM (issue #28), over real HTTP: an Entra-style user with
//! the enterprise extension and a custom extension the workspace declares lands its mapped values
//! in the admin API's user shape and the events; a changed department is named in `changed`; a
//! value that does not fit a declared extension attribute is a 400 `invalidValue` naming it and
//! nothing is applied; a mapped misfit is a provisioning-log warning; `/Schemas` and
//! `/ResourceTypes` describe the declared extension to the token's workspace only; an admin's
//! mapping override takes effect on the next write.

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use crate::common::{patch_op, TestApp};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const HR: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

/// Declares department, title, manager and employeeNumber from their templates, and the custom
/// extension's `costCenterCode` (a number) and `remote` (a boolean). Returns the attributes' ids
/// by name.
fn declare(app: &TestApp, key: &str) -> std::collections::BTreeMap<String, String> {
    let mut ids = std::collections::BTreeMap::new();
    let bodies = [
        json!({"template": "department"}),
        json!({"template": "title"}),
        json!({"template": "manager"}),
        json!({"template": "employeeNumber"}),
        json!({"name": "costCenterCode", "type": "number", "scimSchema": HR}),
        json!({"name": "remote", "type": "boolean", "scimSchema": HR}),
    ];
    for body in bodies {
        let created = app.admin(key, "POST", "/attributes", Some(body));
        assert_eq!(created.status, 201, "{:#}", created.body);
        ids.insert(
            created.body["name"].as_str().unwrap().to_owned(),
            created.body["id"].as_str().unwrap().to_owned(),
        );
    }
    ids
}

fn entra_user(user_name: &str, department: &str, manager: Option<&str>) -> Value {
    let mut enterprise = json!({ "department": department, "employeeNumber": "E-1042" });
    if let Some(manager) = manager {
        enterprise["manager"] = json!(manager);
    }
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, HR],
        "userName": user_name,
        "externalId": format!("ext-{user_name}"),
        "active": true,
        "title": "Engineer",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        ENTERPRISE: enterprise,
        HR: { "costCenterCode": "4100", "remote": "True" },
    })
}

fn admin_user(app: &TestApp, key: &str, id: &str) -> Value {
    let user = app.admin(key, "GET", &format!("/users/{id}"), None);
    assert_eq!(user.status, 200, "{:#}", user.body);
    user.body
}

#[test]
fn an_entra_user_brings_its_enterprise_and_custom_extension_attributes() {
    let app = TestApp::new();
    let key = app.api_key();
    declare(&app, &key);

    let boss = app.scim(
        "POST",
        "/Users",
        Some(entra_user("boss@acme.test", "Board", None)),
    );
    assert_eq!(boss.status, 201, "{:#}", boss.body);
    let boss_id = boss.body["id"].as_str().unwrap().to_owned();
    let created = app.scim(
        "POST",
        "/Users",
        Some(entra_user("ada@acme.test", "Sales", Some(&boss_id))),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();

    // The SCIM resource returns the declared extension typed, and lists its schema.
    assert_eq!(
        created.body[HR],
        json!({"costCenterCode": 4100, "remote": true})
    );
    assert!(created.body["schemas"]
        .as_array()
        .unwrap()
        .contains(&json!(HR)));
    assert_eq!(
        created.body[ENTERPRISE]["manager"],
        json!({"value": boss_id})
    );

    // The admin API's user shape carries every mapped value; employeeNumber is a string here.
    let user = admin_user(&app, &key, &id);
    assert_eq!(
        user["attributes"],
        json!({
            "department": "Sales",
            "title": "Engineer",
            "manager": boss_id,
            "employeeNumber": "E-1042",
            "costCenterCode": 4100,
            "remote": true,
        })
    );
    let events = app.user_events(&key, &id);
    assert_eq!(events[0]["type"], "user.created");
    assert_eq!(events[0]["resource"]["attributes"]["department"], "Sales");

    // Entra's PATCH of the department: the value moves, and `changed` names it.
    let patched = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([{
            "op": "Replace",
            "path": format!("{ENTERPRISE}:department"),
            "value": "Finance"
        }]))),
    );
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    assert_eq!(
        admin_user(&app, &key, &id)["attributes"]["department"],
        "Finance"
    );
    let events = app.user_events(&key, &id);
    let updated = events.last().unwrap();
    assert_eq!(updated["type"], "user.updated");
    let changed: Vec<&str> = updated["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert!(changed.contains(&"attributes.department"), "{changed:?}");
    assert!(!changed.contains(&"attributes.title"), "{changed:?}");

    // A custom extension attribute by its URN path, as Entra sends it.
    let patched = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([{
            "op": "Replace",
            "path": format!("{HR}:costCenterCode"),
            "value": 4200
        }]))),
    );
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    assert_eq!(patched.body[HR]["costCenterCode"], 4200);
    assert_eq!(
        admin_user(&app, &key, &id)["attributes"]["costCenterCode"],
        4200
    );

    // Removing the department in SCIM clears it (SCIM owns what it sources).
    let patched = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([{
            "op": "remove",
            "path": format!("{ENTERPRISE}:department"),
        }]))),
    );
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    let attributes = &admin_user(&app, &key, &id)["attributes"];
    assert_eq!(attributes.get("department"), None, "{attributes:#}");
    assert_eq!(attributes["title"], "Engineer");
}

#[test]
fn a_misfit_in_a_declared_extension_is_refused_whole_and_a_mapped_one_is_a_warning() {
    let app = TestApp::new();
    let key = app.api_key();
    declare(&app, &key);
    let created = app.scim(
        "POST",
        "/Users",
        Some(entra_user("ada@acme.test", "Sales", None)),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let before = admin_user(&app, &key, &id);
    let events_before = app.user_events(&key, &id).len();

    // One PATCH that changes the department and puts text in the number: 400, nothing applied.
    let refused = app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([
            {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Finance"},
            {"op": "replace", "path": format!("{HR}:costCenterCode"), "value": "abc"},
        ]))),
    );
    assert_eq!(refused.status, 400, "{:#}", refused.body);
    assert_eq!(refused.body["scimType"], "invalidValue");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("{HR}:costCenterCode")), "{detail}");
    assert!(detail.contains("must be a number"), "{detail}");
    assert_eq!(admin_user(&app, &key, &id), before);
    assert_eq!(app.user_events(&key, &id).len(), events_before);

    // The same on create: no user.
    let mut body = entra_user("bob@acme.test", "Sales", None);
    body[HR]["remote"] = json!("sometimes");
    let refused = app.scim("POST", "/Users", Some(body));
    assert_eq!(refused.status, 400, "{:#}", refused.body);
    assert_eq!(refused.body["scimType"], "invalidValue");
    let listed = app.scim(
        "GET",
        "/Users?filter=userName%20eq%20%22bob@acme.test%22",
        None,
    );
    assert_eq!(listed.body["totalResults"], 0);

    // A mapped value that does not fit (a number attribute fed by the enterprise employeeNumber)
    // keeps the stored value and says so in the provisioning log.
    let number = app.admin(
        &key,
        "POST",
        "/attributes",
        Some(json!({"name": "badgeNumber", "type": "number"})),
    );
    assert_eq!(number.status, 201, "{:#}", number.body);
    let badge_id = number.body["id"].as_str().unwrap();
    let connection = app.connection.id.to_string();
    let mapped = app.admin(
        &key,
        "PUT",
        &format!("/connections/{connection}/attribute-mappings/{badge_id}"),
        Some(json!({"protocol": "scim", "sources": [format!("{ENTERPRISE}:employeeNumber")]})),
    );
    assert_eq!(mapped.status, 200, "{:#}", mapped.body);
    assert_eq!(mapped.body["origin"], "custom");
    let replaced = app.scim(
        "PUT",
        &format!("/Users/{id}"),
        Some(entra_user("ada@acme.test", "Legal", None)),
    );
    assert_eq!(replaced.status, 200, "{:#}", replaced.body);
    let attributes = &admin_user(&app, &key, &id)["attributes"];
    assert_eq!(attributes["department"], "Legal");
    assert_eq!(attributes.get("badgeNumber"), None);
    let warning = app
        .provisioning_log()
        .into_iter()
        .filter_map(|entry| entry.warnings)
        .find(|warnings| warnings.contains("badgeNumber"))
        .expect("a provisioning-log warning about badgeNumber");
    assert!(warning.contains("must be a number"), "{warning}");
}

#[test]
fn an_admin_override_moves_where_an_attribute_comes_from() {
    let app = TestApp::new();
    let key = app.api_key();
    let ids = declare(&app, &key);
    let connection = app.connection.id.to_string();
    let listed = app.admin(
        &key,
        "GET",
        &format!("/connections/{connection}/attribute-mappings"),
        None,
    );
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    let department = listed.body["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["attribute"] == "department" && m["protocol"] == "scim")
        .unwrap()
        .clone();
    assert_eq!(department["origin"], "default");
    assert_eq!(
        department["sources"],
        json!([format!("{ENTERPRISE}:department")])
    );

    let path = format!(
        "/connections/{connection}/attribute-mappings/{}",
        ids["department"]
    );
    for (body, status) in [
        (json!({"protocol": "saml", "sources": ["x"]}), 400),
        (json!({"protocol": "ldap", "sources": ["x"]}), 400),
        (json!({"protocol": "scim", "sources": [" "]}), 400),
    ] {
        let refused = app.admin(&key, "PUT", &path, Some(body));
        assert_eq!(refused.status, status, "{:#}", refused.body);
    }
    let set = app.admin(
        &key,
        "PUT",
        &path,
        Some(json!({"protocol": "scim", "sources": [format!("{ENTERPRISE}:division"), "title"]})),
    );
    assert_eq!(set.status, 200, "{:#}", set.body);

    let mut body = entra_user("ada@acme.test", "Sales", None);
    body[ENTERPRISE]["division"] = json!("EMEA");
    let created = app.scim("POST", "/Users", Some(body));
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(
        admin_user(&app, &key, id)["attributes"]["department"],
        "EMEA"
    );

    // Back to the default: the next write reads the enterprise department again.
    let reset = app.admin(
        &key,
        "PUT",
        &path,
        Some(json!({"protocol": "scim", "sources": null})),
    );
    assert_eq!(reset.status, 200, "{:#}", reset.body);
    assert_eq!(reset.body["origin"], "default");
    let replaced = app.scim(
        "PUT",
        &format!("/Users/{id}"),
        Some(entra_user("ada@acme.test", "Sales", None)),
    );
    assert_eq!(replaced.status, 200, "{:#}", replaced.body);
    assert_eq!(
        admin_user(&app, &key, id)["attributes"]["department"],
        "Sales"
    );
}

#[test]
fn the_declared_extension_is_described_to_its_workspace_only() {
    let app = TestApp::new();
    let key = app.api_key();
    declare(&app, &key);
    let other = app.other_tenant("globex");

    let ids = |reply: &Value| -> Vec<String> {
        reply["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let schemas = app.scim("GET", "/Schemas", None);
    assert_eq!(schemas.status, 200, "{:#}", schemas.body);
    assert!(ids(&schemas.body).contains(&HR.to_owned()));
    let hr = app.scim("GET", &format!("/Schemas/{HR}"), None);
    assert_eq!(hr.status, 200, "{:#}", hr.body);
    let code = hr.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "costCenterCode")
        .unwrap()
        .clone();
    assert_eq!(code["type"], "decimal");
    let user_type = app.scim("GET", "/ResourceTypes/User", None);
    assert_eq!(
        user_type.body["schemaExtensions"][1],
        json!({"schema": HR, "required": false})
    );

    // Another workspace's token, and no token, see only the server's own schemas.
    let anonymous = app.scim_with("GET", "/Schemas", None, &[]);
    assert_eq!(anonymous.status, 200);
    assert!(!ids(&anonymous.body).contains(&HR.to_owned()));
    let globex = app.scim_with(
        "GET",
        "/Schemas",
        None,
        &[("authorization", &format!("Bearer {other}"))],
    );
    assert_eq!(globex.status, 200);
    assert_eq!(ids(&globex.body).len(), 3);
    let missing = app.scim_with("GET", &format!("/Schemas/{HR}"), None, &[]);
    assert_eq!(missing.status, 404);
}
