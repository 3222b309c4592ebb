//! Encrypted assertions and signed AuthnRequests on the wire (issue #27): a real Roster
//! publishes each SAML connection's own keys in its SP metadata; an IdP encrypts to the
//! `use="encryption"` certificate it read there, and the login works; every refusal (another
//! SP's key, a tampered ciphertext, RSA PKCS#1 v1.5, a wrapped assertion, a plain assertion
//! where encryption is required) is recorded with its reason and creates nobody. A key rotation
//! overlaps (both keys decrypt until the old one is retired with `roster connection keys`), and
//! a connection that signs its requests signs them as the HTTP-Redirect binding says, with the
//! certificate its metadata publishes.
//!
//! The IdP side is `crates/sso/tests/support/xmlenc.rs` (what SimpleSAMLphp and ADFS write);
//! the end-to-end run against SimpleSAMLphp itself is in `saml.rs`.

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use crate::browser::{admin_call, agent, cookie_set_by};
use crate::process::{cli, json_of, run};
use crate::saml_refusals::{setup, Setup, Shape};

#[path = "../../../sso/tests/support/xmlenc.rs"]
mod xmlenc;

const ENCRYPTION: &str = r#"use="encryption""#;
const SIGNING: &str = r#"use="signing""#;

/// The certificates of `key_use` (`use="…"`) in the connection's SP metadata, in order.
fn published(setup: &Setup, key_use: &str) -> Vec<String> {
    let url = format!(
        "{}/sso/saml/{}/metadata",
        setup.app.url(),
        setup.connection.id
    );
    let mut response = agent().get(&url).call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let xml = response.body_mut().read_to_string().unwrap();
    xml.split("<md:KeyDescriptor ")
        .skip(1)
        .filter(|descriptor| descriptor.starts_with(key_use))
        .filter_map(|descriptor| {
            let start = descriptor.find("<ds:X509Certificate>")? + "<ds:X509Certificate>".len();
            let end = descriptor.find("</ds:X509Certificate>")?;
            Some(descriptor[start..end].to_owned())
        })
        .collect()
}

fn metadata_of(setup: &Setup) -> String {
    let url = format!(
        "{}/sso/saml/{}/metadata",
        setup.app.url(),
        setup.connection.id
    );
    agent()
        .get(&url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// `response` (a signed response with a plain assertion) with that assertion encrypted.
fn encrypted(response: &str, certificate: &str, how: xmlenc::Encryption<'_>) -> String {
    let start = response.find("<saml:Assertion ").unwrap();
    let end = response.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let plaintext = response[start..end].replacen(
        "<saml:Assertion ",
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" "#,
        1,
    );
    format!(
        "{}{}{}",
        &response[..start],
        xmlenc::encrypt(plaintext.as_bytes(), certificate, how),
        &response[end..]
    )
}

fn gcm() -> xmlenc::Encryption<'static> {
    xmlenc::Encryption {
        data: xmlenc::AES256_GCM,
        ..xmlenc::SSP_DEFAULT
    }
}

/// Each refusal: the error page, the login event's reason, nobody created, no session. The
/// key-dependent failures answer exactly alike (page and detail), so none is an oracle. Then
/// the browser's encrypted answer signs alice in.
#[test]
fn encrypted_assertions_sign_in_and_every_refusal_creates_nothing() {
    let s = setup(false);
    let certificates = published(&s, ENCRYPTION);
    assert_eq!(certificates.len(), 1, "one encryption key from the start");
    let certificate = &certificates[0];
    let (binding, request_id) = s.start_login();
    let plain = s.response(Shape::answering(&request_id));
    let another_sp = roster_sso::saml::generate_sp_key("another SP", 1_900_000_000).unwrap();

    let mut key_dependent = Vec::new();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "encrypted for another SP",
            encrypted(&plain, &another_sp.certificate, xmlenc::SSP_DEFAULT),
            "decryption_failed",
        ),
        (
            "a GCM tag that does not match",
            xmlenc::tampered(&encrypted(&plain, certificate, gcm())),
            "decryption_failed",
        ),
        (
            "CBC padding that does not decode",
            xmlenc::tampered(&encrypted(&plain, certificate, xmlenc::SSP_DEFAULT)),
            "decryption_failed",
        ),
        (
            "RSA PKCS#1 v1.5 key transport",
            encrypted(
                &plain,
                certificate,
                xmlenc::Encryption {
                    transport: xmlenc::RSA_1_5,
                    ..xmlenc::SSP_DEFAULT
                },
            ),
            "encryption_algorithm_forbidden",
        ),
        (
            "an encrypted evil twin beside the signed assertion",
            {
                let evil = encrypted(&plain, certificate, gcm())
                    .replace("s-alice", "s-mallory")
                    .replace("alice@example.test", "mallory@example.test");
                let start = evil.find("<saml:EncryptedAssertion>").unwrap();
                let end = evil.find("</saml:EncryptedAssertion>").unwrap()
                    + "</saml:EncryptedAssertion>".len();
                plain.replacen(
                    "</samlp:Response>",
                    &format!("{}</samlp:Response>", &evil[start..end]),
                    1,
                )
            },
            "multiple_assertions",
        ),
    ];
    for (name, xml, reason) in cases {
        let (status, code, session) = s.post(&xml, Some(&binding));
        assert_eq!(
            (status, code.as_str(), session),
            (400, "invalid_response", false),
            "{name}"
        );
        let (outcome, _, detail) = s.last_event();
        assert_eq!(outcome, "failure", "{name}");
        assert_eq!(detail["reason"], reason, "{name}: {detail}");
        assert_eq!(s.accounts(), [0, 0], "{name}: nobody created");
        if reason == "decryption_failed" {
            key_dependent.push(detail);
        }
    }
    assert_eq!(key_dependent.len(), 3);
    assert!(
        key_dependent.windows(2).all(|pair| pair[0] == pair[1]),
        "the same detail for every key-dependent failure: {key_dependent:?}"
    );
    let (_, _, forbidden) = {
        let how = xmlenc::Encryption {
            transport: xmlenc::RSA_1_5,
            ..xmlenc::SSP_DEFAULT
        };
        s.post(&encrypted(&plain, certificate, how), Some(&binding));
        s.last_event()
    };
    assert_eq!(forbidden["in"], "EncryptedKey");
    assert_eq!(forbidden["got"], xmlenc::RSA_1_5);

    // The request is still pending: the IdP's encrypted answer signs alice in.
    let (status, _, session) = s.post(
        &encrypted(&plain, certificate, xmlenc::SSP_DEFAULT),
        Some(&binding),
    );
    assert_eq!((status, session), (302, true), "{:?}", s.last_event());
    assert_eq!(s.accounts(), [1, 1]);
}

/// `assertionEncryption: required` refuses a plain assertion and takes an encrypted one.
#[test]
fn a_connection_that_requires_encryption_refuses_plain_assertions() {
    let mut s = setup(false);
    let mut config: Value = serde_json::from_str(&s.connection.protocol_config).unwrap();
    config["assertion_encryption"] = json!("required");
    s.connection = s.app.configure(&s.connection, config);
    let certificate = published(&s, ENCRYPTION).remove(0);
    let (binding, request_id) = s.start_login();
    let plain = s.response(Shape::answering(&request_id));

    let (status, code, session) = s.post(&plain, Some(&binding));
    assert_eq!(
        (status, code.as_str(), session),
        (400, "invalid_response", false)
    );
    let (_, _, detail) = s.last_event();
    assert_eq!(
        detail,
        json!({ "reason": "encryption_required", "want": "EncryptedAssertion", "got": "a plain Assertion" })
    );
    assert_eq!(s.accounts(), [0, 0]);

    let (status, _, session) = s.post(&encrypted(&plain, &certificate, gcm()), Some(&binding));
    assert_eq!((status, session), (302, true), "{:?}", s.last_event());
}

/// A rotation publishes the new key beside the old one; both decrypt until the old one is
/// retired, which `roster connection keys retire` refuses without its confirmation and for
/// the last key of a use.
#[test]
fn an_encryption_key_rotation_overlaps_and_retiring_ends_the_old_key() {
    let s = setup(false);
    let db = &s.app.db;
    let old = published(&s, ENCRYPTION).remove(0);
    let listed = json_of(&cli(db, "connection keys list --workspace acme corp"));
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{listed}");
    assert!(keys.iter().all(|key| key["status"] == "published"));
    let old_id = keys.iter().find(|key| key["use"] == "encryption").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !listed.to_string().contains("PRIVATE"),
        "never a private key"
    );

    let rotated = json_of(&cli(
        db,
        "connection keys rotate --workspace acme corp --use encryption",
    ));
    let new_id = rotated["added"].as_str().unwrap().to_owned();
    let both = published(&s, ENCRYPTION);
    assert_eq!(both.len(), 2);
    assert_eq!(
        both[1], old,
        "the newest key first, the old one still published"
    );
    let new = both[0].clone();

    for certificate in [&old, &new] {
        let (binding, request_id) = s.start_login();
        let xml = encrypted(
            &s.response(Shape::answering(&request_id)),
            certificate,
            gcm(),
        );
        let (status, _, session) = s.post(&xml, Some(&binding));
        assert_eq!((status, session), (302, true), "{:?}", s.last_event());
    }

    crate::process::fails_with(
        &cli(
            db,
            &format!("connection keys retire --workspace acme corp {old_id}"),
        ),
        &format!("--confirm {old_id}"),
    );
    retire_key(db, "corp", &old_id);
    assert_eq!(published(&s, ENCRYPTION), vec![new.clone()]);
    crate::process::fails_with(
        &run(
            db,
            &[
                "connection",
                "keys",
                "retire",
                "--workspace",
                "acme",
                "corp",
                &new_id,
                "--confirm",
                &new_id,
            ],
        ),
        "only encryption key",
    );

    let (binding, request_id) = s.start_login();
    let to_old = encrypted(&s.response(Shape::answering(&request_id)), &old, gcm());
    let (status, _, session) = s.post(&to_old, Some(&binding));
    assert_eq!((status, session), (400, false));
    assert_eq!(s.last_event().2["reason"], "decryption_failed");

    let audit: Vec<String> = db
        .store
        .audit_events(s.app.workspace.id, None, 100)
        .unwrap()
        .into_iter()
        .map(|event| event.action)
        .collect();
    assert!(
        audit.contains(&"connection.sp_key_added".to_owned()),
        "{audit:?}"
    );
    assert!(
        audit.contains(&"connection.sp_key_retired".to_owned()),
        "{audit:?}"
    );
}

/// The same rotation by a workspace's admin through the admin API, without the operator (the
/// `connection.certificate_expiring` event asks the admin to rotate): the keys are listed
/// without a private half; a malformed request changes nothing; a new encryption key is
/// published and decrypts beside the old one; retiring needs `confirm`, ends the old key, and
/// refuses the last one.
#[test]
fn a_workspace_admin_rotates_and_retires_a_key_through_the_admin_api() {
    let s = setup(false);
    let (_, api_key) = s
        .app
        .db
        .store
        .create_api_key(
            &roster_store::domain::Actor::Cli,
            s.app.workspace.id,
            "admin",
        )
        .unwrap();
    let api_key = api_key.expose().to_owned();
    let base = s.app.url();
    let call = |method: &str, path: &str, body: Option<Value>| {
        admin_call(&base, &api_key, method, path, body.as_ref())
    };
    let keys_path = format!("/connections/{}/sp-keys", s.connection.id);
    let old = published(&s, ENCRYPTION).remove(0);

    // Only a SAML connection has keys of its own.
    let (status, scim) = call(
        "POST",
        "/connections",
        Some(json!({"name": "directory", "kind": "scim"})),
    );
    assert_eq!(status, 201, "{scim}");
    let scim_keys = format!("/connections/{}/sp-keys", scim["id"].as_str().unwrap());
    for (method, path, body) in [
        ("GET", scim_keys.clone(), None),
        ("POST", scim_keys.clone(), Some(json!({"use": "signing"}))),
        (
            "POST",
            format!("{scim_keys}/any/retire"),
            Some(json!({"confirm": "any"})),
        ),
    ] {
        let (status, body) = call(method, &path, body);
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("validation")),
            "{path}: {body}"
        );
    }

    let (status, listed) = call("GET", &keys_path, None);
    assert_eq!(status, 200, "{listed}");
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{listed}");
    assert!(
        !listed.to_string().contains("PRIVATE"),
        "never a private key"
    );
    let old_id = keys.iter().find(|key| key["use"] == "encryption").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(keys.iter().filter(|key| key["signs"] == true).count(), 1);

    for refused in [
        json!({"use": "decryption"}),
        json!({"use": "encryption", "privateKey": "-----BEGIN PRIVATE KEY-----"}),
        json!({"use": "encryption", "certificate": "-----BEGIN CERTIFICATE-----", "privateKey": "not a key"}),
    ] {
        let (status, body) = call("POST", &keys_path, Some(refused.clone()));
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("validation")),
            "{refused}: {body}"
        );
    }
    assert_eq!(
        published(&s, ENCRYPTION),
        vec![old.clone()],
        "nothing added"
    );

    // The admin's own signing key: published beside the generated one, which keeps signing;
    // a certificate of another key is refused.
    let own_pair = |name: &str| {
        let dir = tempfile::tempdir().unwrap();
        let (key, cert) = own_key_files(dir.path(), name, 30);
        let read = |path| std::fs::read_to_string(path).unwrap();
        (read(&key), read(&cert))
    };
    let (mine, my_certificate) = own_pair("admin-sp-key");
    let (_, other_certificate) = own_pair("another-key");
    let (status, body) = call(
        "POST",
        &keys_path,
        Some(json!({"use": "signing", "privateKey": mine, "certificate": other_certificate})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("validation")),
        "{body}"
    );
    let (status, added) = call(
        "POST",
        &keys_path,
        Some(json!({"use": "signing", "privateKey": mine, "certificate": my_certificate})),
    );
    assert_eq!(status, 201, "{added}");
    let key = added["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["id"] == added["added"])
        .unwrap();
    assert_eq!(
        (key["use"].as_str(), key["generation"].as_i64()),
        (Some("signing"), Some(2))
    );
    assert_eq!(
        key["signs"], false,
        "the oldest published signing key signs"
    );
    assert!(!added.to_string().contains("PRIVATE"), "{added}");
    assert_eq!(published(&s, SIGNING).len(), 2);

    let (status, rotated) = call("POST", &keys_path, Some(json!({"use": "encryption"})));
    assert_eq!(status, 201, "{rotated}");
    let new_id = rotated["added"].as_str().unwrap().to_owned();
    assert_eq!(rotated["keys"].as_array().unwrap().len(), 4, "{rotated}");
    assert!(!rotated.to_string().contains("PRIVATE"));
    let both = published(&s, ENCRYPTION);
    assert_eq!(both.len(), 2);
    assert_eq!(both[1], old);
    let new = both[0].clone();
    let (binding, request_id) = s.start_login();
    let xml = encrypted(&s.response(Shape::answering(&request_id)), &new, gcm());
    let (status, _, session) = s.post(&xml, Some(&binding));
    assert_eq!((status, session), (302, true), "{:?}", s.last_event());

    let retire = |key: &str, confirm: Option<&str>| {
        call(
            "POST",
            &format!("{keys_path}/{key}/retire"),
            Some(json!({ "confirm": confirm })),
        )
    };
    let (status, body) = retire(&old_id, None);
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("validation")),
        "{body}"
    );
    let (status, body) = retire(&old_id, Some(&new_id));
    assert_eq!(status, 400, "confirm names another key: {body}");
    assert_eq!(published(&s, ENCRYPTION).len(), 2, "nothing retired");
    let (status, body) = retire(&old_id, Some(&old_id));
    assert_eq!(
        (status, body["retired"].as_str()),
        (200, Some(old_id.as_str())),
        "{body}"
    );
    assert_eq!(published(&s, ENCRYPTION), vec![new.clone()]);
    let (status, body) = retire(&new_id, Some(&new_id));
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let (status, body) = retire("no-such-key", Some("no-such-key"));
    assert_eq!(status, 404, "{body}");

    let (binding, request_id) = s.start_login();
    let to_old = encrypted(&s.response(Shape::answering(&request_id)), &old, gcm());
    let (status, _, session) = s.post(&to_old, Some(&binding));
    assert_eq!((status, session), (400, false));

    let audit: Vec<(String, String)> = s
        .app
        .db
        .store
        .audit_events(s.app.workspace.id, None, 100)
        .unwrap()
        .into_iter()
        .filter(|event| event.action.starts_with("connection.sp_key"))
        .map(|event| (event.action, event.actor_kind))
        .collect();
    assert_eq!(
        audit,
        [
            ("connection.sp_key_added".to_owned(), "admin".to_owned()),
            ("connection.sp_key_added".to_owned(), "admin".to_owned()),
            ("connection.sp_key_retired".to_owned(), "admin".to_owned()),
        ],
    );
}

/// A connection that signs its requests: the metadata says so, and the redirect carries
/// `SigAlg` and a `Signature` that the published signing certificate verifies over exactly the
/// binding's octets. One whose IdP metadata wants signed requests signs without being asked.
#[test]
fn signed_authn_requests_verify_with_the_published_certificate() {
    let mut s = setup(false);
    assert!(metadata_of(&s).contains(r#"AuthnRequestsSigned="false""#));
    let unsigned = login_redirect(&s);
    assert!(!unsigned.contains("Signature="), "{unsigned}");

    let mut config: Value = serde_json::from_str(&s.connection.protocol_config).unwrap();
    config["sign_authn_requests"] = json!(true);
    s.connection = s.app.configure(&s.connection, config.clone());
    assert!(metadata_of(&s).contains(r#"AuthnRequestsSigned="true""#));
    verify_redirect_signature(&login_redirect(&s), &published(&s, SIGNING).remove(0));

    // The IdP's metadata asks for signed requests: signed without the setting.
    config["sign_authn_requests"] = json!(false);
    config["idp_metadata_xml"] = json!(config["idp_metadata_xml"].as_str().unwrap().replace(
        "<md:IDPSSODescriptor ",
        r#"<md:IDPSSODescriptor WantAuthnRequestsSigned="true" "#
    ));
    s.connection = s.app.configure(&s.connection, config);
    assert!(metadata_of(&s).contains(r#"AuthnRequestsSigned="true""#));
    verify_redirect_signature(&login_redirect(&s), &published(&s, SIGNING).remove(0));
}

/// Where a login start sends the browser.
fn login_redirect(s: &Setup) -> String {
    let url = format!(
        "{}/sso/acme/login?connection=corp&return_to=%2F",
        s.app.url()
    );
    let response = agent().get(&url).call().unwrap();
    assert_eq!(response.status().as_u16(), 302);
    assert!(cookie_set_by(&response, "roster_sso").is_some());
    response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// Checks a signed HTTP-Redirect AuthnRequest as an IdP does (bindings §3.4.4.1), RSA-SHA256.
fn verify_redirect_signature(location: &str, certificate: &str) {
    assert!(
        location
            .contains("&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"),
        "{location}"
    );
    let request = crate::saml_logout::verified_message(location, "SAMLRequest", certificate);
    assert!(request.contains(":AuthnRequest "), "{request}");
}

/// An operator's or admin's own SP key pair, made by `openssl` in `dir`: the PEM key file and the
/// PEM certificate file (self-signed for `common_name`, valid `days`).
pub(crate) fn own_key_files(
    dir: &std::path::Path,
    common_name: &str,
    days: u32,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let (key, cert) = (dir.join("sp.key"), dir.join("sp.crt"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes"])
        .args([
            "-days",
            &days.to_string(),
            "-subj",
            &format!("/CN={common_name}"),
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    (key, cert)
}

/// `roster connection keys retire` of `key`, confirmed: the keys it prints.
pub(crate) fn retire_key(
    db: &roster_store::testing::TestStore,
    connection: &str,
    key: &str,
) -> Value {
    json_of(&run(
        db,
        &[
            "connection",
            "keys",
            "retire",
            "--workspace",
            "acme",
            connection,
            key,
            "--confirm",
            key,
        ],
    ))
}

/// A signing key rotation: the new certificate is published at once, but the old key keeps
/// signing until it is retired (the IdP may not have the new one yet); then the new one signs.
#[test]
fn a_signing_key_rotation_signs_with_the_old_key_until_it_is_retired() {
    let mut s = setup(false);
    let mut config: Value = serde_json::from_str(&s.connection.protocol_config).unwrap();
    config["sign_authn_requests"] = json!(true);
    s.connection = s.app.configure(&s.connection, config);
    let db = &s.app.db;
    let old = published(&s, SIGNING).remove(0);
    let rotated = json_of(&cli(
        db,
        "connection keys rotate --workspace acme corp --use signing",
    ));
    let old_id = rotated["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["use"] == "signing" && key["signs"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(old_id, rotated["added"], "the old key still signs");
    let both = published(&s, SIGNING);
    assert_eq!(both.len(), 2);
    assert_eq!(both[0], old, "the key that signs first");
    let new = both[1].clone();
    verify_redirect_signature(&login_redirect(&s), &old);

    retire_key(db, "corp", &old_id);
    assert_eq!(published(&s, SIGNING), vec![new.clone()]);
    verify_redirect_signature(&login_redirect(&s), &new);
}
