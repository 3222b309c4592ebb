//! The console's setup mode in a real browser (Debian's headless Chromium, driven by
//! `e2e/console/setup.mjs`): what the customer's IT admin, who has no account, does with the
//! setup link the SaaS operator sent. The operator's backend makes an `all` link whose
//! `return_url` is a page this test serves (the "product"); the browser opens the link, presses
//! Continue, and in setup mode ("Setting up ACME Corp", no admin navigation) picks Okta, reads its
//! steps with this workspace's values, gives Roster SimpleSAMLphp's metadata URL (the connection
//! is active), tests a sign-in as alice at SimpleSAMLphp and reads the report (would create her;
//! nothing written), adds a domain and reads its TXT record (checked against a DNS server without it),
//! turns SCIM on, generates a token, provisions a user with it and sees the user arrive, is
//! refused a route outside its reach, presses Done (asked first; cancelled once) and lands on the
//! product's page; the link, opened again, is used. A `domain` link, in another browser, shows
//! only the Domains step and is refused `/users` from the page. The script fails on any page error, CSP violation or
//! unexpected failed request; this test then checks the database agrees: the connection, the
//! domain, the token and the user exist, the audit trail names the link as their actor, both
//! links are finished, and the session's cookie no longer opens anything. Last, the connection
//! set up in the browser signs alice in through SimpleSAMLphp for real.
//! Screenshots of each step are left in `<target>/console-screenshots/` (30-… to 42-…).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, ConnectionKind, ConnectionStatus, Source, Vendor};
use serde_json::{json, Value};

use crate::console::{
    admin_call, console_dir, dns_server, expect_screenshots, forget_screenshots, screenshots_dir,
};
use crate::idps::{browser, SamlIdp, SamlOptions};
use crate::support::{e2e_enabled, session_of, SsoApp};

/// The screenshots of the setup walk, one per step.
const SCREENSHOTS: &[&str] = &[
    "30-setup-link",
    "31-setup-mode",
    "32-setup-okta-steps",
    "33-setup-test-sign-in-step",
    "33a-setup-idp-login",
    "33b-setup-test-report",
    "34-setup-domain-added",
    "35-setup-domain-checked",
    "36-setup-scim-token",
    "37-setup-first-user",
    "38-setup-done-confirmation",
    "39-setup-done-return-url",
    "40-setup-link-used",
    "41-setup-domain-only",
    "42-setup-finished",
];

/// The SP the IdP trusts through its SP metadata file until the walk's connection exists.
const PLACEHOLDER_SP_METADATA: &str = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:roster:placeholder-sp"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://127.0.0.1:1/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#;

/// The operator's product, where "Done" sends the IT admin: one page on every path, and the
/// request lines it was asked.
struct Product {
    url: String,
    asked: Arc<Mutex<Vec<String>>>,
}

fn product() -> Product {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&asked);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let record = Arc::clone(&record);
            // One thread a connection: Chromium may open a socket it never uses.
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0_u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                record.lock().unwrap().push(line);
                let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                            <title>ACME product</title><link rel=\"icon\" href=\"data:,\"></head>\
                            <body><h1>Back in the product</h1><p>Single sign-on settings</p>\
                            </body></html>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    Product {
        url: format!("http://127.0.0.1:{port}/settings/sso?setup=done"),
        asked,
    }
}

/// `GET /api/v1/admin/session` with a setup session's cookie: the status.
fn session_status(app: &SsoApp, cookie: &str) -> u16 {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .get(&format!("{}/api/v1/admin/session", app.url()))
        .header("Cookie", &format!("roster_setup={cookie}"))
        .call()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn an_it_admin_sets_the_workspace_up_from_a_setup_link_in_the_console() {
    if !e2e_enabled() {
        return;
    }
    let dns = dns_server::DnsServer::start();
    let mut settings = roster_server::settings::Settings::default();
    settings.dns.nameservers = vec![dns.addr.to_string()];
    settings.dns.check_interval_secs = 0;
    let app = SsoApp::with_settings(settings);
    let store = &app.db.store;
    store
        .rename_workspace(&Actor::Cli, app.workspace.id, "ACME Corp")
        .unwrap();
    // The IdP serves its metadata; it trusts the connection made in the browser once that
    // connection's SP metadata is written to its SP metadata file (a placeholder until then: the
    // driver writes it before the test sign-in).
    let idp = SamlIdp::start_with(SamlOptions {
        sp_metadata_xml: Some(PLACEHOLDER_SP_METADATA.to_owned()),
        ..SamlOptions::new("urn:roster:console-setup-test", "http://127.0.0.1:1/acs")
    });
    let product = product();
    // The operator's backend asks for the links (here with the workspace's API key).
    let (_, key) = store
        .create_api_key(&Actor::Cli, app.workspace.id, "product-backend")
        .unwrap();
    let key = key.expose().to_owned();
    let (status, all) = admin_call(
        &app,
        &key,
        "POST",
        "/setup-links",
        Some(json!({"intent": "all", "expires_in": 3600, "return_url": product.url})),
    );
    assert_eq!(status, 201, "{all:#}");
    let (status, domain_only) = admin_call(
        &app,
        &key,
        "POST",
        "/setup-links",
        Some(json!({"intent": "domain"})),
    );
    assert_eq!(status, 201, "{domain_only:#}");
    let shots = screenshots_dir();
    forget_screenshots(&shots, SCREENSHOTS);

    let output = Command::new("node")
        .arg(console_dir().join("setup.mjs"))
        .current_dir(console_dir())
        .env("BASE_URL", app.url())
        .env("SETUP_URL", all["url"].as_str().unwrap())
        .env("DOMAIN_SETUP_URL", domain_only["url"].as_str().unwrap())
        .env("RETURN_URL", &product.url)
        .env("SAML_METADATA_URL", idp.metadata_url())
        .env("DOMAIN", "acme-corp.test")
        .env("SCIM_USER", "grace@acme-corp.test")
        .env("SAML_SP_METADATA_FILE", idp.sp_metadata_file())
        .env("SCREENSHOTS", &shots)
        .output()
        .expect("node runs e2e/console/setup.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let seen: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no result from the driver\n{stdout}\n{stderr}"));
    assert!(
        output.status.success(),
        "the setup walk failed: {:#}\n{seen:#}\n{stderr}",
        seen["problems"]
    );

    // The link's page, then setup mode: the workspace's name, the link's steps, and nothing of
    // the admin console around them.
    assert_eq!(
        seen["linkPage"],
        json!({"status": 200, "heading": "Set up ACME Corp"})
    );
    assert_eq!(seen["setupHash"], "#setup/sso");
    let shell = &seen["shell"];
    assert_eq!(shell["title"], "Setting up ACME Corp");
    assert_eq!(
        shell["steps"],
        json!([
            "Single sign-on",
            "Test sign-in",
            "Domains",
            "Provisioning (SCIM)"
        ])
    );
    assert_eq!(shell["navHidden"], true);
    assert_eq!(shell["visibleNavLinks"], 0);
    assert_eq!(shell["signOutButtons"], 0);
    assert!(
        shell["who"]
            .as_str()
            .unwrap()
            .starts_with("Setup link · ends "),
        "{seen:#}"
    );

    // Single sign-on: Okta's steps showed the new connection's own values; its metadata made it
    // active, and the flow went on to the test sign-in step with it chosen.
    let connections = store.list_connections(app.workspace.id).unwrap();
    assert_eq!(connections.len(), 1, "{connections:#?}");
    let okta = &connections[0];
    assert_eq!(okta.name.as_str(), "okta");
    assert_eq!(okta.vendor, Vendor::Okta);
    assert_eq!(okta.kind, ConnectionKind::Saml);
    assert_eq!(okta.status, ConnectionStatus::Active);
    assert!(okta.protocol_config.contains(&idp.metadata_url()));
    assert!(okta.scim_enabled, "SCIM was turned on in the SCIM step");
    assert_eq!(seen["guideTitle"], "Okta (SAML)");
    assert_eq!(
        seen["guideAcsUrl"],
        format!("{}/sso/saml/{}/acs", app.url(), okta.id)
    );
    assert_eq!(
        seen["guideEntityId"],
        format!("{}/sso/saml/{}/metadata", app.url(), okta.id)
    );
    assert_eq!(seen["guideStepCount"], 5, "{seen:#}");
    assert_eq!(
        seen["testStep"],
        json!({
            "row": "okta SAML · okta Test sign-in",
            "chosen": true,
            "active": "okta is active: its sign-ins work now. Try one before you go on.",
            "button": 1
        })
    );

    // Test sign-in as alice at SimpleSAMLphp: back in setup mode with the report — what arrived,
    // and that Roster would create her — and nothing written: no user, no login, no session.
    let test = &seen["testSignIn"];
    assert_eq!(test["hash"], "#test/ID", "{seen:#}");
    assert_eq!(test["title"], "Setting up ACME Corp");
    assert_eq!(test["navHidden"], true);
    assert_eq!(
        test["outcome"], "Roster would create a new user.",
        "{seen:#}"
    );
    assert_eq!(test["email"], "alice@example.test");
    assert_eq!(test["subject"], "8f2c6b1e-alice");
    assert_eq!(test["sessionCookie"], false);
    assert_eq!(test["testButtons"], 1, "one Test sign-in per connection");
    assert!(
        store
            .user_by_user_name(app.workspace.id, "alice@example.test")
            .is_err()
            && store.user_by_user_name(app.workspace.id, "alice").is_err(),
        "the test sign-in created no user"
    );
    assert_eq!(app.user_count(), 1, "only the user SCIM provisioned");
    assert!(
        app.login_events().is_empty(),
        "the test sign-in is no login"
    );

    // Domains: the record shown is the database's; the check asked the DNS server and found
    // nothing; a setup session is offered no Delete.
    let domains = store.list_domains(app.workspace.id).unwrap();
    assert_eq!(domains.len(), 1, "{domains:#?}");
    let domain = &domains[0];
    assert_eq!(domain.domain.as_str(), "acme-corp.test");
    assert_eq!(
        seen["domainRecord"],
        json!({"name": "_roster-challenge.acme-corp.test", "value": domain.challenge.as_str()})
    );
    assert_eq!(seen["domainDeleteButtons"], 0);
    assert!(
        seen["domainCheck"]
            .as_str()
            .unwrap()
            .starts_with("no TXT record at _roster-challenge.acme-corp.test ("),
        "{seen:#}"
    );
    assert!(dns
        .queries()
        .contains(&"_roster-challenge.acme-corp.test.".to_owned()));
    assert_eq!(domain.state.as_str(), "failed");

    // SCIM: one token (shown once, copied), with which the IdP's first user arrived; the page
    // showed it within its refresh.
    assert_eq!(seen["scimBaseUrl"], format!("{}/scim/v2", app.url()));
    assert_eq!(seen["tokenCopied"], true);
    assert!(
        seen["watchBefore"]
            .as_str()
            .unwrap()
            .contains("No user from okta yet."),
        "{seen:#}"
    );
    let tokens = store.list_scim_tokens(app.workspace.id, okta.id).unwrap();
    assert_eq!(
        tokens.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["okta-provisioning"]
    );
    assert_eq!(seen["provisionStatus"], 201);
    let grace = store
        .user_by_user_name(app.workspace.id, "grace@acme-corp.test")
        .unwrap();
    assert_eq!(grace.id.to_string(), seen["userId"].as_str().unwrap());
    assert_eq!(grace.source, Source::Scim);
    assert_eq!(grace.managing_connection_id, Some(okta.id));
    assert_eq!(
        seen["firstUser"],
        "The first user has arrived: provisioning works."
    );
    assert!(
        seen["arrivedRow"]
            .as_str()
            .unwrap()
            .starts_with("grace@acme-corp.test grace@acme-corp.test active "),
        "{seen:#}"
    );
    assert!(
        seen["provisioningEntry"]
            .as_str()
            .unwrap()
            .contains("POST /scim/v2/Users 201"),
        "{seen:#}"
    );
    eprintln!(
        "the first user showed on the page {} ms after it was provisioned",
        seen["arrivedAfterMs"]
    );

    // Even an `all` session does not reach the audit trail.
    assert_eq!(
        seen["allOutOfScope"],
        json!({"status": 403, "refusal": "setup_scope"})
    );

    // Done asked first; cancelled, the page went on (the user still shown).
    assert_eq!(
        seen["doneConfirmation"],
        "What you set up stays. The setup link stops working and this page signs out; to \
         change something later, ask for a new link."
    );
    assert_eq!(
        seen["afterCancel"],
        json!({"hash": "#setup/scim", "user": true})
    );
    // Done: the browser ended on the product's page, without the cookie; the console asks for
    // a sign-in; the link is used; the session's cookie opens nothing any more.
    assert!(
        seen["returnPage"]
            .as_str()
            .unwrap()
            .starts_with("Back in the product"),
        "{seen:#}"
    );
    assert!(
        product
            .asked
            .lock()
            .unwrap()
            .iter()
            .any(|line| line == "GET /settings/sso?setup=done HTTP/1.1"),
        "{:?}",
        product.asked.lock().unwrap()
    );
    assert_eq!(seen["cookieAfterDone"], false);
    assert_eq!(seen["signInAfterDone"], true);
    assert_eq!(seen["usedLink"]["status"], 410);
    assert!(
        seen["usedLink"]["page"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{seen:#}"
    );
    let cookie = seen["setupCookie"].as_str().expect("the setup cookie");
    assert!(cookie.starts_with("rsss_"), "{cookie}");
    assert_eq!(session_status(&app, cookie), 401);

    // The `domain` link: only the Domains step, the workspace's domain listed, every other route
    // refused from the page; Done without a return_url says so in the page.
    assert_eq!(
        seen["domainLinkPage"],
        json!({"status": 200, "heading": "Set up ACME Corp"})
    );
    let shell = &seen["domainShell"];
    assert_eq!(shell["title"], "Setting up ACME Corp");
    assert_eq!(shell["steps"], json!(["Domains"]));
    assert_eq!(shell["navHidden"], true);
    assert_eq!(shell["visibleNavLinks"], 0);
    assert_eq!(seen["domainNextButtons"], 0);
    assert_eq!(seen["domainRows"], json!(["acme-corp.test"]));
    for route in ["domainOutOfScope", "domainConnections"] {
        assert_eq!(
            seen[route],
            json!({"status": 403, "refusal": "setup_scope"}),
            "{route}"
        );
    }
    assert!(
        seen["domainFinished"]
            .as_str()
            .unwrap()
            .starts_with("Setup finished"),
        "{seen:#}"
    );

    assert_eq!(seen["whoAfterFinish"], "Setup finished");
    assert_eq!(seen["finishedAfterBack"], true);

    // Both links are finished; what the sessions did is audited as their link.
    let links = store.setup_links(app.workspace.id).unwrap();
    assert_eq!(links.len(), 2);
    assert!(links.iter().all(|l| l.finished_at.is_some()), "{links:#?}");
    let all_actor = format!("setup_link:{}", all["id"].as_str().unwrap());
    let audit = store.audit_events(app.workspace.id, None, 10_000).unwrap();
    let by_link = |action: &str| {
        let event = audit
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("{action} is audited: {audit:#?}"));
        assert_eq!(
            (event.actor_kind.as_str(), event.actor_id.as_deref()),
            ("setup_link", Some(all_actor.as_str())),
            "{action}"
        );
        event
    };
    assert_eq!(by_link("connection.created").target_id, okta.id.to_string());
    for action in [
        "connection.config_updated",
        "domain.added",
        "scim_token.created",
    ] {
        by_link(action);
    }

    expect_screenshots(&shots, SCREENSHOTS);

    // The connection set up in the browser signs users in for real: SimpleSAMLphp (told about
    // it before the test sign-in) signs alice in through it, and now she is created.
    let alice = browser(
        &format!("{}/sso/acme/login?connection=okta&return_to=%2F", app.url()),
        Some(("alice", "alice-password")),
        None,
        &app.jar("alice"),
    );
    assert_eq!(alice.exit_code, 0, "{}\n{}", alice.json, idp.log());
    let (status, me) = app.me(&session_of(&alice).expect("alice's session"));
    assert_eq!((status, &me["email"]), (200, &json!("alice@example.test")));
    let logins = app.login_events();
    assert_eq!(logins.len(), 1, "{logins:#?}");
    assert_eq!(logins[0].connection_id, Some(okta.id.to_string()));
    assert_eq!(logins[0].outcome, "success");
}
