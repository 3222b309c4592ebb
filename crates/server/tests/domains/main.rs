//! Domains with proof over real HTTP, a real database and a real DNS server on loopback
//! (`dns_server`, which `dns.nameservers` points Roster at): a domain is added `pending` with a
//! TXT record to publish, turns `verified` when the record appears, `failed` when it is wrong or
//! missing, and is checked again on request and by the background checker; the same domain
//! cannot be verified by two workspaces; public mail domains are refused; and an unverified
//! domain does not route `login_hint` discovery.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod dns_server;

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Domain, Timestamp};
use serde_json::{json, Value};

use common::{Options, TestApp};
use dns_server::DnsServer;

fn app_with(dns: &DnsServer) -> TestApp {
    TestApp::with(Options {
        dns_nameservers: vec![dns.addr.to_string()],
        ..Options::default()
    })
}

/// The event types of the workspace's feed, in order.
fn event_types(app: &TestApp, workspace: roster_store::domain::WorkspaceId) -> Vec<String> {
    app.db
        .store
        .events(workspace, 0, 1000, &[])
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .filter(|t| t.starts_with("domain."))
        .collect()
}

#[test]
fn a_domain_turns_verified_when_its_record_appears_and_failed_when_it_is_wrong() {
    let dns = DnsServer::start();
    let app = app_with(&dns);
    let key = app.api_key();

    let added = app.admin(
        &key,
        "POST",
        "/domains",
        Some(json!({"domain": "Acme-Corp.test"})),
    );
    assert_eq!(added.status, 201, "{:#}", added.body);
    assert_eq!(added.body["domain"], "acme-corp.test");
    assert_eq!(added.body["state"], "pending");
    assert_eq!(added.body["record"]["type"], "TXT");
    assert_eq!(
        added.body["record"]["name"],
        "_roster-challenge.acme-corp.test"
    );
    let value = added.body["record"]["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("roster-domain-verification="), "{value}");
    assert!(
        added.body["nextCheckAt"].is_string(),
        "the background checker will look"
    );

    // Nothing published yet: an admin's check fails the domain at once.
    let missing = app.admin(&key, "POST", "/domains/acme-corp.test/verify", None);
    assert_eq!(missing.status, 200, "{:#}", missing.body);
    assert_eq!(
        (&missing.body["state"], &missing.body["lastCheck"]),
        (&json!("failed"), &json!("missing"))
    );
    assert!(dns
        .queries()
        .contains(&"_roster-challenge.acme-corp.test.".to_owned()));

    // A wrong value: still failed.
    dns.set_txt(
        "_roster-challenge.acme-corp.test",
        &["v=spf1 -all", "roster-domain-verification=not-this-one"],
    );
    let wrong = app.admin(&key, "POST", "/domains/acme-corp.test/verify", None);
    assert_eq!(
        (&wrong.body["state"], &wrong.body["lastCheck"]),
        (&json!("failed"), &json!("wrong"))
    );

    // The right value appears: re-checked, verified.
    dns.set_txt("_roster-challenge.acme-corp.test", &["v=spf1 -all", &value]);
    let verified = app.admin(&key, "POST", "/domains/acme-corp.test/verify", None);
    assert_eq!(verified.status, 200, "{:#}", verified.body);
    assert_eq!(verified.body["state"], "verified");
    assert!(verified.body["verifiedAt"].is_string());
    assert_eq!(verified.body["nextCheckAt"], Value::Null);

    // The record is taken away: a re-check fails the domain again.
    dns.set_txt("_roster-challenge.acme-corp.test", &[]);
    let gone = app.admin(&key, "POST", "/domains/acme-corp.test/verify", None);
    assert_eq!(gone.body["state"], "failed");

    // Each change of state is an event of the feed, and audited.
    assert_eq!(
        event_types(&app, app.workspace.id),
        vec![
            "domain.verification_failed",
            "domain.verified",
            "domain.verification_failed"
        ]
    );
    let listed = app.admin(&key, "GET", "/domains", None);
    assert_eq!(listed.body["domains"][0]["attempts"], 4);
    let shown = app.admin(&key, "GET", "/domains/acme-corp.test", None);
    assert_eq!(shown.body["state"], "failed");

    // Deleted: gone from the list.
    assert_eq!(
        app.admin(&key, "DELETE", "/domains/acme-corp.test", None)
            .status,
        204
    );
    assert_eq!(
        app.admin(&key, "GET", "/domains", None).body["domains"],
        json!([])
    );
    app.admin(&key, "GET", "/domains/acme-corp.test", None)
        .assert_admin_error(404, "not_found");
    app.admin(&key, "POST", "/domains/acme-corp.test/verify", None)
        .assert_admin_error(404, "not_found");
}

#[test]
fn the_background_checker_verifies_a_pending_domain_with_backoff() {
    let dns = DnsServer::start();
    let app = app_with(&dns);
    let store = app.db.store.clone();
    let resolver = roster_outbound::DnsResolver::new(vec![dns.addr]);
    let domain = Domain::parse("later.test").unwrap();
    let added = store
        .add_domain(&Actor::Cli, app.workspace.id, &domain)
        .unwrap();
    let check_at = |seconds: i64| {
        let store = store.clone();
        let resolver = resolver.clone();
        actix_web::rt::System::new().block_on(async move {
            roster_server::domain_checks::check_due(
                &store,
                &resolver,
                Timestamp::now().plus_seconds(seconds),
            )
            .await
        })
    };
    // Not due yet (the first check waits a minute).
    assert_eq!(check_at(0), 0);
    // Due, and nothing published: still pending, the next check further away.
    assert_eq!(check_at(61), 1);
    let first = store.workspace_domain(app.workspace.id, &domain).unwrap();
    assert_eq!(
        (
            first.state.as_str(),
            first.attempts,
            first.last_check.as_deref()
        ),
        ("pending", 1, Some("missing"))
    );
    let wait =
        first.next_check_at.unwrap().as_micros() - first.last_checked_at.unwrap().as_micros();
    assert_eq!(wait / 1_000_000, 120, "the second check waits two minutes");
    // Published: the next background check verifies it, as `system`.
    dns.set_txt(&added.record_name(), &[&added.challenge]);
    assert_eq!(check_at(121), 1);
    let verified = store.workspace_domain(app.workspace.id, &domain).unwrap();
    assert_eq!(verified.state.as_str(), "verified");
    assert_eq!(
        verified.next_check_at, None,
        "a verified domain is not polled"
    );
    let audit = store.audit_events(app.workspace.id, None, 1000).unwrap();
    let by_system = audit
        .iter()
        .find(|e| e.action == "domain.verified")
        .unwrap();
    assert_eq!(by_system.actor_kind, "system");
    assert_eq!(event_types(&app, app.workspace.id), vec!["domain.verified"]);
}

#[test]
fn a_domain_is_verified_by_one_workspace_only() {
    let dns = DnsServer::start();
    let app = app_with(&dns);
    let key = app.api_key();
    let other_key = app.other_workspace_api_key("globex");
    let name = "shared.test";
    let mut values = Vec::new();
    for key in [&key, &other_key] {
        let added = app.admin(key, "POST", "/domains", Some(json!({"domain": name})));
        assert_eq!(added.status, 201, "{:#}", added.body);
        values.push(added.body["record"]["value"].as_str().unwrap().to_owned());
    }
    // Both challenges published: the first to check gets it, the other is refused.
    let published: Vec<&str> = values.iter().map(String::as_str).collect();
    dns.set_txt("_roster-challenge.shared.test", &published);
    let first = app.admin(&key, "POST", "/domains/shared.test/verify", None);
    assert_eq!(first.body["state"], "verified", "{:#}", first.body);
    let second = app.admin(&other_key, "POST", "/domains/shared.test/verify", None);
    second.assert_admin_error(409, "conflict");
    assert!(
        second.body["message"]
            .as_str()
            .unwrap()
            .contains("verified by another workspace"),
        "{:#}",
        second.body
    );
    // Nothing changed for the second workspace.
    let still = app.admin(&other_key, "GET", "/domains/shared.test", None);
    assert_eq!(
        (&still.body["state"], &still.body["attempts"]),
        (&json!("pending"), &json!(0))
    );
    // Adding it twice to the same workspace is a conflict too.
    app.admin(&key, "POST", "/domains", Some(json!({"domain": name})))
        .assert_admin_error(409, "conflict");
}

#[test]
fn public_mail_domains_and_malformed_names_are_refused_and_nothing_is_written() {
    let dns = DnsServer::start();
    let app = app_with(&dns);
    let key = app.api_key();
    for name in [
        "gmail.com",
        "Outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
    ] {
        let refused = app.admin(&key, "POST", "/domains", Some(json!({"domain": name})));
        refused.assert_admin_error(400, "validation");
        assert!(
            refused.body["message"]
                .as_str()
                .unwrap()
                .contains("public mail domain"),
            "{:#}",
            refused.body
        );
    }
    for body in [
        json!({"domain": "not a domain"}),
        json!({"domain": "localhost"}),
        json!({}),
    ] {
        app.admin(&key, "POST", "/domains", Some(body))
            .assert_admin_error(400, "validation");
    }
    assert_eq!(
        app.admin(&key, "GET", "/domains", None).body["domains"],
        json!([])
    );
    assert!(dns.queries().is_empty(), "nothing was looked up");
}
