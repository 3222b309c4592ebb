//! Connections through the admin API (create, read, reconfigure, test, revoke) and the SCIM
//! migration planner, over real HTTP: each refusal is a `{code, message, detail}` 4xx and
//! writes nothing.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Email, Source, UserName};
use roster_store::NewUser;
use serde_json::{json, Value};

use crate::common::{Options, Reply, TestApp};

const BASE: &str = "http://roster.test";

fn app_allowing_loopback() -> TestApp {
    TestApp::with(Options {
        allow_private_network_urls: true,
        ..Options::default()
    })
}

fn fixture_metadata(idp: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../sso/tests/fixtures/ssoready/assertions/{idp}/metadata.xml"
    ));
    std::fs::read_to_string(path).unwrap()
}

fn okta_metadata() -> String {
    fixture_metadata("okta")
}

fn without_certificate(metadata: &str) -> String {
    let (head, rest) = metadata.split_once("<md:KeyDescriptor").unwrap();
    let (_, tail) = rest.split_once("</md:KeyDescriptor>").unwrap();
    format!("{head}{tail}")
}

/// Serves `body` at any path on loopback, for metadata URLs.
fn serve(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0_u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                body.len(),
                body
            );
        }
    });
    url
}

fn connection_names(app: &TestApp, key: &str) -> Vec<String> {
    let listed = app.admin(key, "GET", "/connections", None);
    listed.body["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn saml_connections_are_validated_created_tested_and_revoked() {
    let app = app_allowing_loopback();
    let key = app.api_key();
    let before = connection_names(&app, &key);

    // Refusals first: each one names the problem and writes nothing.
    let no_cert = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "okta", "kind": "saml", "saml": {"metadataXml": without_certificate(&okta_metadata())}})),
    );
    assert!(no_cert
        .assert_admin_error(400, "validation")
        .contains("signing certificate"));
    let both = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "okta", "kind": "saml", "saml": {"metadataXml": okta_metadata(), "metadataUrl": "https://idp.test/md"}})),
    );
    assert!(both
        .assert_admin_error(400, "validation")
        .contains("exactly one"));
    let wrong_shape = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "okta", "kind": "saml", "oidc": {"issuer": "https://x", "clientId": "c"}})),
    );
    wrong_shape.assert_admin_error(400, "validation");
    let bad_kind = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "okta", "kind": "ldap"})),
    );
    assert!(bad_kind
        .assert_admin_error(400, "validation")
        .contains("kind"));
    let unknown_field = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "okta", "kind": "scim", "owner": "me"})),
    );
    unknown_field.assert_admin_error(400, "validation");
    let unreachable = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "okta", "kind": "saml", "saml": {"metadataUrl": "http://127.0.0.1:9/md"}})),
    );
    unreachable.assert_admin_error(422, "idp_unreachable");
    assert_eq!(connection_names(&app, &key), before, "nothing written");

    // From a URL (the test server allows loopback): created with every value to paste.
    let url = serve(okta_metadata());
    let created = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "okta", "kind": "saml", "vendor": "okta", "domains": ["acme.test"], "saml": {"metadataUrl": url}})),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let base = BASE;
    assert_eq!(
        created.body["sp"]["acsUrl"],
        format!("{base}/sso/saml/{id}/acs")
    );
    assert_eq!(
        created.body["sp"]["entityId"],
        format!("{base}/sso/saml/{id}/metadata")
    );
    assert_eq!(
        created.body["sp"]["loginUrl"],
        format!(
            "{base}/sso/{}/login?connection=okta",
            app.workspace.slug.as_str()
        )
    );
    assert_eq!(created.body["sp"]["scimBaseUrl"], format!("{base}/scim/v2"));
    assert_eq!(created.body["idp"]["signingCertificates"], 1);
    assert_eq!(created.body["idp"]["metadataUrl"], url);
    assert_eq!(created.body["domains"], json!(["acme.test"]));
    let read = app.admin(&key, "GET", &format!("/connections/{id}"), None);
    assert_eq!(read.body, created.body);
    let duplicate = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "okta", "kind": "saml", "saml": {"metadataUrl": url}})),
    );
    duplicate.assert_admin_error(409, "conflict");

    // The test reports each check with want/got: all pass for Okta's metadata…
    let tested = app.admin(&key, "POST", &format!("/connections/{id}/test"), None);
    assert_eq!(tested.status, 200);
    assert_eq!(tested.body["ok"], true, "{:#}", tested.body);
    let checks = tested.body["checks"].as_array().unwrap().clone();
    let check =
        |name: &str| -> Value { checks.iter().find(|c| c["name"] == name).unwrap().clone() };
    assert_eq!(check("metadata_url")["ok"], true);
    assert_eq!(check("signing_certificate")["got"], "1 certificate(s)");
    assert_eq!(check("entity_id")["got"], created.body["idp"]["entityId"]);
    assert!(check("certificate_validity")["got"]
        .as_str()
        .unwrap()
        .starts_with("valid until"));
    // …and Ping's fixture certificate expired in 2024: the test says so, want vs got.
    let ping = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "ping", "kind": "saml", "saml": {"metadataXml": fixture_metadata("ping")}})),
    );
    assert_eq!(ping.status, 201, "{:#}", ping.body);
    let ping_test = app.admin(
        &key,
        "POST",
        &format!("/connections/{}/test", ping.body["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(ping_test.body["ok"], false);
    let expired = ping_test.body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "certificate_validity")
        .unwrap();
    assert_eq!(expired["ok"], false);
    assert_eq!(expired["want"], "signing certificate 1 not expired");
    assert!(
        expired["got"].as_str().unwrap().starts_with("expired"),
        "{expired:#}"
    );

    // Reconfigure: unusable metadata is refused and the current settings stay.
    let refused = app.admin(
        &key,
        "PUT",
        &format!("/connections/{id}/settings"),
        Some(json!({"saml": {"metadataXml": without_certificate(&okta_metadata())}})),
    );
    refused.assert_admin_error(400, "validation");
    assert_eq!(
        app.admin(&key, "GET", &format!("/connections/{id}"), None)
            .body["idp"],
        created.body["idp"]
    );
    let reconfigured = app.admin(
        &key,
        "PUT",
        &format!("/connections/{id}/settings"),
        Some(json!({"saml": {"metadataXml": okta_metadata(), "allowIdpInitiated": true}})),
    );
    assert_eq!(reconfigured.status, 200, "{:#}", reconfigured.body);
    assert_eq!(reconfigured.body["idp"]["metadataUrl"], Value::Null);
    assert_eq!(reconfigured.body["idp"]["allowIdpInitiated"], true);
    assert_eq!(reconfigured.body["idp"]["forceAuthn"], false);
    assert_eq!(reconfigured.body["idp"]["requestedAuthnContext"], json!([]));

    // The authentication context (issue #27): a class that is no URI, or too many, is refused
    // and nothing changes; valid ones are stored and shown.
    const MFA: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";
    let eleven: Vec<String> = (0..11).map(|i| format!("urn:example:{i}")).collect();
    for bad in [
        json!(["mfa"]),
        json!([MFA, MFA]),
        json!(eleven),
        json!("urn:x"),
    ] {
        app.admin(
            &key,
            "PUT",
            &format!("/connections/{id}/settings"),
            Some(
                json!({"saml": {"metadataXml": okta_metadata(), "forceAuthn": true,
                                 "requestedAuthnContext": bad}}),
            ),
        )
        .assert_admin_error(400, "validation");
        assert_eq!(
            app.admin(&key, "GET", &format!("/connections/{id}"), None)
                .body["idp"],
            reconfigured.body["idp"],
            "{bad}"
        );
    }
    let context = app.admin(
        &key,
        "PUT",
        &format!("/connections/{id}/settings"),
        Some(
            json!({"saml": {"metadataXml": okta_metadata(), "allowIdpInitiated": true,
                             "forceAuthn": true, "requestedAuthnContext": [MFA]}}),
        ),
    );
    assert_eq!(context.status, 200, "{:#}", context.body);
    assert_eq!(context.body["idp"]["forceAuthn"], true);
    assert_eq!(context.body["idp"]["requestedAuthnContext"], json!([MFA]));
    assert_eq!(
        app.admin(&key, "GET", &format!("/connections/{id}"), None)
            .body["idp"]["requestedAuthnContext"],
        json!([MFA])
    );

    // What the connection's own keys do (issue #27): defaults, a refused value, then both set.
    assert_eq!(context.body["idp"]["assertionEncryption"], "optional");
    assert_eq!(context.body["idp"]["signAuthnRequests"], false);
    assert_eq!(context.body["idp"]["authnRequestsSigned"], false);
    assert_eq!(
        context.body["idp"]["singleLogout"], true,
        "on unless turned off"
    );
    app.admin(
        &key,
        "PUT",
        &format!("/connections/{id}/settings"),
        Some(json!({"saml": {"metadataXml": okta_metadata(), "assertionEncryption": "sometimes"}})),
    )
    .assert_admin_error(400, "validation");
    let keys = app.admin(
        &key,
        "PUT",
        &format!("/connections/{id}/settings"),
        Some(
            json!({"saml": {"metadataXml": okta_metadata(), "assertionEncryption": "required",
                             "signAuthnRequests": true}}),
        ),
    );
    assert_eq!(keys.status, 200, "{:#}", keys.body);
    assert_eq!(keys.body["idp"]["assertionEncryption"], "required");
    assert_eq!(keys.body["idp"]["signAuthnRequests"], true);
    assert_eq!(keys.body["idp"]["authnRequestsSigned"], true);
    // Roster's own certificates for it: none until first used, then five years out.
    assert_eq!(keys.body["sp"]["signingCertificateExpiresAt"], Value::Null);
    assert_eq!(
        keys.body["sp"]["sloUrl"],
        format!(
            "{}/slo",
            keys.body["sp"]["acsUrl"]
                .as_str()
                .unwrap()
                .trim_end_matches("/acs")
        )
    );
    let metadata = app.raw("GET", &format!("/sso/saml/{id}/metadata"), None, &[]);
    assert_eq!(metadata.status, 200);
    let shown = app
        .admin(&key, "GET", &format!("/connections/{id}"), None)
        .body;
    for field in [
        "signingCertificateExpiresAt",
        "encryptionCertificateExpiresAt",
    ] {
        let at = shown["sp"][field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {shown}"));
        assert!(at > "2030", "{field}: {at}");
    }

    // Revoke: logins through it stop; it stays listed as revoked; settings can't change.
    assert_eq!(
        app.admin(&key, "DELETE", &format!("/connections/{id}"), None)
            .status,
        204
    );
    let after = app.admin(&key, "GET", &format!("/connections/{id}"), None);
    assert_eq!(after.body["status"], "revoked");
    let login = app.raw(
        "GET",
        &format!("/sso/{}/login?connection=okta", app.workspace.slug.as_str()),
        None,
        &[],
    );
    assert!(
        login.status >= 400 && login.status < 500,
        "{}",
        login.status
    );
    app.admin(
        &key,
        "PUT",
        &format!("/connections/{id}/settings"),
        Some(json!({"saml": {"metadataXml": okta_metadata()}})),
    )
    .assert_admin_error(409, "conflict");
    app.admin(&key, "GET", "/connections/not-a-uuid", None)
        .assert_admin_error(404, "not_found");

    // Another workspace's key can neither see nor touch it.
    let other = app.other_workspace_api_key("globex");
    for (method, path) in [
        ("GET", format!("/connections/{id}")),
        ("POST", format!("/connections/{id}/test")),
        ("DELETE", format!("/connections/{id}")),
    ] {
        app.admin(&other, method, &path, None)
            .assert_admin_error(404, "not_found");
    }
    app.admin(
        &other,
        "PUT",
        &format!("/connections/{id}/settings"),
        Some(json!({"saml": {"metadataXml": okta_metadata()}})),
    )
    .assert_admin_error(404, "not_found");
}

/// The reason code on a refused login's HTML page.
fn refusal_code(reply: &Reply) -> String {
    let page = reply.body.as_str().unwrap_or_default();
    let start = page.find("Reason: <code>").expect("a refusal page") + "Reason: <code>".len();
    page[start..][..page[start..].find("</code>").unwrap()].to_owned()
}

#[test]
fn a_draft_saml_connection_shows_its_sp_values_refuses_logins_and_activates_with_metadata() {
    let app = app_allowing_loopback();
    let key = app.api_key();
    let slug = app.workspace.slug.as_str().to_owned();

    // Created without metadata (Okta and Entra ask for the SP values first): a draft with every
    // value to paste, and no IdP settings.
    let created = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "okta", "kind": "saml", "vendor": "okta", "domains": ["acme.test"]})),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["status"], "draft");
    assert_eq!(
        created.body["sp"]["entityId"],
        format!("{BASE}/sso/saml/{id}/metadata")
    );
    assert_eq!(
        created.body["sp"]["acsUrl"],
        format!("{BASE}/sso/saml/{id}/acs")
    );
    assert_eq!(
        created.body["sp"]["metadataUrl"],
        format!("{BASE}/sso/saml/{id}/metadata")
    );
    assert_eq!(created.body["idp"], Value::Null);
    // An empty `saml` object is a draft too; an OIDC connection is never one.
    let empty = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "entra", "kind": "saml", "saml": {"allowIdpInitiated": false}})),
    );
    assert_eq!(empty.body["status"], "draft", "{:#}", empty.body);
    let before = connection_names(&app, &key);
    app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "oidc", "kind": "oidc"})),
    )
    .assert_admin_error(400, "validation");
    assert_eq!(connection_names(&app, &key), before, "nothing written");

    // Its SP metadata is served already: the IdP may import it.
    let sp_metadata = app.raw("GET", &format!("/sso/saml/{id}/metadata"), None, &[]);
    assert_eq!(sp_metadata.status, 200);
    assert!(sp_metadata
        .body
        .as_str()
        .unwrap()
        .contains(&format!("{BASE}/sso/saml/{id}/acs")));

    // Logins are refused with the reason, at the start (by name and by email domain) and at
    // the ACS, each recorded as a login event.
    for path in [
        format!("/sso/{slug}/login?connection=okta"),
        format!("/sso/{slug}/login?email=ada@acme.test"),
    ] {
        let refused = app.raw("GET", &path, None, &[]);
        assert_eq!(refused.status, 400, "{path}: {:#}", refused.body);
        assert_eq!(refusal_code(&refused), "connection_draft", "{path}");
        assert!(refused
            .body
            .as_str()
            .unwrap()
            .contains("metadata has not been added"));
    }
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let acs = app.raw(
        "POST",
        &format!("/sso/saml/{id}/acs"),
        Some("SAMLResponse=PHg%2B".to_owned()),
        &form,
    );
    assert_eq!(refusal_code(&acs), "connection_draft");
    let events = app.admin(&key, "GET", "/login-events?outcome=failure", None);
    let drafts: Vec<&Value> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "connection_draft")
        .collect();
    assert_eq!(drafts.len(), 3, "{:#}", events.body);
    assert_eq!(drafts[0]["connectionId"], id);
    assert_eq!(drafts[0]["detail"]["reason"], "idp_metadata_missing");
    let tested = app.admin(&key, "POST", &format!("/connections/{id}/test"), None);
    assert_eq!(tested.body["ok"], false);
    assert_eq!(tested.body["checks"][0]["name"], "metadata");

    // Completed through the settings route, with the checks of a creation: metadata is
    // required, and metadata without a signing certificate is refused; it stays a draft.
    for refused in [
        json!({"saml": {}}),
        json!({"saml": {"metadataXml": without_certificate(&okta_metadata())}}),
        json!({}),
    ] {
        app.admin(
            &key,
            "PUT",
            &format!("/connections/{id}/settings"),
            Some(refused),
        )
        .assert_admin_error(400, "validation");
        let still = app.admin(&key, "GET", &format!("/connections/{id}"), None);
        assert_eq!(still.body["status"], "draft");
    }
    let url = serve(okta_metadata());
    let completed = app.admin(
        &key,
        "PUT",
        &format!("/connections/{id}/settings"),
        Some(json!({"saml": {"metadataUrl": url}})),
    );
    assert_eq!(completed.status, 200, "{:#}", completed.body);
    assert_eq!(completed.body["status"], "active");
    assert_eq!(completed.body["idp"]["signingCertificates"], 1);
    for value in [
        "entityId",
        "acsUrl",
        "metadataUrl",
        "sloUrl",
        "loginUrl",
        "scimBaseUrl",
    ] {
        assert_eq!(
            completed.body["sp"][value], created.body["sp"][value],
            "the SP values stay: {value}"
        );
    }
    let feed = app.admin(&key, "GET", "/events?type=connection.updated", None);
    let activated = &feed.body["events"].as_array().unwrap()[0];
    assert_eq!(activated["resource"]["status"], "active");
    assert_eq!(activated["changed"], json!(["status"]));

    // Active now: a login gets past the draft check to the response's own checks.
    let acs = app.raw(
        "POST",
        &format!("/sso/saml/{id}/acs"),
        Some("SAMLResponse=PHg%2B".to_owned()),
        &form,
    );
    assert_eq!(acs.status, 400);
    assert_ne!(refusal_code(&acs), "connection_draft");
}

#[test]
fn oidc_and_scim_connections_refuse_unsafe_settings() {
    let app = app_allowing_loopback();
    let key = app.api_key();
    let before = connection_names(&app, &key);
    let no_secret = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "entra", "kind": "oidc", "oidc": {"issuer": "https://login.example.test", "clientId": "c"}})),
    );
    assert!(no_secret
        .assert_admin_error(400, "validation")
        .contains("clientSecret"));
    let bad_method = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "entra", "kind": "oidc", "oidc": {"issuer": "http://127.0.0.1:9", "clientId": "c", "clientSecret": "s3cr3t", "tokenAuthMethod": "private_key_jwt"}})),
    );
    assert!(bad_method
        .assert_admin_error(400, "validation")
        .contains("tokenAuthMethod"));
    let unreachable = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "entra", "kind": "oidc", "oidc": {"issuer": "http://127.0.0.1:9", "clientId": "c", "clientSecret": "s3cr3t-never-echoed"}})),
    );
    let message = unreachable.assert_admin_error(422, "idp_unreachable");
    assert!(!message.contains("s3cr3t"));
    assert_eq!(connection_names(&app, &key), before, "nothing written");

    let scim = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "okta-scim", "kind": "scim"})),
    );
    assert_eq!(scim.status, 201, "{:#}", scim.body);
    assert_eq!(scim.body["scimEnabled"], true);
    assert_eq!(scim.body["sp"]["acsUrl"], Value::Null);
    let tested = app.admin(
        &key,
        "POST",
        &format!("/connections/{}/test", scim.body["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(tested.body["checks"][0]["name"], "kind");
}

/// The stored OIDC settings of a connection: (issuer, client id, client secret, auth method).
fn stored_oidc(app: &TestApp, id: &str) -> (String, String, String, String) {
    let connection = app
        .db
        .store
        .connection(app.workspace.id, id.parse().unwrap())
        .unwrap();
    let config: Value = serde_json::from_str(&connection.protocol_config).unwrap();
    let text = |name: &str| config[name].as_str().unwrap_or_default().to_owned();
    (
        text("issuer"),
        text("client_id"),
        text("client_secret"),
        text("token_auth_method"),
    )
}

/// The audit details of the connection's settings changes, oldest first.
fn settings_changes(app: &TestApp) -> Vec<Value> {
    app.db
        .store
        .audit_events(app.workspace.id, None, 100_000)
        .unwrap()
        .into_iter()
        .filter(|event| event.action == "connection.config_updated")
        .map(|event| serde_json::from_str(&event.detail).unwrap())
        .collect()
}

/// Issue #22 item 4: the write-only client secret cannot be redirected. A settings change that
/// moves the issuer (to a second, real OpenID Provider whose discovery succeeds) or the client
/// id without the secret is refused before the new issuer is asked anything, and the stored
/// settings stay; with the secret it goes through. The audit trail names what changed.
#[test]
fn a_new_issuer_or_client_id_needs_the_client_secret_again() {
    if std::env::var_os("ROSTER_E2E").is_none() {
        eprintln!("skipped: needs the local OpenID Provider; run `cargo xtask test`");
        return;
    }
    let app = app_allowing_loopback();
    let key = app.api_key();
    let options = || crate::common::idps::OidcOptions {
        redirect_uris: vec![format!("{}/unused-callback", app.server.url())],
        ..crate::common::idps::OidcOptions::default()
    };
    let ours = crate::common::idps::OidcOp::start(options());
    let theirs = crate::common::idps::OidcOp::start(options());
    let created = app.admin(
        &key,
        "POST",
        "/connections",
        Some(json!({"name": "corp", "kind": "oidc", "oidc": {
            "issuer": ours.issuer(), "clientId": ours.client_id(), "clientSecret": ours.client_secret()
        }})),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/connections/{id}/settings");
    let stored = stored_oidc(&app, &id);
    assert_eq!(stored.0, ours.issuer());
    assert_eq!(stored.2, ours.client_secret());
    let audit_before = app
        .db
        .store
        .audit_events(app.workspace.id, None, 100_000)
        .unwrap()
        .len();

    // Without the secret: another issuer (one that answers discovery), the same issuer with a
    // trailing slash, another client id. Each is a 400 naming what changed; nothing is written.
    let refusals = [
        (
            json!({"issuer": theirs.issuer(), "clientId": ours.client_id()}),
            json!(["issuer"]),
        ),
        (
            json!({"issuer": format!("{}/", ours.issuer()), "clientId": ours.client_id()}),
            json!(["issuer"]),
        ),
        (
            json!({"issuer": ours.issuer(), "clientId": "another-client"}),
            json!(["clientId"]),
        ),
        (
            json!({"issuer": theirs.issuer(), "clientId": "x", "clientSecret": ""}),
            json!(["issuer", "clientId"]),
        ),
    ];
    for (oidc, changed) in refusals {
        let refused = app.admin(&key, "PUT", &path, Some(json!({ "oidc": oidc })));
        let message = refused.assert_admin_error(400, "validation");
        assert!(
            message.contains("clientSecret") && message.contains("send the client secret again"),
            "{message}"
        );
        assert_eq!(refused.body["detail"]["changed"], changed, "{oidc}");
        assert_eq!(
            stored_oidc(&app, &id),
            stored,
            "{oidc}: the stored settings stay"
        );
    }
    assert_eq!(
        app.db
            .store
            .audit_events(app.workspace.id, None, 100_000)
            .unwrap()
            .len(),
        audit_before,
        "nothing written"
    );

    // How the secret is sent may change without it: the secret stays.
    let method = app.admin(
        &key,
        "PUT",
        &path,
        Some(json!({"oidc": {"issuer": ours.issuer(), "clientId": ours.client_id(), "tokenAuthMethod": "client_secret_post"}})),
    );
    assert_eq!(method.status, 200, "{:#}", method.body);
    let kept = stored_oidc(&app, &id);
    assert_eq!(
        (kept.0.as_str(), kept.2.as_str(), kept.3.as_str()),
        (
            ours.issuer().as_str(),
            ours.client_secret(),
            "client_secret_post"
        )
    );

    // With the secret, the issuer moves.
    let moved = app.admin(
        &key,
        "PUT",
        &path,
        Some(json!({"oidc": {"issuer": theirs.issuer(), "clientId": theirs.client_id(), "clientSecret": "their-secret", "tokenAuthMethod": "client_secret_post"}})),
    );
    assert_eq!(moved.status, 200, "{:#}", moved.body);
    assert_eq!(moved.body["idp"]["issuer"], theirs.issuer());
    assert!(!moved.body.to_string().contains("their-secret"));
    let now = stored_oidc(&app, &id);
    assert_eq!((now.0, now.2), (theirs.issuer(), "their-secret".to_owned()));

    // The audit trail: which fields changed, whether the secret was replaced, never a secret.
    assert_eq!(
        settings_changes(&app),
        vec![
            json!({"changed": ["tokenAuthMethod"], "clientSecretReplaced": false}),
            json!({"changed": ["issuer"], "clientSecretReplaced": true}),
        ]
    );
    let trail = app.admin(&key, "GET", "/audit?format=csv", None);
    let text = trail.body.to_string();
    assert!(!text.contains("their-secret") && !text.contains(ours.client_secret()));
}

fn pre_scim_user(app: &TestApp, user_name: &str, email: Option<&str>, source: Source) -> String {
    app.db
        .store
        .create_user(
            &Actor::Cli,
            &NewUser {
                email: email.map(|e| Email::parse(e).unwrap()),
                ..NewUser::minimal(
                    app.workspace.id,
                    UserName::parse(user_name).unwrap(),
                    source,
                )
            },
        )
        .unwrap()
        .id
        .to_string()
}

#[test]
fn migration_planner_names_each_conflict_with_its_fix() {
    let app = TestApp::new();
    let key = app.api_key();
    pre_scim_user(&app, "ann@acme.test", Some("ann@acme.test"), Source::Jit);
    let jdoe = pre_scim_user(&app, "jdoe", Some("john@acme.test"), Source::Invited);
    pre_scim_user(&app, "mia@acme.test", Some("mia@acme.test"), Source::Jit);
    let squatter = pre_scim_user(
        &app,
        "kim@acme.test",
        Some("kim.other@acme.test"),
        Source::Jit,
    );
    let kim = pre_scim_user(&app, "kim", Some("kim@acme.test"), Source::Jit);
    let nomail = pre_scim_user(&app, "nomail", None, Source::Jit);
    let scim_user = app.create_user("scimmed@acme.test", "e-1");

    let plan = app.admin(&key, "GET", "/scim/migration-plan", None);
    assert_eq!(plan.status, 200, "{:#}", plan.body);
    let findings = plan.body["findings"].as_array().unwrap();
    let kinds_of = |id: &str| -> Vec<&str> {
        findings
            .iter()
            .filter(|f| f["userId"] == id)
            .map(|f| f["kind"].as_str().unwrap())
            .collect()
    };
    assert_eq!(kinds_of(&jdoe), vec!["user_name_mismatch"]);
    let kim_finding = findings.iter().find(|f| f["userId"] == kim).unwrap();
    assert_eq!(kim_finding["kind"], "user_name_taken");
    assert!(kim_finding["fix"].as_str().unwrap().contains(&squatter));
    assert_eq!(kinds_of(&nomail), vec!["no_email"]);
    assert!(
        kinds_of(&scim_user).is_empty(),
        "SCIM users are not examined"
    );
    assert_eq!(plan.body["examined"], 6);
    assert_eq!(plan.body["adoptable"], 2);
    assert_eq!(plan.body["conflicts"], 4, "{:#}", plan.body);

    let local = app.admin(
        &key,
        "GET",
        "/scim/migration-plan?userNameFormat=local_part",
        None,
    );
    let local_findings = local.body["findings"].as_array().unwrap();
    let jdoe_local = local_findings.iter().find(|f| f["userId"] == jdoe).unwrap();
    assert_eq!(jdoe_local["expectedUserName"], "john");
    app.admin(&key, "GET", "/scim/migration-plan?userNameFormat=upn", None)
        .assert_admin_error(400, "validation");
}

#[test]
fn the_console_is_served_by_the_binary_with_a_strict_content_security_policy() {
    let app = TestApp::new();
    for (path, content_type) in [
        ("/admin", "text/html"),
        ("/admin/console.js", "text/javascript"),
        ("/admin/console.css", "text/css"),
    ] {
        let reply = app.raw("GET", path, None, &[]);
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply
            .header("content-type")
            .unwrap()
            .starts_with(content_type));
        let csp = reply.header("content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(reply.header("x-frame-options"), Some("DENY"));
    }
    // The page itself carries no data and no authority: without a session it only offers to
    // sign in, and the API it calls refuses.
    assert_eq!(
        app.raw("GET", "/api/v1/admin/session", None, &[]).status,
        401
    );
}

/// The first place `value` does not fit `schema` — the subset of JSON Schema that schemars
/// writes, `$ref`s resolved in `document` — or `None`. Stricter than JSON Schema in one way: an
/// object with `properties` may have no other key, so a field the handler writes but the
/// document does not describe is a mismatch too.
fn mismatch(document: &Value, schema: &Value, value: &Value, at: &str) -> Option<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let Some(target) = document.pointer(reference.trim_start_matches('#')) else {
            return Some(format!("{at}: {reference} is not in the document"));
        };
        return mismatch(document, target, value, at);
    }
    for (keyword, wanted) in [("anyOf", 1..usize::MAX), ("oneOf", 1..2)] {
        if let Some(options) = schema[keyword].as_array() {
            let fits = options
                .iter()
                .filter(|option| mismatch(document, option, value, at).is_none())
                .count();
            if !wanted.contains(&fits) {
                return Some(format!(
                    "{at}: {value} fits {fits} of the {keyword} options"
                ));
            }
        }
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        if let Some(found) = mismatch(document, part, value, at) {
            return Some(found);
        }
    }
    if let Some(choices) = schema["enum"].as_array() {
        if !choices.contains(value) {
            return Some(format!("{at}: {value} is not one of {choices:?}"));
        }
    }
    if !schema["const"].is_null() && schema["const"] != *value {
        return Some(format!("{at}: {value} is not {}", schema["const"]));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(several) => several.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let is = |name: &str| match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    };
    if !types.is_empty() && !types.iter().any(|name| is(name)) {
        return Some(format!("{at}: {value} is not {types:?}"));
    }
    if let (Some(minimum), Some(number)) = (schema["minimum"].as_f64(), value.as_f64()) {
        if number < minimum {
            return Some(format!("{at}: {value} is below {minimum}"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Some(format!("{at}: no {name:?}"));
            }
        }
        if let Some(properties) = schema["properties"].as_object() {
            for (name, field) in object {
                let Some(field_schema) = properties.get(name) else {
                    return Some(format!("{at}: {name:?} is not in the schema"));
                };
                if let Some(found) =
                    mismatch(document, field_schema, field, &format!("{at}.{name}"))
                {
                    return Some(found);
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            if let Some(found) = mismatch(document, items, item, &format!("{at}[{index}]")) {
                return Some(found);
            }
        }
    }
    None
}

/// Checks `reply` against what the OpenAPI document says `method path` answers on success.
fn assert_documented(document: &Value, method: &str, path: &str, reply: &Reply) {
    let response = &document["paths"][format!("/api/v1/admin{path}")][method]["responses"]
        [reply.status.to_string()];
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema["$ref"].is_string(),
        "{method} {path} answers {} with a named schema: {response:#}",
        reply.status
    );
    if let Some(found) = mismatch(document, schema, &reply.body, "$") {
        panic!("{method} {path}: {found}\n{:#}", reply.body);
    }
}

/// Every success answer of the connection, SCIM and mapping operations fits the schema the
/// OpenAPI document gives it: SAML (with metadata and as a draft), SCIM-only, a connection test,
/// the SCIM switch, the listings, a mapping and the migration plan.
#[test]
fn success_answers_match_the_openapi_document() {
    let app = TestApp::new();
    let key = app.api_key();
    let document = app.raw("GET", "/api/v1/openapi.json", None, &[]).body;
    // `path` as the document spells it; `{id}` stands for the last connection id given.
    let id = std::cell::RefCell::new(String::new());
    let call = |method: &str, path: &str, body: Option<Value>, status: u16| {
        let concrete = path.replace("{id}", &id.borrow());
        let reply = app.admin(&key, &method.to_uppercase(), &concrete, body);
        assert_eq!(
            reply.status, status,
            "{method} {concrete}: {:#}",
            reply.body
        );
        assert_documented(&document, method, path, &reply);
        reply
    };
    let saml = call(
        "post",
        "/connections",
        Some(
            json!({"name": "okta", "kind": "saml", "vendor": "okta", "domains": ["acme.test"], "saml": {"metadataXml": okta_metadata(), "forceAuthn": true, "requestedAuthnContext": ["urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"]}}),
        ),
        201,
    );
    assert!(saml.body["idp"]["entityId"].is_string(), "{:#}", saml.body);
    assert_eq!(saml.body["idp"]["forceAuthn"], true, "{:#}", saml.body);
    // The request body's schema (what schemathesis generates from) names both settings.
    let document_text = document.to_string();
    for name in ["forceAuthn", "requestedAuthnContext"] {
        assert!(
            document_text.matches(&format!("\"{name}\"")).count() >= 2,
            "{name} in the request and the view schemas"
        );
    }
    let draft = call(
        "post",
        "/connections",
        Some(json!({"name": "entra", "kind": "saml"})),
        201,
    );
    assert_eq!(draft.body["status"], "draft");
    assert!(draft.body["idp"].is_null());
    let scim = call(
        "post",
        "/connections",
        Some(json!({"name": "directory", "kind": "scim"})),
        201,
    );
    assert!(scim.body["sp"]["entityId"].is_null(), "{:#}", scim.body);
    let saml_id = saml.body["id"].as_str().unwrap();
    let scim_id = scim.body["id"].as_str().unwrap();
    *id.borrow_mut() = saml_id.to_owned();
    call("get", "/connections/{id}", None, 200);
    call(
        "put",
        "/connections/{id}/settings",
        Some(json!({"vendor": "generic", "domains": ["acme.test", "acme.example"]})),
        200,
    );
    for connection in [scim_id, saml_id] {
        *id.borrow_mut() = connection.to_owned();
        call("post", "/connections/{id}/test", None, 200);
    }
    call(
        "put",
        "/connections/{id}/scim",
        Some(json!({"enabled": true})),
        200,
    );
    call("get", "/connections", None, 200);
    call("get", "/scim", None, 200);
    let mapping = call(
        "post",
        "/scim/group-mappings",
        Some(
            json!({"scimGroupName": "Engineering", "groupName": "Engineers", "roleName": "admin", "connectionId": scim_id}),
        ),
        201,
    );
    assert_eq!(mapping.body["scimGroupName"], "Engineering");
    call("get", "/scim/group-mappings", None, 200);
    pre_scim_user(&app, "jdoe", Some("john@elsewhere.test"), Source::Invited);
    let plan = call("get", "/scim/migration-plan", None, 200);
    assert!(plan.body["findings"].as_array().unwrap().len() >= 2);

    // The check can fail: a wrong type, a missing key, an undocumented key, a value outside
    // an enum are each caught.
    let view = &document["paths"]["/api/v1/admin/connections/{id}"]["get"]["responses"]["200"]
        ["content"]["application/json"]["schema"];
    assert_eq!(mismatch(&document, view, &saml.body, "$"), None);
    let mut wrong_type = saml.body.clone();
    wrong_type["scimEnabled"] = json!("yes");
    let mut missing = saml.body.clone();
    missing.as_object_mut().unwrap().remove("sp");
    let mut undocumented = saml.body.clone();
    undocumented["idp"]["secret"] = json!("x");
    for wrong in [wrong_type, missing, undocumented] {
        assert!(
            mismatch(&document, view, &wrong, "$").is_some(),
            "{wrong:#}"
        );
    }
    let mut unknown_kind = plan.body.clone();
    unknown_kind["findings"][0]["kind"] = json!("unknown");
    let plan_schema = &document["paths"]["/api/v1/admin/scim/migration-plan"]["get"]["responses"]
        ["200"]["content"]["application/json"]["schema"];
    assert!(mismatch(&document, plan_schema, &unknown_kind, "$").is_some());
}
