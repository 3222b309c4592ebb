//! Interop: real signed responses recorded by SSOReady from ADFS/Entra, Google, JumpCloud,
//! Keycloak, Okta and Ping (MIT, `fixtures/ssoready/LICENSE`) validate at the instant they were
//! valid, and the `bad-assertions/` variants are refused for the reason their folder names.
//!
//! Each fixture comes with the IdP metadata and `params.json` (`sp_entity_id`, `now`). The ACS
//! URL is the response's SubjectConfirmationData `Recipient`, which the SP chose at the time.
//!
//! The Okta response (and the `bad-assertions/`, all derived from it) carries two signatures:
//! the assertion's verifies, the Response's does not (its digest does not match; `xmlsec1
//! --verify` agrees), so the recording was altered after signing. samael requires every
//! signature to verify, so the response as recorded is refused (`okta_as_recorded`). The other
//! Okta tests first remove that broken envelope signature, which leaves a normal
//! assertion-signed response whose assertion signature is untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use base64::Engine as _;
use pretty_assertions::assert_eq;
use roster_domain::{GroupsClaim, LoginFailure};
use roster_sso::saml::{
    claims_from_assertion, parse_idp_metadata, validate_response, validate_response_at,
    IdpMetadata, SamlError, SpKeys, SpSettings, ValidationPolicy, VerifiedAssertion,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

struct Fixture {
    response_b64: String,
    metadata_xml: String,
    sp: SpSettings,
    now: i64,
}

fn fixture(path: &str) -> Fixture {
    load(path, |response| response)
}

/// An Okta-derived fixture without its broken Response-level signature (see the module doc).
fn okta_fixture(path: &str) -> Fixture {
    load(path, without_envelope_signature)
}

/// Removes a `ds:Signature` that comes before the assertion (a direct child of the Response).
fn without_envelope_signature(response: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&response).into_owned();
    let (Some(start), Some(assertion)) =
        (text.find("<ds:Signature"), text.find("<saml2:Assertion"))
    else {
        return response;
    };
    if start > assertion {
        return response;
    }
    let end = text.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    format!("{}{}", &text[..start], &text[end..]).into_bytes()
}

fn load(path: &str, transform: impl FnOnce(Vec<u8>) -> Vec<u8>) -> Fixture {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ssoready")
        .join(path);
    let response = transform(std::fs::read(dir.join("assertion.xml")).unwrap());
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("params.json")).unwrap()).unwrap();
    let now = OffsetDateTime::parse(params["now"].as_str().unwrap(), &Rfc3339).unwrap();
    Fixture {
        sp: SpSettings {
            entity_id: params["sp_entity_id"].as_str().unwrap().to_owned(),
            acs_url: recipient(&String::from_utf8_lossy(&response)),
        },
        response_b64: base64::engine::general_purpose::STANDARD.encode(&response),
        metadata_xml: std::fs::read_to_string(dir.join("metadata.xml")).unwrap(),
        now: now.unix_timestamp(),
    }
}

/// The first `Recipient="…"` in the response (empty when there is none).
fn recipient(xml: &str) -> String {
    xml.split("Recipient=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

fn idp_initiated() -> ValidationPolicy {
    ValidationPolicy {
        allow_idp_initiated: true,
        ..ValidationPolicy::default()
    }
}

impl Fixture {
    fn idp(&self) -> IdpMetadata {
        parse_idp_metadata(&self.metadata_xml).unwrap()
    }

    fn validate(
        &self,
        ids: &[&str],
        policy: &ValidationPolicy,
    ) -> Result<VerifiedAssertion, SamlError> {
        self.validate_with(&self.idp(), ids, policy, self.now)
    }

    fn validate_with(
        &self,
        idp: &IdpMetadata,
        ids: &[&str],
        policy: &ValidationPolicy,
        now: i64,
    ) -> Result<VerifiedAssertion, SamlError> {
        let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        validate_response_at(
            &self.response_b64,
            idp,
            &self.sp,
            &SpKeys::default(),
            &ids,
            policy,
            now,
        )
    }
}

/// Validates a good fixture and checks the identity it yields.
fn check_good(name: &str, subject: &str, email: Option<&str>) -> VerifiedAssertion {
    let fixture = okta_fixture(&format!("assertions/{name}"));
    let verified = fixture
        .validate(&[], &idp_initiated())
        .unwrap_or_else(|e| panic!("{name}: {e} {}", e.detail()));
    assert_eq!(verified.issuer, fixture.idp().entity_id);
    let claims = claims_from_assertion(&verified).unwrap();
    assert_eq!(
        (claims.subject.as_str(), claims.email.as_deref()),
        (subject, email),
        "{name}"
    );
    assert!(claims.email_verified);
    assert!(verified.session_not_on_or_after_unix > fixture.now);
    verified
}

#[test]
fn adfs_entra() {
    let verified = check_good(
        "adfs",
        "ulysse.carion_codomaindata.com#EXT#@ulyssecarioncodomaindata.onmicrosoft.com",
        Some("ulysse.carion@codomaindata.com"),
    );
    let claims = claims_from_assertion(&verified).unwrap();
    assert_eq!(claims.given_name.as_deref(), Some("Ulysse"));
    assert_eq!(claims.family_name.as_deref(), Some("Carion"));
    assert_eq!(claims.display_name.as_deref(), Some("Ulysse Carion"));
    assert_eq!(claims.groups, GroupsClaim::Unknown);
    assert_eq!(
        verified.assertion_id,
        "_66b104aa-1f7a-402f-abe6-d131c8896400"
    );
    assert_eq!(verified.in_response_to, None);
}

#[test]
fn google() {
    check_good("google", "ulysse.carion@codomaindata.com", None);
}

#[test]
fn jumpcloud_post_only_idp() {
    check_good("jumpcloud", "ulysse.carion@codomaindata.com", None);
    let idp = fixture("assertions/jumpcloud").idp();
    assert_eq!(idp.sso_redirect_url, None);
    assert_eq!(
        idp.sso_post_url.as_deref(),
        Some("https://sso.jumpcloud.com/saml2/ucariontest")
    );
}

#[test]
fn keycloak_sp_initiated() {
    let fixture = fixture("assertions/keycloak");
    let request_id = "saml_flow_95q1hli3z0vohj0d55l4j4yo1";
    let verified = fixture
        .validate(&["_other", request_id], &ValidationPolicy::default())
        .unwrap();
    assert_eq!(verified.in_response_to.as_deref(), Some(request_id));
    assert_eq!(verified.attributes["Role"].len(), 6);
    let claims = claims_from_assertion(&verified).unwrap();
    assert_eq!(claims.subject, "ulysse.carion@ssoready.com");
    assert_eq!(claims.email.as_deref(), Some("ulysse.carion@ssoready.com"));
    // The same response when that request is not pending in this browser.
    let error = fixture
        .validate(&["_other"], &ValidationPolicy::default())
        .unwrap_err();
    assert_eq!(error.reason(), "in_response_to_unknown");
    assert_eq!(error.failure(), LoginFailure::UnknownRequest);
}

#[test]
fn okta() {
    check_good(
        "okta",
        "ulysse.carion@codomaindata.com",
        Some("ulysse.carion@codomaindata.com"),
    );
}

#[test]
fn okta_as_recorded() {
    // The Response-level signature does not verify: every signature present must.
    let fixture = fixture("assertions/okta");
    assert!(fixture.response_b64.len() > okta_fixture("assertions/okta").response_b64.len());
    assert_eq!(
        fixture
            .validate(&[], &idp_initiated())
            .unwrap_err()
            .reason(),
        "signature_invalid"
    );
}

#[test]
fn ping() {
    check_good("ping", "9e34fa21-4e8f-4dee-b565-648dbcf25eff", None);
}

#[test]
fn good_fixtures_are_refused_as_unsolicited_by_default() {
    for name in ["adfs", "google", "okta"] {
        let error = okta_fixture(&format!("assertions/{name}"))
            .validate(&[], &ValidationPolicy::default())
            .unwrap_err();
        assert_eq!(error.reason(), "unsolicited_response", "{name}");
    }
}

#[test]
fn our_clock_decides_not_samaels() {
    // samael's own time checks are widened; ours must still refuse the recorded responses an
    // hour later, and at the real time of this test run.
    for name in ["adfs", "google", "jumpcloud", "keycloak", "okta", "ping"] {
        let fixture = okta_fixture(&format!("assertions/{name}"));
        let later =
            fixture.validate_with(&fixture.idp(), &[], &idp_initiated(), fixture.now + 3600);
        assert_eq!(later.unwrap_err().reason(), "expired", "{name}");
        let ids = vec!["saml_flow_95q1hli3z0vohj0d55l4j4yo1".to_owned()];
        let today = validate_response(
            &fixture.response_b64,
            &fixture.idp(),
            &fixture.sp,
            &SpKeys::default(),
            &ids,
            &idp_initiated(),
        );
        assert_eq!(today.unwrap_err().reason(), "expired", "{name}");
    }
}

fn check_bad(name: &str, reason: &str) {
    let fixture = okta_fixture(&format!("bad-assertions/{name}"));
    let error = fixture.validate(&[], &idp_initiated()).unwrap_err();
    assert_eq!(error.reason(), reason, "{name}: {error} {}", error.detail());
}

#[test]
fn bad_assertion_expired_early() {
    check_bad("bad-assertion-expired-early", "not_yet_valid");
}

#[test]
fn bad_assertion_expired_late() {
    check_bad("bad-assertion-expired-late", "expired");
}

#[test]
fn bad_assertion_utf8() {
    check_bad("bad-assertion-utf8", "malformed");
}

#[test]
fn bad_certificate() {
    check_bad("bad-certificate", "signature_invalid");
}

#[test]
fn bad_digest_algorithm() {
    check_bad("bad-digest-algorithm", "algorithm_forbidden");
}

#[test]
fn bad_idp_entity_id() {
    check_bad("bad-idp-entity-id", "issuer_mismatch");
}

#[test]
fn bad_signature_algorithm() {
    check_bad("bad-signature-algorithm", "algorithm_forbidden");
}

#[test]
fn bad_sp_entity_id() {
    check_bad("bad-sp-entity-id", "audience_mismatch");
}

#[test]
fn unsigned_assertion() {
    // Without the broken envelope signature nothing is signed: refused as unsigned.
    check_bad("unsigned-assertion", "signature_missing");
}

#[test]
fn no_certificate() {
    // The response without any KeyInfo certificate and without the assertion signature: the
    // only signature left is the broken envelope one, and we never take a certificate from
    // KeyInfo anyway (S16).
    assert_eq!(
        fixture("bad-assertions/no-certificate")
            .validate(&[], &idp_initiated())
            .unwrap_err()
            .reason(),
        "signature_invalid"
    );
    // Without that envelope signature too, nothing is signed at all.
    check_bad("no-certificate", "signature_missing");
    // A connection whose metadata has no certificate is refused at the ACS as well (A2).
    let okta = okta_fixture("assertions/okta");
    let without_certs = IdpMetadata {
        signing_certificates: Vec::new(),
        ..okta.idp()
    };
    let error = okta
        .validate_with(&without_certs, &[], &idp_initiated(), okta.now)
        .unwrap_err();
    assert_eq!(error.reason(), "no_signing_certificate");
    assert_eq!(error.failure(), LoginFailure::ConnectionMisconfigured);
    let metadata = okta
        .metadata_xml
        .replace("use=\"signing\"", "use=\"encryption\"");
    assert_eq!(
        parse_idp_metadata(&metadata).unwrap_err().reason(),
        "no_signing_certificate"
    );
}
