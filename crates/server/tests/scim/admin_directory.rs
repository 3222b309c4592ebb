//! The admin API's directory: every write asks the policy, refusals are 403 with the policy's
//! code and change nothing; the users listing filtered by a custom attribute's value; tokens,
//! the SCIM switch, logs and the audit export.

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, DisplayName, GroupKind, Lifecycle, Source};
use roster_store::NewGroup;
use serde_json::json;

use crate::common::{Reply, TestApp};

fn refused(reply: &Reply, code: &str) {
    assert_eq!(reply.status, 403, "{:#}", reply.body);
    assert_eq!(reply.body["code"], "forbidden");
    assert_eq!(reply.body["detail"]["refusal"], code, "{:#}", reply.body);
}

fn jit_user(app: &TestApp, name: &str) -> String {
    app.store_user(name, &format!("{name}@acme.test"), Source::Jit)
        .id
        .to_string()
}

#[test]
fn the_policy_decides_users_and_scim_switch() {
    let app = TestApp::new();
    let key = app.api_key();
    let scim_user = app.create_user("scimmy", "e-s");
    let jit = jit_user(&app, "jitty");

    // SCIM on: no invites, SCIM users are the IdP's.
    refused(
        &app.admin(
            &key,
            "POST",
            "/users",
            Some(json!({"email": "new@acme.test"})),
        ),
        "scim_provisions_users",
    );
    assert_eq!(
        app.db.store.count_users(app.workspace.id).unwrap(),
        2,
        "nothing written"
    );
    let before = app.user(&scim_user);
    refused(
        &app.admin(&key, "POST", &format!("/users/{scim_user}/disable"), None),
        "scim_managed_user",
    );
    assert_eq!(app.user(&scim_user), before);
    // A JIT user stays the admin's: disabling ends its sessions.
    let disabled = app.admin(&key, "POST", &format!("/users/{jit}/disable"), None);
    assert_eq!(
        (disabled.status, disabled.body["active"].as_bool()),
        (200, Some(false)),
        "{:#}",
        disabled.body
    );
    assert_eq!(app.user(&jit).session_epoch, 1);
    assert_eq!(
        app.admin(&key, "POST", &format!("/users/{jit}/enable"), None)
            .body["active"],
        true
    );

    // The listing tells the console what it may offer, with reasons.
    let listed = app.admin(&key, "GET", "/users?q=scim", None);
    let users = listed.body["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    for action in ["enable", "disable"] {
        assert_eq!(users[0]["actions"][action]["allowed"], false);
        assert_eq!(users[0]["actions"][action]["refusal"], "scim_managed_user");
    }

    // SCIM off: the IdP's requests stop, invites and edits come back to the admin.
    let switched = app.admin(
        &key,
        "PUT",
        &format!("/connections/{}/scim", app.connection.id),
        Some(json!({"enabled": false})),
    );
    assert_eq!(
        (switched.status, switched.body["scimEnabled"].as_bool()),
        (200, Some(false)),
        "{:#}",
        switched.body
    );
    app.scim("GET", "/Users", None).assert_scim_error(403, None);
    let invited = app.admin(
        &key,
        "POST",
        "/users",
        Some(json!({"email": "new@acme.test", "givenName": "New"})),
    );
    assert_eq!(
        (invited.status, invited.body["source"].as_str()),
        (201, Some("invited")),
        "{:#}",
        invited.body
    );
    assert_eq!(
        app.admin(&key, "POST", &format!("/users/{scim_user}/disable"), None)
            .status,
        200
    );
    assert_eq!(app.user(&scim_user).lifecycle, Lifecycle::Deactivated);
    let bad = app.admin(
        &key,
        "POST",
        "/users",
        Some(json!({"email": "not an email"})),
    );
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (400, Some("validation"))
    );
}

#[test]
fn users_are_filtered_by_a_custom_attribute_value() {
    let app = TestApp::new();
    let key = app.api_key();
    for body in [
        json!({"template": "department"}),
        json!({"name": "floor", "type": "number"}),
        json!({"name": "skills", "type": "string_list"}),
        json!({"name": "badge", "type": "string", "caseExact": true}),
        json!({"name": "remote", "type": "boolean"}),
    ] {
        let declared = app.admin(&key, "POST", "/attributes", Some(body));
        assert_eq!(declared.status, 201, "{:#}", declared.body);
    }
    let ann = jit_user(&app, "ann");
    let bob = jit_user(&app, "bob");
    let cy = jit_user(&app, "cy");
    for (id, values) in [
        (
            &ann,
            json!({"department": "Sales", "floor": 4, "skills": ["Rust", "Go"], "badge": "AB-1", "remote": true}),
        ),
        (
            &bob,
            json!({"department": "sales", "floor": "4.0", "skills": ["go"], "badge": "ab-1", "remote": "false"}),
        ),
        (&cy, json!({"department": "Marketing", "floor": 12})),
    ] {
        let set = app.admin(
            &key,
            "PUT",
            &format!("/users/{id}/attributes"),
            Some(json!({ "attributes": values })),
        );
        assert_eq!(set.status, 200, "{:#}", set.body);
    }
    let listed = |query: &str| -> Vec<String> {
        let reply = app.admin(&key, "GET", &format!("/users?{query}"), None);
        assert_eq!(reply.status, 200, "{query}: {:#}", reply.body);
        let mut names: Vec<String> = reply.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };

    // Through the index: text without case (unless case-exact), numbers as numbers (12 is not
    // "12" < "4"), booleans however written, a list by any element.
    assert_eq!(listed("attribute=department&value=SALES"), ["ann", "bob"]);
    assert_eq!(listed("attribute=department&value=Marketing"), ["cy"]);
    assert_eq!(listed("attribute=floor&value=4"), ["ann", "bob"]);
    assert_eq!(listed("attribute=floor&value=4e0"), ["ann", "bob"]);
    assert_eq!(listed("attribute=floor&value=12"), ["cy"]);
    assert_eq!(listed("attribute=skills&value=GO"), ["ann", "bob"]);
    assert_eq!(listed("attribute=skills&value=rust"), ["ann"]);
    assert_eq!(listed("attribute=badge&value=AB-1"), ["ann"]);
    assert_eq!(listed("attribute=remote&value=1"), ["ann"]);
    assert_eq!(listed("attribute=remote&value=false"), ["bob"]);
    assert!(listed("attribute=department&value=Legal").is_empty());
    // The attribute's name reads without case, and the filter goes with the search and paging.
    assert_eq!(listed("attribute=Department&value=sales&q=bo"), ["bob"]);
    let first = app.admin(
        &key,
        "GET",
        "/users?attribute=department&value=sales&limit=1",
        None,
    );
    assert_eq!(first.body["users"].as_array().unwrap().len(), 1);
    let next = first.body["next"].as_str().expect("a next page").to_owned();
    let second = listed(&format!(
        "attribute=department&value=sales&limit=1&after={next}"
    ));
    assert_eq!(second.len(), 1);
    assert_ne!(first.body["users"][0]["userName"], second[0].as_str());

    // Refusals: an undeclared attribute, a value that does not fit, one without the other.
    for (query, field) in [
        ("attribute=shoeSize&value=42", "attribute"),
        ("attribute=floor&value=fourth", "value"),
        ("attribute=remote&value=maybe", "value"),
        ("attribute=department&value=%20", "value"),
        ("attribute=department", "value"),
        ("value=Sales", "attribute"),
    ] {
        let reply = app.admin(&key, "GET", &format!("/users?{query}"), None);
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (400, Some("validation")),
            "{query}: {:#}",
            reply.body
        );
        assert_eq!(reply.body["detail"]["field"], field, "{query}");
    }

    // A deleted attribute takes its index with it: filtering by it is refused.
    let department = app.admin(&key, "GET", "/attributes", None).body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "department")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.admin(&key, "DELETE", &format!("/attributes/{department}"), None)
            .status,
        204
    );
    let gone = app.admin(&key, "GET", "/users?attribute=department&value=sales", None);
    assert_eq!(gone.status, 400, "{:#}", gone.body);
}

#[test]
fn group_membership_edits_follow_ownership() {
    let app = TestApp::new();
    let key = app.api_key();
    let ann = app.create_user("ann", "e-ann");
    let jit = jit_user(&app, "jitty");
    let idp_group = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Eng", "members": [{"value": ann}]})),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &app.admin(
            &key,
            "POST",
            &format!("/groups/{idp_group}/members"),
            Some(json!({"userId": jit})),
        ),
        "scim_managed_group",
    );
    refused(
        &app.admin(
            &key,
            "DELETE",
            &format!("/groups/{idp_group}/members/{ann}"),
            None,
        ),
        "scim_managed_group",
    );
    // A mapped app group is the IdP's while SCIM is on; an unmapped one is the admin's.
    app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupId": idp_group, "groupName": "Engineering"})),
    );
    let groups = app.admin(&key, "GET", "/groups?q=engineering", None);
    let mapped = groups.body["groups"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(groups.body["groups"][0]["mapped"], true);
    refused(
        &app.admin(
            &key,
            "POST",
            &format!("/groups/{mapped}/members"),
            Some(json!({"userId": jit})),
        ),
        "scim_managed_group",
    );
    let open = app
        .db
        .store
        .create_group(
            &Actor::Cli,
            &NewGroup {
                workspace_id: app.workspace.id,
                kind: GroupKind::App,
                display_name: DisplayName::parse("Book club").unwrap(),
                connection_id: None,
                external_id: None,
                scim_attributes: "{}".into(),
            },
        )
        .unwrap();
    let added = app.admin(
        &key,
        "POST",
        &format!("/groups/{}/members", open.id),
        Some(json!({"userId": jit})),
    );
    assert_eq!(
        (added.status, added.body["added"].as_bool()),
        (200, Some(true)),
        "{:#}",
        added.body
    );
    assert_eq!(
        app.admin(
            &key,
            "DELETE",
            &format!("/groups/{}/members/{jit}", open.id),
            None
        )
        .status,
        204
    );
    assert_eq!(
        app.admin(
            &key,
            "DELETE",
            &format!("/groups/{}/members/{jit}", open.id),
            None
        )
        .status,
        404
    );
}

#[test]
fn tokens_logs_and_audit_export() {
    let app = TestApp::new();
    let key = app.api_key();
    let created = app.admin(
        &key,
        "POST",
        &format!("/connections/{}/tokens", app.connection.id),
        Some(json!({"name": "rotation"})),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    let token = created.body["token"].as_str().unwrap().to_owned();
    assert_eq!(created.body["scimBaseUrl"], "http://roster.test/scim/v2");
    let bearer = format!("Bearer {token}");
    assert_eq!(
        app.scim_with("GET", "/Users", None, &[("authorization", bearer.as_str())])
            .status,
        200
    );
    app.create_user("logged", "e-logged");
    let listed = app.admin(
        &key,
        "GET",
        &format!("/connections/{}/tokens", app.connection.id),
        None,
    );
    assert!(
        !listed.body.to_string().contains(&token),
        "tokens are never listed"
    );
    assert_eq!(listed.body["tokens"].as_array().unwrap().len(), 2);
    let token_id = created.body["id"].as_str().unwrap();
    assert_eq!(
        app.admin(
            &key,
            "DELETE",
            &format!("/connections/{}/tokens/{token_id}", app.connection.id),
            None
        )
        .status,
        204
    );
    app.scim_with("GET", "/Users", None, &[("authorization", bearer.as_str())])
        .assert_scim_error(401, None);
    // A lifetime of 0 days would issue a token expired at birth: refused, nothing written.
    for days in [0, 3651] {
        let refused = app.admin(
            &key,
            "POST",
            &format!("/connections/{}/tokens", app.connection.id),
            Some(json!({"expiresInDays": days})),
        );
        assert_eq!(
            (refused.status, &refused.body["code"]),
            (400, &json!("validation")),
            "{:#}",
            refused.body
        );
        assert!(refused.body["message"]
            .as_str()
            .unwrap()
            .starts_with("expiresInDays: invalid token lifetime"));
    }
    assert_eq!(
        app.admin(
            &key,
            "GET",
            &format!("/connections/{}/tokens", app.connection.id),
            None
        )
        .body["tokens"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // With SCIM off there is nothing to create a token for.
    app.admin(
        &key,
        "PUT",
        &format!("/connections/{}/scim", app.connection.id),
        Some(json!({"enabled": false})),
    );
    refused(
        &app.admin(
            &key,
            "POST",
            &format!("/connections/{}/tokens", app.connection.id),
            Some(json!({})),
        ),
        "scim_off",
    );

    let log = app.admin(&key, "GET", "/provisioning-log", None);
    let entries = log.body["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["status"] == 201 && e["path"] == "/scim/v2/Users"),
        "{:#}",
        log.body
    );
    let audit = app.admin(&key, "GET", "/audit", None);
    let actions: Vec<&str> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"scim_token.revoked") && actions.contains(&"scim.disabled"),
        "{actions:?}"
    );
    let csv = app.raw(
        "GET",
        "/api/v1/admin/audit?format=csv",
        None,
        &[("authorization", &format!("Bearer {key}"))],
    );
    let text = csv.body.as_str().unwrap().to_owned();
    assert!(text.starts_with("seq,occurred_at,actor_kind"), "{text}");
    assert!(text.contains("scim_token.revoked"));
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
}
