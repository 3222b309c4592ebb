//! The admin policy is the only judge of who may use the admin API: every route of the route
//! table (`roster_admin::ROUTES`, which a unit test keeps equal to the OpenAPI document) is
//! called with the session of a signed-in user of the workspace who is not an admin, with its
//! CSRF token and a request an admin could make. Each answer is the policy's `not_admin`
//! refusal, and afterwards nothing of the workspace has changed. A write route the walk does not
//! know fails the test, so a new route is walked the day it is added.

use pretty_assertions::assert_eq;
use roster_sso::session::{SessionOptions, Sessions};
use roster_store::domain::{Actor, DisplayName, Source, UserId, UserName};
use roster_store::NewUser;
use serde_json::{json, Value};

use crate::common::browser::{agent, session_set_by};
use crate::common::{Options, Reply, TestApp};

/// The public URL `TestApp` runs with (the session issuer).
const PUBLIC_URL: &str = "http://roster.test";

/// A user of the workspace with a local password (no admin role), signed in through
/// `/login/password`: its id, and its session token with that session's CSRF token.
pub(crate) fn signed_in_member(app: &TestApp, name: &str) -> (UserId, (String, String)) {
    let store = &app.db.store;
    let user = app.store_user(name, &format!("{name}@acme.test"), Source::Invited);
    let hash = roster_store::domain::password::hash_password("pw-123456").unwrap();
    store
        .set_password_hash(&Actor::Cli, app.workspace.id, user.id, &hash)
        .unwrap();
    let response = agent()
        .post(&format!("{}/login/password", app.server.url()))
        .send_form([
            ("workspace", app.workspace.slug.as_str()),
            ("user_name", name),
            ("password", "pw-123456"),
            ("return_to", "/"),
        ])
        .unwrap();
    assert_eq!(response.status().as_u16(), 303, "the password login");
    let token = session_set_by(&response).expect("a session cookie");
    // The CSRF token the server derives for this session, read with the server's own verifier
    // on the same database (a non-admin cannot read it from `GET /session`).
    let sessions = Sessions::new(
        store.clone(),
        PUBLIC_URL.to_owned(),
        SessionOptions::default(),
    )
    .unwrap();
    let csrf = sessions
        .verify_session(&token)
        .expect("a live session")
        .csrf_token;
    (user.id, (token, csrf))
}

/// An admin API call with a session cookie and its CSRF token.
pub(crate) fn with_session(
    app: &TestApp,
    (token, csrf): &(String, String),
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let cookie = format!("roster_session={token}");
    app.raw(
        method,
        &format!("/api/v1/admin{path}"),
        body.map(|b| b.to_string()),
        &[
            ("cookie", cookie.as_str()),
            ("x-csrf-token", csrf.as_str()),
            ("content-type", "application/json"),
        ],
    )
}

/// Ids of the workspace's things, for the routes' path parameters.
struct Ids {
    connection: String,
    /// A SAML draft: the SP key routes need a SAML connection.
    saml_connection: String,
    token: String,
    user: String,
    other_user: String,
    group: String,
    webhook: String,
    mapping: String,
    event: String,
    api_key: String,
    domain: String,
    setup_link: String,
    invitation: String,
    test_sign_in: String,
    attribute: String,
    rule: String,
}

/// `path` with each `{param}` replaced by the id the segment before it names.
fn concrete(path: &str, ids: &Ids) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .iter()
        .enumerate()
        .map(|(index, segment)| {
            if !segment.starts_with('{') {
                return (*segment).to_owned();
            }
            let id = match segments[index - 1] {
                "connections" if path.contains("/sp-keys") => &ids.saml_connection,
                "connections" => &ids.connection,
                "tokens" => &ids.token,
                "users" => &ids.user,
                "members" => &ids.user,
                "groups" => &ids.group,
                "webhooks" => &ids.webhook,
                "group-mappings" => &ids.mapping,
                "api-keys" => &ids.api_key,
                "domains" => &ids.domain,
                "setup-links" => &ids.setup_link,
                "invitations" => &ids.invitation,
                "test-sign-ins" => &ids.test_sign_in,
                "attributes" | "attribute-mappings" => &ids.attribute,
                "attribute-role-rules" => &ids.rule,
                // A key of no connection: the retire route answers 404 after the policy.
                "sp-keys" => return "walk-key".to_owned(),
                other => {
                    panic!("{path}: no id for a parameter after {other:?}; add it to the walk")
                }
            };
            id.clone()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The body of a write an admin could send, per write route. A write route missing here fails
/// the test: add a body for it.
fn body_of_write(method: &str, path: &str, ids: &Ids) -> Option<Value> {
    match (method, path) {
        ("post", "/users") => Some(json!({"email": "walker@acme.test"})),
        ("post", "/users/{id}/disable" | "/users/{id}/enable") => None,
        ("post", "/users/{id}/sign-out-everywhere") => None,
        ("post", "/groups/{id}/members") => Some(json!({"userId": ids.other_user})),
        ("delete", "/groups/{id}/members/{user}") => None,
        ("post", "/connections") => Some(json!({"name": "walk-scim", "kind": "scim"})),
        ("delete", "/connections/{id}") => None,
        ("put", "/connections/{id}/settings") => Some(json!({})),
        ("post", "/connections/{id}/test") => None,
        ("post", "/connections/{id}/test-sign-in") => None,
        ("put", "/connections/{id}/scim") => Some(json!({"enabled": false})),
        ("put", "/sso-enforcement") => Some(json!({"enforced": true})),
        ("post", "/connections/{id}/tokens") => Some(json!({"name": "walk"})),
        ("post", "/connections/{id}/sp-keys") => Some(json!({"use": "encryption"})),
        ("post", "/connections/{id}/sp-keys/{key}/retire") => Some(json!({"confirm": "walk-key"})),
        ("delete", "/connections/{id}/tokens/{token}") => None,
        ("post", "/webhooks") => Some(json!({"url": "http://127.0.0.1:9/walk"})),
        ("delete", "/webhooks/{id}") => None,
        ("post", "/webhooks/{id}/enable") => None,
        ("post", "/webhooks/{id}/resend") => Some(json!({"eventId": ids.event})),
        ("delete", "/scim/connections/{id}") => None,
        ("post", "/scim/group-mappings") => {
            Some(json!({"scimGroupName": "walkers", "groupName": "Walkers"}))
        }
        ("delete", "/scim/group-mappings/{id}") => None,
        ("delete", "/api-keys/{id}") => None,
        ("post", "/roles") => Some(json!({"name": "walkers"})),
        ("post", "/domains") => Some(json!({"domain": "walk.example"})),
        ("post", "/domains/{domain}/verify") => None,
        ("delete", "/domains/{domain}") => None,
        ("post", "/setup-links") => Some(json!({"intent": "sso"})),
        ("delete", "/setup-links/{id}") => None,
        ("post", "/setup/finish") => None,
        ("post", "/admins/invitations") => Some(json!({"email": "walker-admin@acme.test"})),
        ("delete", "/admins/invitations/{id}") => None,
        ("post", "/attributes") => Some(json!({"template": "title"})),
        ("put", "/users/{id}/attributes") => Some(json!({"attributes": {"department": "Walking"}})),
        ("delete", "/attributes/{id}") => None,
        ("put", "/connections/{id}/attribute-mappings/{attribute}") => {
            Some(json!({"protocol": "scim", "sources": ["title"]}))
        }
        ("post", "/attribute-role-rules") => {
            Some(json!({"attribute": "department", "value": "Running", "roleName": "walker"}))
        }
        ("delete", "/attribute-role-rules/{id}") => None,
        (method, path) => panic!(
            "{method} {path} is a write route the policy walk does not know: add a body an \
             admin could send to body_of_write"
        ),
    }
}

/// A workspace with something behind every route: users, an app group with a manual member, a
/// mapping, a SCIM token, a webhook endpoint, events, a domain, a setup link.
fn furnish(app: &TestApp) -> Ids {
    let store = &app.db.store;
    let workspace = app.workspace.id;
    let key = app.api_key();
    let jit = |name: &str| -> String {
        store
            .create_user(
                &Actor::Cli,
                &NewUser::minimal(workspace, UserName::parse(name).unwrap(), Source::Jit),
            )
            .unwrap()
            .id
            .to_string()
    };
    let user = jit("jit-ann");
    let other_user = jit("jit-bob");
    let group = store
        .app_group_by_name_or_create(
            &Actor::Cli,
            workspace,
            &DisplayName::parse("Engineering").unwrap(),
        )
        .unwrap()
        .id
        .to_string();
    let added = app.admin(
        &key,
        "POST",
        &format!("/groups/{group}/members"),
        Some(json!({"userId": user})),
    );
    assert_eq!(added.status, 200, "{:#}", added.body);
    let mapping = app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupName": "admins", "roleName": "admin"})),
    );
    assert_eq!(mapping.status, 201, "{:#}", mapping.body);
    let token = app.admin(
        &key,
        "POST",
        &format!("/connections/{}/tokens", app.connection.id),
        Some(json!({"name": "kept"})),
    );
    assert_eq!(token.status, 201, "{:#}", token.body);
    let webhook = app.admin(
        &key,
        "POST",
        "/webhooks",
        Some(json!({"url": "http://127.0.0.1:9/hook"})),
    );
    assert_eq!(webhook.status, 201, "{:#}", webhook.body);
    let saml = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "walk-saml", "kind": "saml"})),
    );
    assert_eq!(saml.status, 201, "{:#}", saml.body);
    let event = app.admin(&key, "GET", "/events?limit=1", None);
    let ids = Ids {
        connection: app.connection.id.to_string(),
        saml_connection: saml.body["id"].as_str().unwrap().to_owned(),
        token: token.body["id"].as_str().unwrap().to_owned(),
        user,
        other_user,
        group,
        webhook: webhook.body["id"].as_str().unwrap().to_owned(),
        mapping: mapping.body["id"].as_str().unwrap().to_owned(),
        event: event.body["events"][0]["id"].as_str().unwrap().to_owned(),
        api_key: store.list_api_keys(workspace).unwrap()[0].id.to_string(),
        domain: store
            .add_domain(
                &Actor::Cli,
                workspace,
                &roster_store::domain::Domain::parse("acme.example").unwrap(),
            )
            .unwrap()
            .domain
            .to_string(),
        setup_link: store
            .create_setup_link(
                &Actor::Cli,
                roster_store::NewSetupLink {
                    workspace_id: workspace,
                    intent: roster_store::domain::setup_link::SetupIntent::Sso,
                    lifetime_seconds: 3600,
                    return_url: None,
                },
            )
            .unwrap()
            .0
            .id
            .to_string(),
        test_sign_in: store
            .create_test_sign_in(&Actor::Cli, workspace, app.connection.id)
            .unwrap()
            .id,
        invitation: store
            .create_admin_invitation(
                &Actor::Cli,
                workspace,
                roster_store::domain::Email::parse("invited@acme.test").unwrap(),
                3600,
            )
            .unwrap()
            .0
            .id
            .to_string(),
        attribute: store
            .create_attribute(
                &Actor::Cli,
                workspace,
                &roster_store::domain::attributes::NewAttributeDefinition::standard(
                    roster_store::domain::attributes::StandardAttribute::Department,
                ),
            )
            .unwrap()
            .id
            .to_string(),
        rule: {
            let walker = roster_store::domain::RoleName::parse("walker").unwrap();
            store
                .create_role(&Actor::Cli, workspace, &walker, 10)
                .unwrap();
            store
                .create_attribute_role_rule(
                    &Actor::Cli,
                    workspace,
                    "department",
                    "Walking",
                    &walker,
                )
                .unwrap()
                .id
                .to_string()
        },
    };

    ids
}

/// What a refused route must leave as it was.
fn snapshot(app: &TestApp, ids: &Ids) -> Value {
    let store = &app.db.store;
    let workspace = app.workspace.id;
    json!({
            "audit": store.audit_events(workspace, None, 100_000).unwrap().len(),
            "events": store.events(workspace, 0, 100_000, &[]).unwrap().len(),
            "users": store.count_users(workspace).unwrap(),
            "user": roster_store::user_json(&store.user(workspace, ids.user.parse().unwrap()).unwrap()),
            "sessionEpoch": store.user(workspace, ids.user.parse().unwrap()).unwrap().session_epoch,
            "tokens": store.list_scim_tokens(workspace, app.connection.id).unwrap().len(),
            "mappings": store.list_mappings(workspace).unwrap().len(),
            "apiKeys": store.list_api_keys(workspace).unwrap().iter()
                .map(|key| key.id.to_string()).collect::<Vec<_>>(),
            "webhooks": store.list_webhooks(workspace).unwrap().iter()
                .map(|w| json!([w.id, w.url, w.enabled, w.cursor_seq, w.next_attempt_at]))
                .collect::<Vec<_>>(),
            "connections": store.list_connections(workspace).unwrap().iter()
                .map(roster_store::connection_json).collect::<Vec<_>>(),
            "ssoEnforced": store.workspace(workspace).unwrap().sso_enforced,
            "domains": store.list_domains(workspace).unwrap().iter()
                .map(|d| json!([d.domain.as_str(), d.state.as_str(), d.attempts]))
                .collect::<Vec<_>>(),
        "invitations": store.admin_invitations(workspace).unwrap().iter()
            .map(|i| json!([i.id.to_string(), i.accepted_by, i.revoked_at.map(|t| t.as_micros())]))
            .collect::<Vec<_>>(),
        "attributes": store.attribute_definitions(workspace).unwrap().iter()
            .map(|a| a.id.to_string()).collect::<Vec<_>>(),
        "attributeRules": store.attribute_role_rules(workspace).unwrap().iter()
            .map(|r| r.id.to_string()).collect::<Vec<_>>(),
        "attributeMappings": store
            .attribute_mappings(workspace, app.connection.id, roster_store::domain::attributes::Protocol::Scim)
            .unwrap().iter()
            .map(|m| json!([m.definition.name.as_str(), m.sources, m.origin.as_str()]))
            .collect::<Vec<_>>(),
        "setupLinks": store.setup_links(workspace).unwrap().iter()
            .map(|l| {
                let at = |t: Option<roster_store::domain::Timestamp>| t.map(|t| t.as_micros());
                json!([l.id.to_string(), at(l.redeemed_at), at(l.revoked_at), at(l.finished_at)])
            })
            .collect::<Vec<_>>(),
    })
}

#[test]
fn every_admin_route_refuses_a_non_admin_session_through_the_policy() {
    let app = TestApp::with(Options {
        allow_private_network_urls: true,
        ..Options::default()
    });
    let store = &app.db.store;
    let workspace = app.workspace.id;
    let ids = furnish(&app);
    let snapshot = || snapshot(&app, &ids);
    let (member_id, member) = signed_in_member(&app, "walker");
    let before = snapshot();

    let mut writes = 0;
    let mut reads = 0;
    for (method, template) in roster_admin::ROUTES {
        let path = concrete(template, &ids);
        let body = if *method == "get" {
            reads += 1;
            None
        } else {
            writes += 1;
            body_of_write(method, template, &ids)
        };
        let reply = with_session(&app, &member, &method.to_uppercase(), &path, body);
        assert_eq!(
            (
                reply.status,
                &reply.body["code"],
                &reply.body["detail"]["refusal"]
            ),
            (403, &json!("forbidden"), &json!("not_admin")),
            "{method} {path} for a non-admin: {:#}",
            reply.body
        );
    }
    // The route table has every write the issue lists, and the reads.
    assert!(writes >= 20, "only {writes} write routes walked");
    assert!(reads >= 15, "only {reads} read routes walked");
    assert_eq!(snapshot(), before, "a refused route changed something");
    // The SCIM connection survived `DELETE /scim/connections/{id}`: its token still works.
    assert_eq!(app.scim("GET", "/Users", None).status, 200);

    // The same session, once its user holds the admin role, gets through the same routes: the
    // refusals above were the policy's answer to a non-admin, not a broken session or token.
    store
        .assign_role(&Actor::Cli, workspace, member_id, "admin")
        .unwrap();
    let session = with_session(&app, &member, "GET", "/session", None);
    assert_eq!(session.status, 200, "{:#}", session.body);
    let revoked = with_session(
        &app,
        &member,
        "DELETE",
        &format!("/scim/connections/{}", ids.connection),
        None,
    );
    assert_eq!(revoked.status, 204, "{:#}", revoked.body);
    app.scim("GET", "/Users", None).assert_scim_error(401, None);
}

/// A setup session of `intent` for the app's workspace, opened through the link's page like a
/// browser does: its cookie and its CSRF token (from `GET /session`, which every intent reaches).
pub(crate) fn setup_session(app: &TestApp, intent: &str) -> (String, String) {
    let key = app.api_key();
    let created = app.admin(
        &key,
        "POST",
        "/setup-links",
        Some(json!({ "intent": intent })),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    let url = created.body["url"].as_str().unwrap();
    let path = url
        .strip_prefix(PUBLIC_URL)
        .expect("the link is on the public URL");
    let response = agent()
        .post(&format!("{}{path}", app.server.url()))
        .send_empty()
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        303,
        "the link's Continue button"
    );
    let token = crate::common::browser::cookie_set_by(&response, "roster_setup")
        .expect("a setup session cookie");
    let session = with_setup(
        app,
        &(token.clone(), String::new()),
        "GET",
        "/session",
        None,
    );
    assert_eq!(session.status, 200, "{:#}", session.body);
    assert_eq!(session.body["setup"]["intent"], intent);
    (
        token,
        session.body["csrfToken"].as_str().unwrap().to_owned(),
    )
}

/// An admin API call in a setup session.
pub(crate) fn with_setup(
    app: &TestApp,
    (token, csrf): &(String, String),
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let cookie = format!("roster_setup={token}");
    app.raw(
        method,
        &format!("/api/v1/admin{path}"),
        body.map(|b| b.to_string()),
        &[
            ("cookie", cookie.as_str()),
            ("x-csrf-token", csrf.as_str()),
            ("content-type", "application/json"),
        ],
    )
}

/// The routes a setup session of each intent reaches (docs/policy.md, "What a setup session
/// reaches"), written out here route by route so that a route moved to another area is noticed.
fn reached(intent: &str, method: &str, path: &str) -> bool {
    let always = matches!(
        (method, path),
        ("get", "/session") | ("post", "/setup/finish")
    );
    let connections = matches!(
        (method, path),
        ("get", "/connections") | ("get", "/connections/{id}") | ("post", "/connections")
    );
    let sso = matches!(
        (method, path),
        ("put", "/connections/{id}/settings")
            | ("post", "/connections/{id}/test")
            | ("post", "/connections/{id}/test-sign-in")
            | ("get", "/connections/{id}/test-sign-ins/{test}")
    );
    let scim = matches!(
        (method, path),
        ("put", "/connections/{id}/scim")
            | ("get", "/connections/{id}/tokens")
            | ("post", "/connections/{id}/tokens")
            | ("get", "/provisioning-log")
            | ("get", "/scim")
            | ("get", "/users")
    );
    let domains = matches!(
        (method, path),
        ("get", "/domains")
            | ("post", "/domains")
            | ("get", "/domains/{domain}")
            | ("post", "/domains/{domain}/verify")
    );
    always
        || match intent {
            "sso" => connections || sso,
            "scim" => connections || scim,
            "domain" => domains,
            "all" => connections || sso || scim || domains,
            other => panic!("no intent {other}"),
        }
}

#[test]
fn a_setup_session_reaches_its_intents_routes_and_nothing_else() {
    let app = TestApp::with(Options {
        allow_private_network_urls: true,
        ..Options::default()
    });
    let ids = furnish(&app);
    for intent in ["sso", "scim", "domain", "all"] {
        let session = setup_session(&app, intent);
        let before = snapshot(&app, &ids);
        let mut refused = 0;
        for (method, template) in roster_admin::ROUTES {
            if reached(intent, method, template) {
                continue;
            }
            refused += 1;
            let path = concrete(template, &ids);
            let body = match *method {
                "get" => None,
                _ => body_of_write(method, template, &ids),
            };
            let reply = with_setup(&app, &session, &method.to_uppercase(), &path, body);
            assert_eq!(
                (reply.status, &reply.body["detail"]["refusal"]),
                (403, &json!("setup_scope")),
                "{intent}: {method} {path}: {:#}",
                reply.body
            );
        }
        assert!(refused >= 25, "{intent}: only {refused} routes refused");
        assert_eq!(
            snapshot(&app, &ids),
            before,
            "{intent}: a refused route changed something"
        );

        // The routes of its intent run (whatever they answer, it is not the setup scope's).
        for (method, template) in roster_admin::ROUTES {
            if !reached(intent, method, template) || *template == "/setup/finish" {
                continue;
            }
            let path = concrete(template, &ids);
            let body = match (*method, *template) {
                ("get", _) => None,
                // The body decides: a SAML draft is the SSO intent's, a SCIM-only one SCIM's.
                ("post", "/connections") if intent == "sso" => {
                    Some(json!({"name": format!("walk-{intent}"), "kind": "saml"}))
                }
                _ => body_of_write(method, template, &ids),
            };
            let reply = with_setup(&app, &session, &method.to_uppercase(), &path, body);
            assert!(
                reply.status < 500 && reply.body["detail"]["refusal"] != json!("setup_scope"),
                "{intent}: {method} {path} is the intent's: {} {:#}",
                reply.status,
                reply.body
            );
        }
        // Not the operator API, whatever the intent: a setup cookie is no operator key.
        let cookie = format!("roster_setup={}", session.0);
        let operator = app.raw(
            "GET",
            &format!("/api/v1/operator/workspaces/{}/domains", app.workspace.slug),
            None,
            &[("cookie", cookie.as_str())],
        );
        assert_eq!(operator.status, 401, "{intent}: {:#}", operator.body);

        let finished = with_setup(&app, &session, "POST", "/setup/finish", None);
        assert_eq!(finished.status, 200, "{intent}: {:#}", finished.body);
        let after = with_setup(&app, &session, "GET", "/session", None);
        assert_eq!(after.status, 401, "{intent}: the session ended with Done");
    }
}

#[test]
fn a_setup_session_creates_only_its_intents_kind_of_connection() {
    let app = TestApp::new();
    let store = &app.db.store;
    let sso = setup_session(&app, "sso");
    let scim = setup_session(&app, "scim");
    let count = || store.list_connections(app.workspace.id).unwrap().len();
    let before = count();
    let refused = [
        (&sso, json!({"name": "Okta SCIM", "kind": "scim"})),
        (&scim, json!({"name": "Draft SAML", "kind": "saml"})),
        (
            &sso,
            json!({"name": "Draft SAML", "kind": "saml", "scimEnabled": true}),
        ),
    ];
    for (session, body) in refused {
        let reply = with_setup(&app, session, "POST", "/connections", Some(body.clone()));
        assert_eq!(
            (reply.status, &reply.body["detail"]["refusal"]),
            (403, &json!("setup_scope")),
            "{body}: {:#}",
            reply.body
        );
    }
    assert_eq!(count(), before, "a refused creation wrote a connection");
    let made = with_setup(
        &app,
        &scim,
        "POST",
        "/connections",
        Some(json!({"name": "Okta SCIM", "kind": "scim"})),
    );
    assert_eq!(made.status, 201, "{:#}", made.body);
    let made = with_setup(
        &app,
        &sso,
        "POST",
        "/connections",
        Some(json!({"name": "Draft SAML", "kind": "saml"})),
    );
    assert_eq!(made.status, 201, "{:#}", made.body);
    assert_eq!(count(), before + 2);
    // Audited as the link, not as anybody's account.
    let trail = store.audit_events(app.workspace.id, None, 100).unwrap();
    let created: Vec<_> = trail
        .iter()
        .filter(|event| event.action == "connection.created")
        .map(|event| event.actor_kind.as_str())
        .collect();
    // The SCIM session watches the users its IdP provisions, not the whole directory.
    let jit_only = app.store_user(
        "walk-in",
        "walk-in@acme.test",
        roster_store::domain::Source::Jit,
    );
    let provisioned = app.scim(
        "POST",
        "/Users",
        Some(json!({"userName": "pushed@acme.test", "active": true})),
    );
    assert_eq!(provisioned.status, 201, "{:#}", provisioned.body);
    let everyone = with_setup(&app, &scim, "GET", "/users", None);
    assert_eq!(
        (everyone.status, &everyone.body["detail"]["field"]),
        (400, &json!("managedBy")),
        "{:#}",
        everyone.body
    );
    let watched = with_setup(
        &app,
        &scim,
        "GET",
        &format!("/users?managedBy={}", app.connection.id),
        None,
    );
    assert_eq!(watched.status, 200, "{:#}", watched.body);
    let names: Vec<&str> = watched.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pushed@acme.test"]);
    assert!(!watched.body.to_string().contains(&jit_only.id.to_string()));
    // (The test app's own connection was made at the command line.)
    assert_eq!(created, ["cli", "setup_link", "setup_link"]);
}

/// One implementation, two entry points: every read of the admin API answers the same through
/// the operator's path, and every write reaches its handler there (a route whose path
/// parameters the operator path's `{workspace}` confused answered 404 before).
#[test]
fn every_admin_route_answers_the_same_through_the_operator_path() {
    let app = TestApp::with(Options {
        allow_private_network_urls: true,
        ..Options::default()
    });
    let ids = furnish(&app);
    let key = app.api_key();
    let operator_key = crate::operator_api::operator_key(&app);
    let through_operator = |method: &str, path: &str, body: Option<Value>| {
        crate::operator_api::operator(
            &app,
            &operator_key,
            method,
            &format!("/workspaces/{}{path}", app.workspace.slug),
            body,
        )
    };
    // Reads first: the same status and the same body (the session names who calls).
    for (method, template) in roster_admin::ROUTES {
        if *method != "get" || *template == "/session" {
            continue;
        }
        let path = concrete(template, &ids);
        let admin = app.admin(&key, "GET", &path, None);
        let operator = through_operator("GET", &path, None);
        assert_eq!(
            (operator.status, &operator.body),
            (admin.status, &admin.body),
            "GET {path}"
        );
        assert_eq!(admin.status, 200, "GET {path}: {:#}", admin.body);
    }
    // Writes reach their handlers: whatever they answer, it is not a routing 404.
    for (method, template) in roster_admin::ROUTES {
        if *method == "get" {
            continue;
        }
        let path = concrete(template, &ids);
        let reply = through_operator(
            &method.to_uppercase(),
            &path,
            body_of_write(method, template, &ids),
        );
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(
            reply.status < 500 && !message.contains("deserialize"),
            "{method} {path}: {} {:#}",
            reply.status,
            reply.body
        );
    }
}
