//! SAML logins through SimpleSAMLphp: SP-initiated login with JIT and mapped groups, our SP
//! metadata, and the refusals a browser can trigger (replay, unsolicited responses, tampering,
//! a foreign browser), each proven to change nothing.

use base64::Engine;
use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, ConnectionKind, LifecycleEvent};
use serde_json::json;

use crate::idps::{browser, SamlIdp, SamlOptions};
use crate::support::{e2e_enabled, session_of, SsoApp};

pub struct SamlSetup {
    pub app: SsoApp,
    pub connection: roster_store::domain::Connection,
    pub idp: SamlIdp,
    entity_id: String,
    acs: String,
}

pub fn saml_app(allow_idp_initiated: bool) -> SamlSetup {
    let app = SsoApp::new();
    let connection = app.connection("corp", ConnectionKind::Saml, &["example.test"]);
    let entity_id = format!("{}/sso/saml/{}/metadata", app.url(), connection.id);
    let acs = format!("{}/sso/saml/{}/acs", app.url(), connection.id);
    let idp = SamlIdp::start(&entity_id, &acs);
    let connection = app.configure(
        &connection,
        json!({
            "idp_metadata_xml": idp.metadata_xml(),
            "idp_metadata_url": idp.metadata_url(),
            "allow_idp_initiated": allow_idp_initiated,
        }),
    );
    SamlSetup {
        app,
        connection,
        idp,
        entity_id,
        acs,
    }
}

/// A draft SAML connection (no IdP metadata yet) is refused with its reason, its SP values are
/// what the IdP is configured with, and once the admin API gives it the IdP's metadata a login
/// through SimpleSAMLphp works.
#[test]
fn a_draft_refuses_logins_until_its_metadata_is_added_then_a_login_works() {
    if !e2e_enabled() {
        return;
    }
    let app = SsoApp::new();
    let store = &app.db.store;
    let draft = store
        .create_connection_in(
            &Actor::Cli,
            roster_store::NewConnection {
                workspace_id: app.workspace.id,
                name: roster_store::domain::DisplayName::parse("corp").unwrap(),
                kind: ConnectionKind::Saml,
                vendor: roster_store::domain::Vendor::Generic,
                protocol_config: roster_sso::setup::saml_draft_config(
                    false,
                    Default::default(),
                    Default::default(),
                )
                .unwrap(),
                domains: vec![roster_store::domain::Domain::parse("example.test").unwrap()],
                scim_enabled: false,
                profile_sync: roster_store::domain::ProfileSync::FirstLogin,
                group_sync: roster_store::domain::GroupSync::EveryLogin,
                strict_immutability: false,
            },
            roster_store::domain::ConnectionStatus::Draft,
        )
        .unwrap();
    let refused = app.get("/sso/acme/login?connection=corp&return_to=%2F", None);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("connection_draft"),
        "{}",
        refused.body
    );
    assert_eq!(
        app.login_events()[0].reason.as_deref(),
        Some("connection_draft")
    );

    // The IdP is set up from the draft's SP values, then the admin API gives the draft the
    // IdP's metadata URL (checked as at creation).
    let (_, sp) = app.admin_get(&format!("/connections/{}", draft.id));
    assert_eq!(sp["status"], "draft");
    let idp = SamlIdp::start(
        sp["sp"]["entityId"].as_str().unwrap(),
        sp["sp"]["acsUrl"].as_str().unwrap(),
    );
    let (_, key) = store
        .create_api_key(&Actor::Cli, app.workspace.id, "setup")
        .unwrap();
    let mut response = crate::support::agent()
        .put(&format!(
            "{}/api/v1/admin/connections/{}/settings",
            app.url(),
            draft.id
        ))
        .header("Authorization", &format!("Bearer {}", key.expose()))
        .header("Content-Type", "application/json")
        .send(json!({"saml": {"metadataUrl": idp.metadata_url()}}).to_string())
        .unwrap();
    let body = response.body_mut().read_to_string().unwrap();
    assert_eq!(response.status().as_u16(), 200, "{body}");
    assert_eq!(
        store.connection_by_id(draft.id).unwrap().status,
        roster_store::domain::ConnectionStatus::Active
    );

    let outcome = browser(
        &login_url(&app),
        Some(("alice", "alice-password")),
        None,
        &app.jar("a"),
    );
    assert_eq!(outcome.exit_code, 0, "{}\n{}", outcome.json, idp.log());
    let (status, me) = app.me(&session_of(&outcome).expect("session cookie"));
    assert_eq!(status, 200);
    assert_eq!(me["email"], "alice@example.test");
}

fn login_url(app: &SsoApp) -> String {
    format!("{}/sso/acme/login?connection=corp&return_to=%2F", app.url())
}

#[test]
fn sp_initiated_login_creates_the_user_with_mapped_groups() {
    if !e2e_enabled() {
        return;
    }
    let s = saml_app(false);
    s.app
        .map(&s.connection, "engineering", "Engineering", "engineer");
    let outcome = browser(
        &login_url(&s.app),
        Some(("alice", "alice-password")),
        None,
        &s.app.jar("a"),
    );
    assert_eq!(outcome.exit_code, 0, "{}\n{}", outcome.json, s.idp.log());
    let token = session_of(&outcome).expect("session cookie");
    let (status, me) = s.app.me(&token);
    assert_eq!(status, 200);
    assert_eq!(me["email"], "alice@example.test");
    assert_eq!(me["groups"], json!(["Engineering"]));
    assert_eq!(me["roles"], json!(["engineer"]));
    let events = s.app.login_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, "success");
    assert_eq!(events[0].subject.as_deref(), Some("8f2c6b1e-alice"));
    assert_eq!(events[0].protocol, "saml");

    // bob, with the same IdP: a second user; engineering again.
    let bob = browser(
        &login_url(&s.app),
        Some(("bob", "bob-password")),
        None,
        &s.app.jar("b"),
    );
    let (_, me) = s.app.me(&session_of(&bob).expect("bob's session"));
    assert_eq!(me["roles"], json!(["engineer"]));
    assert_eq!(s.app.user_count(), 2);

    // Both checks used the IdP's certificate through the key cache (the counts are the test
    // process's, which other tests move too: at least these two checks are in them).
    let metrics = s.app.get("/metrics", None).body;
    let count = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics"))
    };
    assert!(
        count("roster_saml_certificate_loads_total")
            + count("roster_saml_certificate_reuses_total")
            >= 2
    );
}

#[test]
fn sp_metadata_names_our_entity_and_acs() {
    if !e2e_enabled() {
        return;
    }
    let s = saml_app(false);
    let reply = s
        .app
        .get(&format!("/sso/saml/{}/metadata", s.connection.id), None);
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .body
            .contains(&format!("entityID=\"{}\"", s.entity_id)),
        "{}",
        reply.body
    );
    assert!(reply.body.contains(&s.acs));
}

/// Logs in up to the ACS and returns the SAMLResponse and the browser-binding cookie.
fn response_for(s: &SamlSetup, user: &str) -> (String, String) {
    let jar = s.app.jar(user);
    let stopped = browser(
        &login_url(&s.app),
        Some((user, &format!("{user}-password"))),
        Some(&s.acs),
        &jar,
    );
    assert_eq!(stopped.exit_code, 0, "{}", stopped.json);
    let response = stopped.json["params"]["SAMLResponse"]
        .as_str()
        .unwrap()
        .to_owned();
    let binding = stopped.json["cookies"]["127.0.0.1"]["roster_sso"]
        .as_str()
        .unwrap()
        .to_owned();
    (response, format!("roster_sso={binding}"))
}

fn acs_path(s: &SamlSetup) -> String {
    format!("/sso/saml/{}/acs", s.connection.id)
}

#[test]
fn a_response_is_accepted_once_and_only_from_the_browser_that_asked() {
    if !e2e_enabled() {
        return;
    }
    let s = saml_app(false);
    let (response, cookie) = response_for(&s, "alice");

    let foreign = s
        .app
        .post_form(&acs_path(&s), &[("SAMLResponse", &response)], None);
    assert_eq!(foreign.status, 400, "{}", foreign.body);
    assert_eq!(s.app.user_count(), 0);

    let first = s
        .app
        .post_form(&acs_path(&s), &[("SAMLResponse", &response)], Some(&cookie));
    assert_eq!(first.status, 302, "{:?}", s.app.login_events());
    assert_eq!(s.app.user_count(), 1);

    let replay = s
        .app
        .post_form(&acs_path(&s), &[("SAMLResponse", &response)], Some(&cookie));
    assert_eq!(replay.status, 400);
    // Its request was consumed by the first POST, so the replay is refused before the replay
    // cache is even asked; the IdP-initiated test below shows the cache itself.
    assert!(replay.body.contains("unknown_request"), "{}", replay.body);
    assert_eq!(s.app.user_count(), 1);
}

#[test]
fn a_tampered_response_is_refused_and_creates_nobody() {
    if !e2e_enabled() {
        return;
    }
    let s = saml_app(false);
    let (response, cookie) = response_for(&s, "alice");
    let b64 = base64::engine::general_purpose::STANDARD;
    let xml = String::from_utf8(b64.decode(response.trim()).unwrap()).unwrap();
    assert!(xml.contains("8f2c6b1e-alice"));
    let evil = b64.encode(xml.replace("8f2c6b1e-alice", "8f2c6b1e-admin"));
    let reply = s
        .app
        .post_form(&acs_path(&s), &[("SAMLResponse", &evil)], Some(&cookie));
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("invalid_response"), "{}", reply.body);
    assert_eq!(s.app.user_count(), 0);
    let events = s.app.login_events();
    assert_eq!(events[0].reason.as_deref(), Some("invalid_response"));

    // Garbage and an oversized form are clean 4xx pages too.
    let garbage = s
        .app
        .post_form(&acs_path(&s), &[("SAMLResponse", "!!!")], Some(&cookie));
    assert_eq!(garbage.status, 400);
    let huge = "A".repeat(600 * 1024);
    let too_big = s
        .app
        .post_form(&acs_path(&s), &[("SAMLResponse", &huge)], Some(&cookie));
    assert_eq!(too_big.status, 413);
    assert_eq!(s.app.user_count(), 0);

    // The untampered response is valid, yet given twice in one form it is refused (which one was
    // meant?), as is the same field in a body that is not a form.
    let twice = s.app.post_form(
        &acs_path(&s),
        &[("SAMLResponse", &response), ("SAMLResponse", &response)],
        Some(&cookie),
    );
    assert_eq!(twice.status, 400);
    assert!(twice.body.contains("could not be read"), "{}", twice.body);
    let json = s.app.post_raw(
        &acs_path(&s),
        "application/json",
        &format!(r#"{{"SAMLResponse":"{}"}}"#, response.trim()),
    );
    assert_eq!(json.status, 400);
    assert!(json.body.contains("could not be read"), "{}", json.body);
    assert_eq!(s.app.user_count(), 0);
    let once = s
        .app
        .post_form(&acs_path(&s), &[("SAMLResponse", &response)], Some(&cookie));
    assert_eq!(once.status, 302, "{}", once.body);
    assert_eq!(s.app.user_count(), 1);
}

fn idp_initiated(s: &SamlSetup) -> String {
    let url = format!(
        "{}?spentityid={}&RelayState=%2Fwelcome",
        s.idp.sso_url(),
        url_encode(&s.entity_id)
    );
    let stopped = browser(
        &url,
        Some(("alice", "alice-password")),
        Some(&s.acs),
        &s.app.jar("idp"),
    );
    assert_eq!(stopped.exit_code, 0, "{}\n{}", stopped.json, s.idp.log());
    stopped.json["params"]["SAMLResponse"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[test]
fn unsolicited_responses_are_refused_unless_the_connection_allows_them() {
    if !e2e_enabled() {
        return;
    }
    let s = saml_app(false);
    let response = idp_initiated(&s);
    let reply = s.app.post_form(
        &acs_path(&s),
        &[("SAMLResponse", &response), ("RelayState", "/welcome")],
        None,
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(s.app.user_count(), 0);

    let allowed = saml_app(true);
    let response = idp_initiated(&allowed);
    let reply = allowed.app.post_form(
        &acs_path(&allowed),
        &[
            ("SAMLResponse", &response),
            ("RelayState", "https://evil.test/"),
        ],
        None,
    );
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert_eq!(allowed.app.user_count(), 1);
    // The replay cache is what stops an unsolicited response from being used twice (S20).
    let replay = allowed
        .app
        .post_form(&acs_path(&allowed), &[("SAMLResponse", &response)], None);
    assert_eq!(replay.status, 400);
    assert!(replay.body.contains("replay"), "{}", replay.body);
    // And SP-initiated still works on the same connection.
    let outcome = browser(
        &login_url(&allowed.app),
        Some(("bob", "bob-password")),
        None,
        &allowed.app.jar("b"),
    );
    assert!(session_of(&outcome).is_some(), "{}", outcome.json);
}

#[test]
fn a_refused_assertion_is_consumed_too() {
    if !e2e_enabled() {
        return;
    }
    let s = saml_app(true);
    let first = idp_initiated(&s);
    let reply = s
        .app
        .post_form(&acs_path(&s), &[("SAMLResponse", &first)], None);
    assert_eq!(reply.status, 302, "{}", reply.body);
    let store = &s.app.db.store;
    let alice_id = s.app.login_events()[0].user_id.clone().unwrap();
    let alice = store
        .user(s.app.workspace.id, alice_id.parse().unwrap())
        .unwrap();
    // Deactivated, alice's next (fresh) assertion is refused by JIT...
    store
        .change_lifecycle(
            &Actor::Cli,
            s.app.workspace.id,
            alice.id,
            LifecycleEvent::Deactivate,
        )
        .unwrap();
    let second = idp_initiated(&s);
    let refused = s
        .app
        .post_form(&acs_path(&s), &[("SAMLResponse", &second)], None);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("user_inactive"), "{}", refused.body);
    // ...and stays used: once alice is active again, replaying it is still refused.
    store
        .change_lifecycle(
            &Actor::Cli,
            s.app.workspace.id,
            alice.id,
            LifecycleEvent::Reactivate,
        )
        .unwrap();
    let replay = s
        .app
        .post_form(&acs_path(&s), &[("SAMLResponse", &second)], None);
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.body.contains("replay"), "{}", replay.body);
    let outcomes: Vec<(String, Option<String>)> = s
        .app
        .login_events()
        .into_iter()
        .map(|e| (e.outcome, e.reason))
        .collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|(o, _)| o == "success").count(),
        1,
        "{outcomes:?}"
    );
}

#[test]
fn idp_metadata_is_refreshed_from_its_url() {
    if !e2e_enabled() {
        return;
    }
    let s = saml_app(false);
    let current = s.idp.metadata_xml();
    // Pretend the stored metadata is an old copy (with a trailing comment, still valid).
    s.app.configure(
        &s.connection,
        json!({
            "idp_metadata_xml": format!("{current}<!-- old -->"),
            "idp_metadata_url": s.idp.metadata_url(),
        }),
    );
    let open = roster_outbound::Client::new(
        roster_outbound::NetworkPolicy::new(true, vec![]),
        roster_outbound::Timeouts::default(),
    );
    let updated =
        roster_server::connections::refresh_saml_metadata(&s.app.db.store, &open).unwrap();
    assert_eq!(updated, 1);
    let stored = s.app.db.store.connection_by_id(s.connection.id).unwrap();
    let config: serde_json::Value = serde_json::from_str(&stored.protocol_config).unwrap();
    assert_eq!(config["idp_metadata_xml"], current);
    // Unchanged metadata writes nothing; private URLs are refused without the setting.
    assert_eq!(
        roster_server::connections::refresh_saml_metadata(&s.app.db.store, &open).unwrap(),
        0
    );
    assert_eq!(
        roster_server::connections::refresh_saml_metadata(
            &s.app.db.store,
            &roster_outbound::Client::default()
        )
        .unwrap(),
        0
    );
    // Logins still work with the refreshed metadata.
    let outcome = browser(
        &login_url(&s.app),
        Some(("alice", "alice-password")),
        None,
        &s.app.jar("a"),
    );
    assert!(session_of(&outcome).is_some(), "{}", outcome.json);
}

/// SimpleSAMLphp set to encrypt assertions and to refuse unsigned AuthnRequests, trusting
/// Roster's own SP metadata (its certificates): the login works, the response the browser
/// carried held an `EncryptedAssertion` and no plain one, and the connection's requests were
/// signed. With request signing off the IdP refuses the login, and Roster creates nobody.
#[test]
fn simplesamlphp_encrypting_assertions_and_requiring_signed_requests() {
    if !e2e_enabled() {
        return;
    }
    let app = SsoApp::new();
    let connection = app.connection("corp", ConnectionKind::Saml, &["example.test"]);
    let acs = format!("{}/sso/saml/{}/acs", app.url(), connection.id);
    let sp_metadata = || {
        app.get(&format!("/sso/saml/{}/metadata", connection.id), None)
            .body
    };
    let idp = SamlIdp::start_with(SamlOptions {
        // Roster is the SP of the metadata file (with its keys), not the env-described one.
        sp_metadata_xml: Some(sp_metadata()),
        encrypt_assertion: true,
        validate_authn_request: true,
        ..SamlOptions::new("urn:roster:test:unused", "http://127.0.0.1:1/unused")
    });
    let idp_metadata = idp.metadata_xml();
    assert!(
        idp_metadata.contains(r#"WantAuthnRequestsSigned="true""#),
        "{idp_metadata}"
    );
    let configure = |idp_metadata_xml: &str| {
        app.configure(
            &connection,
            json!({
                "idp_metadata_xml": idp_metadata_xml,
                "sign_authn_requests": false,
                "assertion_encryption": "required",
            }),
        )
    };
    let login = |jar: &str| {
        browser(
            &login_url(&app),
            Some(("alice", "alice-password")),
            Some(&acs),
            &app.jar(jar),
        )
    };

    // Signing off and IdP metadata without WantAuthnRequestsSigned: Roster's requests are
    // unsigned, and an IdP whose admin requires signed requests from it (SimpleSAMLphp reads
    // that from the SP metadata's AuthnRequestsSigned) refuses them: nobody reaches the ACS.
    configure(&idp_metadata.replace(r#"WantAuthnRequestsSigned="true""#, ""));
    let unsigned_metadata = sp_metadata();
    assert!(unsigned_metadata.contains(r#"AuthnRequestsSigned="false""#));
    std::fs::write(
        idp.sp_metadata_file(),
        unsigned_metadata.replace(
            r#"AuthnRequestsSigned="false""#,
            r#"AuthnRequestsSigned="true""#,
        ),
    )
    .unwrap();
    let refused = login("unsigned");
    assert!(
        refused.json["params"]["SAMLResponse"].is_null(),
        "{}\n{}",
        refused.json,
        idp.log()
    );
    assert_eq!(app.user_count(), 0);

    // The IdP's own metadata says it wants signed requests: Roster signs them without being
    // asked, and the login works through an encrypted assertion.
    configure(&idp_metadata);
    let metadata = sp_metadata();
    assert!(
        metadata.contains(r#"AuthnRequestsSigned="true""#),
        "{metadata}"
    );
    assert!(metadata.contains(r#"use="encryption""#), "{metadata}");
    std::fs::write(idp.sp_metadata_file(), &metadata).unwrap();
    let stopped = login("alice");
    assert_eq!(stopped.exit_code, 0, "{}\n{}", stopped.json, idp.log());
    let response = stopped.json["params"]["SAMLResponse"]
        .as_str()
        .unwrap_or_else(|| panic!("a SAMLResponse: {}\n{}", stopped.json, idp.log()))
        .to_owned();
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&response)
            .unwrap(),
    )
    .unwrap();
    assert!(xml.contains("EncryptedAssertion"), "{xml}");
    assert!(
        !xml.contains("<saml:Assertion"),
        "no plain assertion: {xml}"
    );
    assert!(
        !xml.contains("alice@example.test"),
        "nothing readable: {xml}"
    );
    let binding = stopped.json["cookies"]["127.0.0.1"]["roster_sso"]
        .as_str()
        .unwrap();
    let reply = app.post_form(
        &format!("/sso/saml/{}/acs", connection.id),
        &[("SAMLResponse", &response)],
        Some(&format!("roster_sso={binding}")),
    );
    assert_eq!(reply.status, 302, "{:?}", app.login_events());
    assert_eq!(app.user_count(), 1);
    let events = app.login_events();
    assert_eq!(events[0].outcome, "success");
    assert_eq!(events[0].subject.as_deref(), Some("8f2c6b1e-alice"));
}

/// Single Logout both ways with SimpleSAMLphp, and the product told each time: alice signs into
/// a product through Roster and SimpleSAMLphp; signing out at the IdP (IdP-initiated) sends
/// Roster a LogoutRequest that ends her Roster session and makes Roster send the product a
/// back-channel logout; after signing in again, signing out at Roster sends the IdP a
/// LogoutRequest that ends the IdP's session too (the next login asks for the password), and the
/// product is told again.
#[test]
fn single_logout_with_simplesamlphp_both_ways_tells_the_product() {
    if !e2e_enabled() {
        return;
    }
    let mut settings = roster_server::settings::Settings::default();
    settings.webhooks.poll_interval_ms = 100;
    let app = SsoApp::with_settings(settings);
    let connection = app.connection("corp", ConnectionKind::Saml, &["example.test"]);
    let sp_metadata = || {
        app.get(&format!("/sso/saml/{}/metadata", connection.id), None)
            .body
    };
    let idp = SamlIdp::start_with(SamlOptions {
        sp_metadata_xml: Some(sp_metadata()),
        ..SamlOptions::new("urn:roster:test:unused", "http://127.0.0.1:1/unused")
    });
    let idp_metadata = idp.metadata_xml();
    assert!(
        idp_metadata.contains("SingleLogoutService"),
        "{idp_metadata}"
    );
    app.configure(&connection, json!({ "idp_metadata_xml": idp_metadata }));
    std::fs::write(idp.sp_metadata_file(), sp_metadata()).unwrap();

    let receiver = crate::receiver::Receiver::start();
    let redirect = "https://product.test/oidc/callback";
    let (registered, secret) = app.db.register_app(&roster_store::NewOAuthApp {
        auth_method: roster_store::ClientAuthMethod::ClientSecretPost,
        backchannel_logout_uri: Some(receiver.url.clone()),
        post_logout_redirect_uris: vec!["https://product.test/signed-out".to_owned()],
        ..roster_store::testing::test_app("Product", redirect)
    });
    let secret = secret.unwrap();
    let jar = app.jar("browser");
    let sign_into_product = |password: Option<(&str, &str)>| {
        let authorize = format!(
            "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}\
             &scope=openid%20email&state=s&nonce=n&workspace=acme",
            app.url(),
            registered.client_id,
            url_encode(redirect),
        );
        let outcome = browser(&authorize, password, Some(redirect), &jar);
        let code = outcome.json["params"]["code"].as_str().map(str::to_owned);
        let code = code.unwrap_or_else(|| panic!("{}\n{}", outcome.json, idp.log()));
        let reply = app.post_form(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", &registered.client_id),
                ("client_secret", &secret),
            ],
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let tokens: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        tokens["id_token"].as_str().unwrap().to_owned()
    };
    // The product's sign-in without a password: it succeeds only while a session (Roster's or
    // the IdP's) is live.
    let silent_sign_in = || {
        browser(
            &format!(
                "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&nonce=n&workspace=acme",
                app.url(),
                registered.client_id,
                url_encode(redirect)
            ),
            None,
            Some(redirect),
            &jar,
        )
    };
    let logouts = |n: usize| {
        receiver.wait_for(&format!("{n} back-channel logouts"), |received| {
            received.len() >= n
        })
    };

    // IdP-initiated: alice signs out at SimpleSAMLphp.
    sign_into_product(Some(("alice", "alice-password")));
    // Back to the IdP's own page at the end (SimpleSAMLphp returns only to URLs it trusts).
    let done = idp.metadata_url();
    let out = browser(
        &format!(
            "{}saml2/idp/SingleLogoutService.php?ReturnTo={}",
            idp.base_url(),
            url_encode(&done)
        ),
        None,
        Some(&done),
        &jar,
    );
    assert_eq!(out.exit_code, 0, "{}\n{}", out.json, idp.log());
    let first = logouts(1);
    assert!(first[0].body.starts_with("logout_token="), "{:?}", first[0]);
    // Roster's session is gone: the product's next sign-in goes to the IdP, which asks for the
    // password (its own session ended too).
    let again = silent_sign_in();
    assert_ne!(again.exit_code, 0, "signed out everywhere: {}", again.json);

    // SP-initiated: signed in again, alice signs out at Roster (its confirmation page's button).
    sign_into_product(Some(("alice", "alice-password")));
    let signed_out = browser(&format!("{}/logout", app.url()), None, None, &jar);
    assert_eq!(
        signed_out.exit_code,
        0,
        "{}\n{}",
        signed_out.json,
        idp.log()
    );
    assert_eq!(
        signed_out.json["url"].as_str(),
        Some(format!("{}/", app.url()).as_str()),
        "back at Roster after the IdP's LogoutResponse: {}\n{}",
        signed_out.json,
        idp.log()
    );
    logouts(2);
    let after = silent_sign_in();
    assert_ne!(
        after.exit_code, 0,
        "the IdP's session ended too: {}",
        after.json
    );

    // The product's own sign-out (RP-initiated logout with its ID token): Roster's session
    // ends, the IdP's too, and the browser lands on the product's post-logout URI.
    let id_token = sign_into_product(Some(("alice", "alice-password")));
    let signed_out_uri = "https://product.test/signed-out";
    let rp_logout = browser(
        &format!(
            "{}/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye",
            app.url(),
            url_encode(signed_out_uri)
        ),
        None,
        Some(signed_out_uri),
        &jar,
    );
    assert_eq!(rp_logout.exit_code, 0, "{}\n{}", rp_logout.json, idp.log());
    assert_eq!(
        rp_logout.json["params"]["state"], "bye",
        "{}",
        rp_logout.json
    );
    logouts(3);
    let last = silent_sign_in();
    assert_ne!(
        last.exit_code, 0,
        "signed out at the IdP too: {}",
        last.json
    );
}
