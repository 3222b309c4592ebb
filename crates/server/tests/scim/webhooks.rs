//! Webhooks against a real local receiver: every event, in order, signed; retries while the
//! receiver is down; disabling after a run of failures; resend; SSRF refusal.

use std::sync::atomic::Ordering;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use crate::common::{patch_op, Options, TestApp};
use crate::receiver::{Received, Receiver};

/// A server running the webhook worker (fast retries, loopback receivers allowed; an endpoint
/// is disabled after `failures_to_disable` consecutive failures), and an admin API key.
fn with_webhooks(failures_to_disable: u32) -> (TestApp, String) {
    let app = TestApp::with(Options {
        webhooks: Some(failures_to_disable),
        ..Options::default()
    });
    let key = app.api_key();
    (app, key)
}

fn register(app: &TestApp, key: &str, url: &str, types: serde_json::Value) -> (String, String) {
    let reply = app.admin(
        key,
        "POST",
        "/webhooks",
        Some(json!({"url": url, "eventTypes": types})),
    );
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["secret"].as_str().unwrap().to_owned(),
    )
}

fn feed_ids(app: &TestApp, key: &str) -> Vec<(String, String)> {
    let reply = app.admin(key, "GET", "/events?limit=1000", None);
    reply.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn verify(received: &Received, secret: &str) {
    let id = received.header("webhook-id");
    let timestamp: i64 = received.header("webhook-timestamp").parse().unwrap();
    let want = roster_webhooks::sign(secret, id, timestamp, &received.body).unwrap();
    assert_eq!(
        received.header("webhook-signature"),
        want,
        "valid Standard Webhooks signature"
    );
    assert_eq!(received.json()["id"], id, "webhook-id is the event id");
    assert_eq!(received.header("content-type"), "application/json");
}

#[test]
fn every_event_arrives_in_order_signed() {
    let (app, key) = with_webhooks(50);
    let receiver = Receiver::start();
    let (_, secret) = register(&app, &key, &receiver.url, json!([]));
    let ann = app.create_user("ann", "e-ann");
    let group = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Eng", "members": [{"value": ann}]})),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.scim(
        "PATCH",
        &format!("/Users/{ann}"),
        Some(patch_op(
            json!([{"op": "replace", "path": "active", "value": false}]),
        )),
    );
    app.scim("DELETE", &format!("/Groups/{group}"), None);
    // After the workspace's setup (workspace.created, connection.created, scim_token.created).
    let expected: Vec<(String, String)> = feed_ids(&app, &key).into_iter().skip(3).collect();
    assert_eq!(expected.len(), 6, "{expected:?}");
    let got = receiver.wait_for("all events", |r| r.len() >= expected.len());
    let delivered: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            (
                r.header("webhook-id").to_owned(),
                r.json()["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        delivered, expected,
        "exactly the feed's events, in order, nothing before registration"
    );
    for received in &got {
        verify(received, &secret);
    }
}

#[test]
fn deliveries_retry_until_the_receiver_is_back() {
    let (app, key) = with_webhooks(1000);
    let receiver = Receiver::start();
    receiver.status.store(503, Ordering::SeqCst);
    let (id, secret) = register(&app, &key, &receiver.url, json!(["user.created"]));
    app.create_user("a", "e-a");
    app.create_user("b", "e-b");
    receiver.wait_for("several failed attempts", |r| r.len() >= 3);
    receiver.status.store(200, Ordering::SeqCst);
    let got = receiver.wait_for("both users after recovery", |r| {
        let ok: Vec<_> = r
            .iter()
            .map(|x| {
                x.json()["resource"]["userName"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        ok.contains(&"b".to_owned()) && ok.contains(&"a".to_owned())
    });
    // The first event is retried with the same webhook-id until acknowledged, then the second.
    let first_id = got[0].header("webhook-id").to_owned();
    assert!(
        got.iter()
            .take(3)
            .all(|r| r.header("webhook-id") == first_id),
        "retries keep the webhook-id"
    );
    let order: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["resource"]["userName"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let first_b = order.iter().position(|n| n == "b").unwrap();
    assert!(
        order[..first_b].iter().all(|n| n == "a"),
        "per-endpoint order holds: {order:?}"
    );
    for received in &got {
        verify(received, &secret);
    }
    // The log shows a batch's attempts once the batch is recorded, just after its last answer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let log = app.admin(&key, "GET", &format!("/webhooks/{id}/deliveries"), None);
        let statuses: Vec<i64> = log.body["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["statusCode"].as_i64())
            .collect();
        if statuses.contains(&503) && statuses.contains(&200) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{statuses:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_run_of_failures_disables_the_endpoint_with_an_event_and_enable_resumes() {
    let (app, key) = with_webhooks(3);
    let receiver = Receiver::start();
    receiver.status.store(500, Ordering::SeqCst);
    let (id, _) = register(&app, &key, &receiver.url, json!(["user.created"]));
    app.create_user("a", "e-a");
    receiver.wait_for("three attempts", |r| r.len() >= 3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = app.admin(&key, "GET", "/webhooks", None);
        if listed.body["webhooks"][0]["enabled"] == false {
            assert!(listed.body["webhooks"][0]["disabledReason"]
                .as_str()
                .unwrap()
                .contains("3 consecutive"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not disabled: {:#}",
            listed.body
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(feed_ids(&app, &key)
        .iter()
        .any(|(_, t)| t == "webhook.disabled"));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let attempts = receiver.all().len();
    assert_eq!(attempts, 3, "no delivery while disabled");
    receiver.status.store(200, Ordering::SeqCst);
    assert_eq!(
        app.admin(&key, "POST", &format!("/webhooks/{id}/enable"), None)
            .status,
        200
    );
    receiver.wait_for("the event after re-enabling", |r| r.len() > attempts);
}

#[test]
fn resend_delivers_again_with_the_same_id() {
    let (app, key) = with_webhooks(50);
    let receiver = Receiver::start();
    let (id, _) = register(&app, &key, &receiver.url, json!(["user.created"]));
    app.create_user("a", "e-a");
    let first = receiver.wait_for("the event", |r| !r.is_empty());
    let event_id = first[0].header("webhook-id").to_owned();
    let resent = app.admin(
        &key,
        "POST",
        &format!("/webhooks/{id}/resend"),
        Some(json!({"eventId": event_id})),
    );
    assert_eq!(resent.status, 202, "{:#}", resent.body);
    let got = receiver.wait_for("the resend", |r| r.len() >= 2);
    assert_eq!(got[1].header("webhook-id"), event_id);
    let missing = app.admin(
        &key,
        "POST",
        &format!("/webhooks/{id}/resend"),
        Some(json!({"eventId": "nope"})),
    );
    assert_eq!(
        (missing.status, missing.body["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[test]
fn a_redirect_is_a_failed_delivery_and_its_location_is_never_requested() {
    // The endpoint is allowed (loopback receivers are, in these tests); what it redirects to
    // is not requested at all, whatever its address: redirects are never followed.
    let (app, key) = with_webhooks(50);
    let internal = Receiver::start();
    let redirecting = Receiver::start();
    redirecting.redirect_to(302, &format!("{}/admin/secrets", internal.url));
    let (id, _) = register(&app, &key, &redirecting.url, json!(["user.created"]));
    app.create_user("a", "e-a");
    redirecting.wait_for("the delivery", |r| !r.is_empty());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let deliveries = loop {
        let log = app.admin(&key, "GET", &format!("/webhooks/{id}/deliveries"), None);
        let deliveries = log.body["deliveries"].as_array().unwrap().clone();
        if !deliveries.is_empty() {
            break deliveries;
        }
        assert!(std::time::Instant::now() < deadline, "no delivery recorded");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    for delivery in &deliveries {
        assert_eq!(delivery["statusCode"], 302, "{delivery:#}");
        let error = delivery["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("redirect") && error.contains("not followed"),
            "{delivery:#}"
        );
    }
    let listed = app.admin(&key, "GET", "/webhooks", None);
    assert!(
        listed.body["webhooks"][0]["consecutiveFailures"].as_i64() >= Some(1),
        "{:#}",
        listed.body
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        internal.all().len(),
        0,
        "the redirect target received nothing"
    );
}

#[test]
fn private_urls_are_refused_unless_the_operator_allows_them() {
    let app = TestApp::new();
    let key = app.api_key();
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest",
        "ftp://example.com/x",
    ] {
        let reply = app.admin(&key, "POST", "/webhooks", Some(json!({"url": url})));
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (400, Some("validation")),
            "{url}: {:#}",
            reply.body
        );
    }
    assert_eq!(
        app.admin(&key, "GET", "/webhooks", None).body["webhooks"],
        json!([])
    );
    let listed = app.admin(&key, "GET", "/webhooks", None);
    assert!(
        !listed.body.to_string().contains("whsec_"),
        "secrets are never listed"
    );
}

#[test]
fn unknown_event_types_are_refused_naming_them_and_listing_the_catalogue() {
    let (app, key) = with_webhooks(50);
    let receiver = Receiver::start();

    let catalogue = app.admin(&key, "GET", "/webhooks/event-types", None);
    assert_eq!(catalogue.status, 200, "{:#}", catalogue.body);
    let types: Vec<&str> = catalogue.body["eventTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(types, roster_store::EVENT_TYPES);
    assert!(types.contains(&"user.created") && types.contains(&"webhook.disabled"));

    for requested in [
        json!(["user.createdd"]),
        json!(["user.created", "user.createdd", "*"]),
        json!([""]),
    ] {
        let refused = app.admin(
            &key,
            "POST",
            "/webhooks",
            Some(json!({"url": receiver.url, "eventTypes": requested})),
        );
        assert_eq!(refused.status, 400, "{:#}", refused.body);
        assert_eq!(refused.body["code"], "validation");
        let message = refused.body["message"].as_str().unwrap();
        assert!(message.contains("user.created, user.updated"), "{message}");
        assert_eq!(refused.body["detail"]["field"], "eventTypes");
        assert_eq!(
            refused.body["detail"]["valid"],
            json!(roster_store::EVENT_TYPES)
        );
        let unknown: Vec<Value> = requested
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| !roster_store::EVENT_TYPES.contains(&t.as_str().unwrap()))
            .cloned()
            .collect();
        assert_eq!(refused.body["detail"]["unknown"], json!(unknown));
        for name in &unknown {
            assert!(message.contains(&format!("{name}")), "{message}");
        }
    }
    let listed = app.admin(&key, "GET", "/webhooks", None);
    assert_eq!(listed.body["webhooks"], json!([]), "nothing written");

    // Known types, and none at all (every type), are accepted.
    register(
        &app,
        &key,
        &receiver.url,
        json!(["user.created", "group.deleted"]),
    );
    register(&app, &key, &receiver.url, json!([]));
    let listed = app.admin(&key, "GET", "/webhooks", None);
    assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 2);
}

/// The value of the `/metrics` sample `name{labels}`, if it is there.
fn sample(app: &TestApp, name_and_labels: &str) -> Option<f64> {
    let reply = app.raw("GET", "/metrics", None, &[]);
    assert_eq!(reply.status, 200);
    reply.body.as_str().unwrap().lines().find_map(|line| {
        line.strip_prefix(name_and_labels)?
            .strip_prefix(' ')?
            .parse()
            .ok()
    })
}

/// Polls `/metrics` (10 s at most) until `name{labels}` satisfies `wanted`.
fn wait_for_sample(app: &TestApp, name_and_labels: &str, wanted: impl Fn(f64) -> bool) -> f64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let value = sample(app, name_and_labels);
        if let Some(value) = value.filter(|v| wanted(*v)) {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name_and_labels} is {value:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn metrics_count_deliveries_and_show_each_endpoints_backlog() {
    let (app, key) = with_webhooks(1000);
    let up = Receiver::start();
    let down = Receiver::start();
    down.status.store(503, Ordering::SeqCst);
    let (up_id, _) = register(&app, &key, &up.url, json!(["user.created"]));
    let (down_id, _) = register(&app, &key, &down.url, json!(["user.created"]));
    let workspace = app.workspace.id.to_string();
    app.create_user("a", "e-a");
    app.create_user("b", "e-b");
    up.wait_for("both users", |r| r.len() >= 2);
    down.wait_for("failed attempts", |r| r.len() >= 2);

    let successes =
        format!("roster_webhook_deliveries_total{{endpoint=\"{up_id}\",outcome=\"success\"}}");
    let failures =
        format!("roster_webhook_deliveries_total{{endpoint=\"{down_id}\",outcome=\"failure\"}}");
    assert_eq!(wait_for_sample(&app, &successes, |v| v >= 2.0), 2.0);
    wait_for_sample(&app, &failures, |v| v >= 2.0);
    let backlog = |id: &str| {
        format!("roster_webhook_backlog_events{{endpoint=\"{id}\",workspace=\"{workspace}\",enabled=\"true\"}}")
    };
    wait_for_sample(&app, &backlog(&up_id), |v| v == 0.0);
    // The failing endpoint still has both events to receive (its cursor has not moved).
    assert_eq!(sample(&app, &backlog(&down_id)), Some(2.0));

    // It catches up once its receiver is back.
    down.status.store(200, Ordering::SeqCst);
    wait_for_sample(&app, &backlog(&down_id), |v| v == 0.0);
    let metrics = app.raw("GET", "/metrics", None, &[]);
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains("# TYPE roster_webhook_deliveries_total counter"));
    assert!(text.contains("# TYPE roster_webhook_backlog_events gauge"));
    assert!(
        text.contains(&format!(
            "roster_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    for name in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            text.lines()
                .any(|line| line.starts_with(&format!("{name} "))),
            "{name} in {text}"
        );
    }
}

/// The feed's event ids after the workspace's setup (workspace.created, connection.created,
/// scim_token.created), in order.
fn ids_after_setup(app: &TestApp, key: &str) -> Vec<String> {
    feed_ids(app, key)
        .into_iter()
        .skip(3)
        .map(|(id, _)| id)
        .collect()
}

/// A group created with members writes many events in one commit: the worker takes them as one
/// batch, and sends them in order over one kept-alive connection.
#[test]
fn a_burst_arrives_in_order_over_one_kept_alive_connection() {
    let (app, key) = with_webhooks(50);
    let receiver = Receiver::keep_alive();
    register(&app, &key, &receiver.url, json!([]));
    let members: Vec<Value> = (0..40)
        .map(|i| json!({"value": app.create_user(&format!("u{i}"), &format!("e-u{i}"))}))
        .collect();
    let group = app.scim(
        "POST",
        "/Groups",
        Some(json!({"displayName": "Everyone", "members": members})),
    );
    assert_eq!(group.status, 201, "{:#}", group.body);
    let expected = ids_after_setup(&app, &key);
    assert!(expected.len() > 80, "{}", expected.len());
    let got = receiver.wait_for("every event", |r| r.len() >= expected.len());
    let delivered: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(delivered, expected, "each once, in the feed's order");
    assert_eq!(
        receiver.connections.load(Ordering::SeqCst),
        1,
        "every delivery over one kept-alive connection"
    );
}

/// The endpoint fails one delivery in the middle of a batch: the events before it are not sent
/// again, the failed one is retried, and nothing after it arrives before it is acknowledged.
#[test]
fn a_failure_mid_batch_retries_from_the_failed_event_in_order() {
    let (app, key) = with_webhooks(50);
    let receiver = Receiver::keep_alive();
    let (id, _) = register(&app, &key, &receiver.url, json!([]));
    let members: Vec<Value> = (0..10)
        .map(|i| json!({"value": app.create_user(&format!("u{i}"), &format!("e-u{i}"))}))
        .collect();
    receiver.wait_for("the users", |r| r.len() >= 10);
    // The group and its ten memberships commit together; the fourth of them fails once.
    receiver.fail_request.store(10 + 4, Ordering::SeqCst);
    let group = app.scim(
        "POST",
        "/Groups",
        Some(json!({"displayName": "Ten", "members": members})),
    );
    assert_eq!(group.status, 201, "{:#}", group.body);
    let expected = ids_after_setup(&app, &key);
    assert_eq!(expected.len(), 21, "ten users, the group, ten members");
    let got = receiver.wait_for("every event, one twice", |r| r.len() > expected.len());
    let delivered: Vec<&str> = got[10..].iter().map(|r| r.header("webhook-id")).collect();
    let failed = expected[13].as_str();
    let mut want: Vec<&str> = expected[10..].iter().map(String::as_str).collect();
    want.insert(4, failed);
    assert_eq!(
        delivered, want,
        "the failed event again, then the rest, in order"
    );
    // The batch's attempts are recorded when it ends, just after the last one arrived.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (log, attempts) = loop {
        let log = app.admin(&key, "GET", &format!("/webhooks/{id}/deliveries"), None);
        let attempts: Vec<(i64, i64)> = log.body["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["eventId"] == failed)
            .map(|d| {
                (
                    d["attempt"].as_i64().unwrap(),
                    d["statusCode"].as_i64().unwrap(),
                )
            })
            .collect();
        if attempts.len() == 2 || std::time::Instant::now() > deadline {
            break (log, attempts);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(attempts, [(2, 200), (1, 503)], "newest first");
    let before_failure = log.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["eventId"] == expected[12].as_str())
        .count();
    assert_eq!(
        before_failure, 1,
        "the acknowledged prefix is not sent again"
    );
}

/// Events written while the endpoint's batches are out, more than one batch holds: the worker
/// goes on with the endpoint's next batch in the commit that records the last one, and every
/// event still arrives once, in the feed's order, over one connection.
#[test]
fn a_stream_longer_than_a_batch_arrives_in_order_while_it_is_written() {
    let (app, key) = with_webhooks(50);
    let receiver = Receiver::keep_alive();
    register(&app, &key, &receiver.url, json!([]));
    // More than one batch (256 events).
    let users = 300;
    for i in 0..users {
        app.create_user(&format!("s{i}"), &format!("e-s{i}"));
    }
    let expected = ids_after_setup(&app, &key);
    assert_eq!(expected.len(), users);
    let got = receiver.wait_for("every event", |r| r.len() >= expected.len());
    let delivered: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(delivered, expected, "each once, in the feed's order");
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
}
