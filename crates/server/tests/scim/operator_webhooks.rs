//! The operator's webhook endpoints over real HTTP, against a real local receiver: every
//! workspace's events in the deployment's order, signed, each naming its workspace (id and slug);
//! `workspace.deleted` reaching the operator's feed and endpoints after the workspace's rows are
//! gone; the `workspaces` and type filters; disabling, re-enabling and resending; and the
//! refusals (a workspace's admin key, a revoked operator key, a refused URL, an unknown event type
//! or workspace), each proven to write nothing.

use std::sync::atomic::Ordering;

use pretty_assertions::assert_eq;
use roster_store::domain::Actor;
use serde_json::{json, Value};

use crate::common::{Options, Reply, TestApp};
use crate::operator_api::{operator, operator_key};
use crate::receiver::{Received, Receiver};

fn webhook_app(disable_after: u32) -> TestApp {
    TestApp::with(Options {
        webhooks: Some(disable_after),
        ..Options::default()
    })
}

/// Registers an operator endpoint: (id, secret, the endpoint as answered).
fn register(app: &TestApp, key: &str, body: Value) -> (String, String, Value) {
    let reply = operator(app, key, "POST", "/webhooks", Some(body));
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["secret"].as_str().unwrap().to_owned(),
        reply.body,
    )
}

/// The operator feed after `cursor`: (events, next).
fn feed(app: &TestApp, key: &str, query: &str) -> (Vec<Value>, String) {
    let reply = operator(app, key, "GET", &format!("/events{query}"), None);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    (
        reply.body["events"].as_array().unwrap().clone(),
        reply.body["next"].as_str().unwrap().to_owned(),
    )
}

fn create_workspace(app: &TestApp, key: &str, slug: &str) -> String {
    let reply = operator(
        app,
        key,
        "POST",
        "/workspaces",
        Some(json!({ "slug": slug, "name": format!("{slug} Inc") })),
    );
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn invite(app: &TestApp, key: &str, slug: &str, email: &str) {
    let reply = operator(
        app,
        key,
        "POST",
        &format!("/workspaces/{slug}/users"),
        Some(json!({ "email": email })),
    );
    assert_eq!(reply.status, 201, "{:#}", reply.body);
}

fn verify(received: &Received, secret: &str) {
    let id = received.header("webhook-id");
    let timestamp: i64 = received.header("webhook-timestamp").parse().unwrap();
    let want = roster_webhooks::sign(secret, id, timestamp, &received.body).unwrap();
    assert_eq!(received.header("webhook-signature"), want);
    assert_eq!(received.json()["id"], id, "webhook-id is the event id");
}

/// (id, type, workspace, workspaceSlug) of events or deliveries.
fn summary(events: &[Value]) -> Vec<(String, String, String, String)> {
    events
        .iter()
        .map(|e| {
            let text = |field: &str| e[field].as_str().unwrap_or_default().to_owned();
            (
                text("id"),
                text("type"),
                text("workspace"),
                text("workspaceSlug"),
            )
        })
        .collect()
}

fn received_json(received: &[Received]) -> Vec<Value> {
    received.iter().map(Received::json).collect()
}

/// The deployment's audit trail, newest first: (action, actor kind).
fn deployment_audit(app: &TestApp, key: &str) -> Vec<(String, String)> {
    let reply = operator(app, key, "GET", "/audit?limit=1000", None);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    reply.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["actorKind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn an_operator_endpoint_receives_every_workspace_s_events_in_order_and_the_deletion() {
    let app = webhook_app(50);
    let key = operator_key(&app);
    let receiver = Receiver::start();
    let (_, start) = feed(&app, &key, "");
    let (id, secret, view) = register(&app, &key, json!({ "url": receiver.url }));
    assert!(secret.starts_with("whsec_"));
    assert_eq!(view["workspaces"], json!([]), "every workspace");
    assert_eq!(view["eventTypes"], json!([]), "every type");

    let globex = create_workspace(&app, &key, "globex");
    invite(&app, &key, "globex", "gina@globex.example");
    app.create_user("ann", "e-ann");
    invite(&app, &key, "globex", "gus@globex.example");
    let (expected, _) = feed(&app, &key, &format!("?after={start}"));
    let expected = summary(&expected);
    assert_eq!(expected.len(), 4, "{expected:?}");
    let got = receiver.wait_for("every workspace's events", |r| r.len() >= expected.len());
    assert_eq!(
        summary(&received_json(&got)),
        expected,
        "the operator feed's events, in its order, nothing from before registration"
    );
    for received in &got {
        verify(received, &secret);
    }
    let acme = app.workspace.id.to_string();
    assert_eq!(
        expected
            .iter()
            .map(|(_, t, w, s)| (t.as_str(), w.as_str(), s.as_str()))
            .collect::<Vec<_>>(),
        [
            ("workspace.created", globex.as_str(), "globex"),
            ("user.created", globex.as_str(), "globex"),
            ("user.created", acme.as_str(), "acme"),
            ("user.created", globex.as_str(), "globex"),
        ]
    );

    // Deleting globex: its events go, its `workspace.deleted` stays and is delivered.
    let deleted = operator(
        &app,
        &key,
        "DELETE",
        "/workspaces/globex?confirm=globex",
        None,
    );
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
    let got = receiver.wait_for("the deletion", |r| r.len() > expected.len());
    let last = got.last().unwrap();
    verify(last, &secret);
    let event = last.json();
    assert_eq!(event["type"], "workspace.deleted");
    assert_eq!(event["workspace"], globex.as_str());
    assert_eq!(event["workspaceSlug"], "globex");
    assert_eq!(event["actor"]["kind"], "operator");
    assert_eq!(
        event["resource"],
        json!({ "id": globex, "slug": "globex", "name": "globex Inc", "domains": [] })
    );
    let (after, _) = feed(&app, &key, &format!("?after={start}"));
    assert_eq!(
        summary(&after)
            .iter()
            .map(|(_, t, w, _)| (t.as_str(), w.as_str()))
            .collect::<Vec<_>>(),
        [
            ("user.created", acme.as_str()),
            ("workspace.deleted", globex.as_str()),
        ],
        "the workspace's other events went with it"
    );
    let (only_deleted, _) = feed(&app, &key, "?type=workspace.deleted");
    assert_eq!(only_deleted.len(), 1);
    assert!(deployment_audit(&app, &key).contains(&("workspace.deleted".into(), "operator".into())));

    // The endpoint, its log, and the audit of its creation.
    let shown = operator(&app, &key, "GET", &format!("/webhooks/{id}"), None);
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    assert_eq!(shown.body["url"], receiver.url.as_str());
    assert!(shown.body.get("secret").is_none(), "never the secret again");
    let listed = operator(&app, &key, "GET", "/webhooks", None);
    assert_eq!(listed.body["webhooks"], json!([shown.body]));
    assert!(!listed.body.to_string().contains("whsec_"));
    let log = operator(
        &app,
        &key,
        "GET",
        &format!("/webhooks/{id}/deliveries"),
        None,
    );
    assert_eq!(log.status, 200);
    let deliveries = log.body["deliveries"].as_array().unwrap();
    assert!(!deliveries.is_empty());
    assert!(
        deliveries.iter().all(|d| d["statusCode"] == 200),
        "{deliveries:#?}"
    );
    assert!(deployment_audit(&app, &key).contains(&("webhook.created".into(), "operator".into())));

    // The levels stay apart: a workspace's admin sees none of the operator's endpoints, and
    // the operator's routes none of a workspace's.
    let admin_key = app.api_key();
    assert_eq!(
        app.admin(&admin_key, "GET", "/webhooks", None).body["webhooks"],
        json!([])
    );
    app.admin(&admin_key, "GET", &format!("/webhooks/{id}"), None)
        .assert_admin_error(404, "not_found");
    let own = app.admin(
        &admin_key,
        "POST",
        "/webhooks",
        Some(json!({ "url": receiver.url })),
    );
    assert_eq!(own.status, 201, "{:#}", own.body);
    assert!(own.body.get("workspaces").is_none(), "{:#}", own.body);
    let own_id = own.body["id"].as_str().unwrap();
    operator(&app, &key, "GET", &format!("/webhooks/{own_id}"), None)
        .assert_admin_error(404, "not_found");
    assert_eq!(
        operator(&app, &key, "GET", "/webhooks", None).body["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    operator(&app, &key, "DELETE", &format!("/webhooks/{id}"), None);
    operator(&app, &key, "GET", &format!("/webhooks/{id}"), None)
        .assert_admin_error(404, "not_found");
    assert!(deployment_audit(&app, &key).contains(&("webhook.deleted".into(), "operator".into())));
}

#[test]
fn an_operator_endpoint_keeps_the_workspaces_and_types_it_lists() {
    let app = webhook_app(50);
    let key = operator_key(&app);
    let receiver = Receiver::start();
    let globex = create_workspace(&app, &key, "globex");
    create_workspace(&app, &key, "initech");
    // By slug or by id, each once.
    let (_, _, view) = register(
        &app,
        &key,
        json!({
            "url": receiver.url,
            "eventTypes": ["user.created", "workspace.deleted"],
            "workspaces": ["globex", globex, "initech"],
        }),
    );
    let initech = app.db.store.workspace_by_slug("initech").unwrap().id;
    assert_eq!(
        view["workspaces"],
        json!([globex, initech.to_string()]),
        "{view:#}"
    );
    app.create_user("ann", "e-ann");
    invite(&app, &key, "globex", "gina@globex.example");
    operator(
        &app,
        &key,
        "PATCH",
        "/workspaces/globex",
        Some(json!({ "name": "Globex Corp" })),
    );
    invite(&app, &key, "initech", "ian@initech.example");
    // Delivered before the deletion (an event not yet delivered goes with its workspace).
    receiver.wait_for("globex's and initech's users", |r| r.len() >= 2);
    // Through the store, as the CLI's `workspace delete` does.
    app.db.store.delete_workspace(&Actor::Cli, initech).unwrap();
    receiver.wait_for("initech's deletion", |r| r.len() >= 3);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let got = received_json(&receiver.all());
    assert_eq!(
        got.iter()
            .map(|e| (
                e["type"].as_str().unwrap(),
                e["workspaceSlug"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [
            ("user.created", "globex"),
            ("user.created", "initech"),
            ("workspace.deleted", "initech"),
        ],
        "only the listed workspaces' events of the listed types"
    );
    assert_eq!(got[2]["actor"]["kind"], "cli");
}

#[test]
fn an_operator_endpoint_is_disabled_after_failures_re_enabled_and_resends() {
    let app = webhook_app(3);
    let key = operator_key(&app);
    let receiver = Receiver::start();
    receiver.status.store(500, Ordering::SeqCst);
    let (id, _, _) = register(
        &app,
        &key,
        json!({ "url": receiver.url, "eventTypes": ["user.created"] }),
    );
    app.create_user("ann", "e-ann");
    receiver.wait_for("three failed attempts", |r| r.len() >= 3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let shown = operator(&app, &key, "GET", &format!("/webhooks/{id}"), None);
        if shown.body["enabled"] == false {
            assert!(shown.body["disabledReason"]
                .as_str()
                .unwrap()
                .contains("3 consecutive"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{:#}", shown.body);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Recorded at deployment level, never as an event in the workspace.
    assert!(deployment_audit(&app, &key).contains(&("webhook.disabled".into(), "system".into())));
    let (events, _) = feed(&app, &key, "?type=webhook.disabled");
    assert_eq!(events, Vec::<Value>::new());
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(receiver.all().len(), 3, "nothing while disabled");

    receiver.status.store(200, Ordering::SeqCst);
    let enabled = operator(&app, &key, "POST", &format!("/webhooks/{id}/enable"), None);
    assert_eq!(enabled.status, 200, "{:#}", enabled.body);
    assert_eq!(enabled.body["enabled"], true);
    let got = receiver.wait_for("the event after re-enabling", |r| r.len() >= 4);
    let event_id = got[3].header("webhook-id").to_owned();
    assert_eq!(got[3].json()["workspaceSlug"], "acme");
    let resent = operator(
        &app,
        &key,
        "POST",
        &format!("/webhooks/{id}/resend"),
        Some(json!({ "eventId": event_id })),
    );
    assert_eq!(resent.status, 202, "{:#}", resent.body);
    let got = receiver.wait_for("the resend", |r| r.len() >= 5);
    assert_eq!(got[4].header("webhook-id"), event_id);
    operator(
        &app,
        &key,
        "POST",
        &format!("/webhooks/{id}/resend"),
        Some(json!({ "eventId": "nope" })),
    )
    .assert_admin_error(404, "not_found");
    assert!(deployment_audit(&app, &key).contains(&("webhook.enabled".into(), "operator".into())));
}

/// What the operator's webhook state is, to prove a refusal changed nothing.
fn state(app: &TestApp, key: &str) -> (Value, usize) {
    let listed = operator(app, key, "GET", "/webhooks", None);
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    let audit = deployment_audit(app, key)
        .into_iter()
        .filter(|(action, _)| action.starts_with("webhook."))
        .count();
    (listed.body["webhooks"].clone(), audit)
}

#[test]
fn operator_webhook_routes_refuse_other_keys_and_bad_input_and_change_nothing() {
    // Without the tests' allowance for loopback receivers: the deployment's default policy.
    let app = TestApp::new();
    let key = operator_key(&app);
    let admin_key = app.api_key();
    let before = state(&app, &key);
    assert_eq!(before, (json!([]), 0));

    let routes = |url: &str| -> Vec<(&'static str, String, Option<Value>)> {
        let id = "00000000-0000-0000-0000-000000000000";
        vec![
            ("GET", "/webhooks".into(), None),
            ("GET", "/webhooks/event-types".into(), None),
            ("POST", "/webhooks".into(), Some(json!({ "url": url }))),
            ("GET", format!("/webhooks/{id}"), None),
            ("DELETE", format!("/webhooks/{id}"), None),
            ("POST", format!("/webhooks/{id}/enable"), None),
            ("GET", format!("/webhooks/{id}/deliveries"), None),
            (
                "POST",
                format!("/webhooks/{id}/resend"),
                Some(json!({ "eventId": "x" })),
            ),
        ]
    };
    // A workspace's admin key: 403 on every route.
    for (method, path, body) in routes("https://hooks.example.com/in") {
        let reply = operator(&app, &admin_key, method, &path, body);
        reply.assert_admin_error(403, "forbidden");
        assert_eq!(reply.body["detail"]["refusal"], "workspace_key", "{path}");
    }
    // Bad input from the operator: a 400 naming it.
    let refused = |body: Value| -> Reply {
        let reply = operator(&app, &key, "POST", "/webhooks", Some(body));
        reply.assert_admin_error(400, "validation");
        reply
    };
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/hook",
        "ftp://example.com/x",
        "not a url",
    ] {
        let reply = refused(json!({ "url": url }));
        assert!(
            reply.body["message"].as_str().unwrap().starts_with("url:"),
            "{url}: {:#}",
            reply.body
        );
    }
    let reply =
        refused(json!({ "url": "https://hooks.example.com/in", "eventTypes": ["user.createdd"] }));
    assert_eq!(reply.body["detail"]["unknown"], json!(["user.createdd"]));
    let reply = refused(json!({
        "url": "https://hooks.example.com/in",
        "workspaces": ["acme", "nobody", "00000000-0000-0000-0000-000000000000"],
    }));
    assert_eq!(reply.body["detail"]["field"], "workspaces");
    assert_eq!(
        reply.body["detail"]["unknown"],
        json!(["nobody", "00000000-0000-0000-0000-000000000000"])
    );
    refused(json!({ "url": "https://hooks.example.com/in", "plan": "gold" }));
    assert_eq!(state(&app, &key), before, "nothing written");
    assert_eq!(
        app.admin(&admin_key, "GET", "/webhooks", None).body["webhooks"],
        json!([])
    );

    // A revoked operator key: 401 on every route.
    let id = app.db.store.list_operator_keys().unwrap()[0].id;
    app.db.store.revoke_operator_key(&Actor::Cli, id).unwrap();
    for (method, path, body) in routes("https://hooks.example.com/in") {
        operator(&app, &key, method, &path, body).assert_admin_error(401, "unauthorized");
    }
    let fresh = operator_key(&app);
    assert_eq!(state(&app, &fresh), before, "nothing written");
}
