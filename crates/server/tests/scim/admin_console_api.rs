//! What the console's pages read and change through the admin API (issue #25): the roles with
//! their rank and holders, mappings with names beside their ids, the SSO enforcement state with
//! the policy's answer on who may change it, a connection's vendor and domains changed from its
//! card, the audit trail newest first, and the provisioning log with each request's query and
//! target. Each refusal is checked to change nothing.

use pretty_assertions::assert_eq;
use roster_sso::session::{csrf_token, SessionOptions, Sessions};
use roster_store::domain::{Actor, RoleName, Source};
use serde_json::{json, Value};

use crate::admin_policy::with_session;
use crate::common::{Reply, TestApp};

#[test]
fn roles_are_listed_with_rank_and_holders_and_mappings_with_names() {
    let app = TestApp::new();
    let key = app.api_key();
    let store = &app.db.store;
    store
        .create_role(
            &Actor::Cli,
            app.workspace.id,
            &RoleName::parse("analyst").unwrap(),
            10,
        )
        .unwrap();
    let ann = app.create_user("ann", "e-ann");
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

    // A mapping by id answers with the names of its IdP group, connection, role and app group.
    let by_id = app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupId": group, "roleName": "analyst", "groupName": "Analytics"})),
    );
    assert_eq!(by_id.status, 201, "{:#}", by_id.body);
    let connection = app.connection.name.as_str();
    let named = |mapping: &Value| {
        json!([
            mapping["scimGroupDisplayName"],
            mapping["connectionName"],
            mapping["roleName"],
            mapping["groupName"]
        ])
    };
    assert_eq!(
        named(&by_id.body),
        json!(["Analysts", connection, "analyst", "Analytics"])
    );
    // A mapping waiting for its group by name has no IdP group name yet.
    let waiting = app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupName": "Later", "roleName": "admin"})),
    );
    assert_eq!(waiting.status, 201, "{:#}", waiting.body);
    assert_eq!(
        named(&waiting.body),
        json!([null, connection, "admin", null])
    );
    let listed = app.admin(&key, "GET", "/scim/group-mappings", None);
    assert_eq!(listed.status, 200);
    let listed_named: Vec<Value> = listed.body["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(named)
        .collect();
    assert_eq!(
        listed_named,
        [
            json!(["Analysts", connection, "analyst", "Analytics"]),
            json!([null, connection, "admin", null]),
        ]
    );

    // Roles: highest rank first, each with how many users it reaches (Ann, through the mapped
    // group); the workspace's default role is marked.
    let roles = app.admin(&key, "GET", "/roles", None);
    assert_eq!(roles.status, 200, "{:#}", roles.body);
    let list = roles.body["roles"].as_array().unwrap();
    let expected: Vec<(String, i32)> = store
        .list_roles(app.workspace.id)
        .unwrap()
        .iter()
        .map(|r| (r.name.to_string(), r.rank))
        .collect();
    let got: Vec<(String, i32)> = list
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                i32::try_from(r["rank"].as_i64().unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert!(got.windows(2).all(|pair| pair[0].1 >= pair[1].1), "{got:?}");
    let role = |name: &str| list.iter().find(|r| r["name"] == name).unwrap().clone();
    assert_eq!(role("analyst")["userCount"], 1);
    assert_eq!(role("analyst")["rank"], 10);
    assert_eq!(role("admin")["userCount"], 0);
    assert_eq!(role("member")["isDefault"], true);
    assert_eq!(role("analyst")["isDefault"], false);
    // Another workspace's key sees its own roles, not these holders.
    let other = app.other_workspace_api_key("globex");
    let theirs = app.admin(&other, "GET", "/roles", None);
    assert_eq!(theirs.status, 200);
    assert!(theirs.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["name"] != "analyst" && r["userCount"] == 0));
}

#[test]
fn sso_enforcement_says_whether_the_caller_may_change_it_and_why_not() {
    let app = TestApp::new();
    let key = app.api_key();
    let store = &app.db.store;
    // An API key (like a password session) would lock itself out: the policy's refusal.
    let refused = json!({
        "allowed": false,
        "refusal": "sso_lockout",
        "reason": "sign in with SSO before enforcing it, or you would lock yourself out",
    });
    let state = app.admin(&key, "GET", "/sso-enforcement", None);
    assert_eq!(state.status, 200, "{:#}", state.body);
    assert_eq!(state.body, json!({"ssoEnforced": false, "change": refused}));
    let put = app.admin(
        &key,
        "PUT",
        "/sso-enforcement",
        Some(json!({"enforced": true})),
    );
    put.assert_admin_error(403, "forbidden");
    assert_eq!(put.body["detail"]["refusal"], "sso_lockout");
    assert!(!store.workspace(app.workspace.id).unwrap().sso_enforced);

    // An admin whose session came from an SSO login may: the GET says so, and the PUT works.
    let admin = app.store_user("sso-admin", "sso-admin@acme.test", Source::Jit);
    store
        .assign_role(&Actor::Cli, app.workspace.id, admin.id, "admin")
        .unwrap();
    let admin = store.user(app.workspace.id, admin.id).unwrap();
    let sessions = Sessions::new(
        store.clone(),
        "http://roster.test".to_owned(),
        SessionOptions::default(),
    )
    .unwrap();
    let (token, claims) = sessions
        .issue(
            &app.workspace,
            &admin,
            vec!["admin".to_owned()],
            &app.connection.id.to_string(),
        )
        .unwrap();
    let session = (token, csrf_token(&claims.sid));
    let allowed = with_session(&app, &session, "GET", "/sso-enforcement", None);
    assert_eq!(
        allowed.body,
        json!({"ssoEnforced": false, "change": {"allowed": true}}),
        "{:#}",
        allowed.body
    );
    let enforced = with_session(
        &app,
        &session,
        "PUT",
        "/sso-enforcement",
        Some(json!({"enforced": true})),
    );
    assert_eq!(enforced.status, 200, "{:#}", enforced.body);
    assert_eq!(
        app.admin(&key, "GET", "/sso-enforcement", None).body,
        json!({"ssoEnforced": true, "change": refused})
    );
}

#[test]
fn a_connection_s_vendor_and_domains_change_from_its_card() {
    let app = TestApp::new();
    let key = app.api_key();
    let store = &app.db.store;
    let id = app.connection.id;
    let path = format!("/connections/{id}/settings");
    let changed = app.admin(
        &key,
        "PUT",
        &path,
        Some(json!({"vendor": "okta", "domains": ["acme.test", "Example.ORG"]})),
    );
    assert_eq!(changed.status, 200, "{:#}", changed.body);
    assert_eq!(changed.body["vendor"], "okta");
    assert_eq!(changed.body["domains"], json!(["acme.test", "example.org"]));
    let stored = store.connection(app.workspace.id, id).unwrap();
    assert_eq!(stored.vendor.as_str(), "okta");
    assert_eq!(
        stored.protocol_config, app.connection.protocol_config,
        "the protocol settings stay"
    );
    let audited = |store: &roster_store::Store| -> Vec<Value> {
        store
            .audit_events(app.workspace.id, None, 10_000)
            .unwrap()
            .iter()
            .filter(|e| e.action == "connection.config_updated")
            .map(|e| serde_json::from_str(&e.detail).unwrap())
            .collect()
    };
    assert_eq!(audited(store), [json!({"changed": ["vendor", "domains"]})]);

    // Refusals, each a 400 that changes nothing.
    let before = app
        .admin(&key, "GET", &format!("/connections/{id}"), None)
        .body;
    for (body, words) in [
        (json!({"vendor": "contoso"}), "vendor must be one of"),
        (json!({"domains": ["not a domain"]}), "domain"),
        (json!({}), "give what to change"),
        (
            json!({"vendor": "okta", "saml": {"metadataXml": "<x/>"}}),
            "a scim connection takes",
        ),
        (json!({"vendor": "okta", "colour": "red"}), "unknown field"),
    ] {
        let reply = app.admin(&key, "PUT", &path, Some(body.clone()));
        let message = reply.assert_admin_error(400, "validation");
        assert!(message.contains(words), "{body}: {message}");
    }
    assert_eq!(
        app.admin(&key, "GET", &format!("/connections/{id}"), None)
            .body,
        before
    );
    assert_eq!(audited(store).len(), 1, "refusals are not audited");

    // A revoked connection cannot change.
    assert_eq!(
        app.admin(&key, "DELETE", &format!("/connections/{id}"), None)
            .status,
        204
    );
    app.admin(&key, "PUT", &path, Some(json!({"vendor": "entra"})))
        .assert_admin_error(409, "conflict");
    assert_eq!(
        store
            .connection(app.workspace.id, id)
            .unwrap()
            .vendor
            .as_str(),
        "okta"
    );
}

#[test]
fn the_audit_trail_reads_newest_first_a_page_at_a_time() {
    let app = TestApp::new();
    let key = app.api_key();
    for name in ["r1", "r2", "r3", "r4"] {
        app.db
            .store
            .create_role(
                &Actor::Cli,
                app.workspace.id,
                &RoleName::parse(name).unwrap(),
                1,
            )
            .unwrap();
    }
    let seqs = |reply: &Reply| -> Vec<i64> {
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        reply.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect()
    };
    let oldest_first = seqs(&app.admin(&key, "GET", "/audit?limit=1000", None));
    assert!(oldest_first.len() >= 4, "{oldest_first:?}");
    let mut newest_first = oldest_first.clone();
    newest_first.reverse();
    let first = seqs(&app.admin(&key, "GET", "/audit?order=desc&limit=2", None));
    assert_eq!(first, newest_first[..2].to_vec());
    let second = seqs(&app.admin(
        &key,
        "GET",
        &format!("/audit?order=desc&limit=2&before={}", first[1]),
        None,
    ));
    assert_eq!(second, newest_first[2..4].to_vec());
    let newest = app.admin(&key, "GET", "/audit?order=desc&limit=1", None);
    assert_eq!(newest.body["events"][0]["action"], "role.created");
    assert_eq!(newest.body["events"][0]["detail"]["name"], "r4");

    for (query, words) in [
        ("order=sideways", "order must be asc or desc"),
        ("before=5", "before pages order=desc"),
        ("order=asc&before=5", "before pages order=desc"),
        ("order=desc&after=1", "after pages commit order"),
    ] {
        let message = app
            .admin(&key, "GET", &format!("/audit?{query}"), None)
            .assert_admin_error(400, "validation");
        assert!(message.contains(words), "{query}: {message}");
    }
}

#[test]
fn the_provisioning_log_shows_each_request_s_query_and_target() {
    let app = TestApp::new();
    let key = app.api_key();
    let ann = app.create_user("ann", "e-ann");
    app.scim("GET", "/Users?filter=nickName+zz+%22x%22", None)
        .assert_scim_error(400, Some("invalidFilter"));
    let long = format!("filter=userName+zz+%22{}%22", "a".repeat(1500));
    app.scim("GET", &format!("/Users?{long}"), None)
        .assert_scim_error(400, Some("invalidFilter"));
    // A successful read is not logged, query or not.
    assert_eq!(
        app.scim("GET", "/Users?filter=userName+eq+%22ann%22", None)
            .status,
        200
    );

    let log = app.admin(&key, "GET", "/provisioning-log", None);
    assert_eq!(log.status, 200, "{:#}", log.body);
    let entries: Vec<Value> = log.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            json!([
                e["method"],
                e["path"],
                e["query"],
                e["status"],
                e["resourceId"]
            ])
        })
        .collect();
    assert_eq!(
        entries,
        [
            json!(["GET", "/scim/v2/Users", &long[..1000], 400, null]),
            json!([
                "GET",
                "/scim/v2/Users",
                "filter=nickName+zz+%22x%22",
                400,
                null
            ]),
            json!(["POST", "/scim/v2/Users", null, 201, ann]),
        ]
    );
}

/// An admin creates a role over the API (the console's Roles page): it is listed with its rank,
/// audited, and usable in a mapping at once. A malformed name and a name the workspace has (any
/// case) are refused, and nothing is written.
#[test]
fn an_admin_creates_a_role_and_refusals_write_nothing() {
    let app = TestApp::new();
    let key = app.api_key();
    let roles = || {
        let listed = app.admin(&key, "GET", "/roles", None);
        assert_eq!(listed.status, 200, "{:#}", listed.body);
        listed.body["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|role| {
                (
                    role["name"].as_str().unwrap().to_owned(),
                    role["rank"].as_i64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = roles();

    let created = app.admin(
        &key,
        "POST",
        "/roles",
        Some(json!({"name": "auditor", "rank": 5})),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(
        (created.body["name"].as_str(), created.body["rank"].as_i64()),
        (Some("auditor"), Some(5))
    );
    let after = roles();
    assert_eq!(after.len(), before.len() + 1);
    assert!(after.contains(&("auditor".to_owned(), 5)), "{after:?}");
    let audit = app.admin(&key, "GET", "/audit?format=json", None);
    assert!(
        audit.body.to_string().contains("role.created"),
        "{:#}",
        audit.body
    );
    let mapped = app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupName": "Auditors", "roleName": "auditor"})),
    );
    assert_eq!(mapped.status, 201, "{:#}", mapped.body);

    app.admin(&key, "POST", "/roles", Some(json!({"name": "AUDITOR"})))
        .assert_admin_error(409, "conflict");
    app.admin(&key, "POST", "/roles", Some(json!({"name": ""})))
        .assert_admin_error(400, "validation");
    app.admin(
        &key,
        "POST",
        "/roles",
        Some(json!({"name": "x", "colour": "red"})),
    )
    .assert_admin_error(400, "validation");
    assert_eq!(roles(), after, "a refused creation writes nothing");
}
