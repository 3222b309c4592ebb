//! The SAML attack catalog (notes §4.1) against the pure validation layer.
//!
//! A throw-away IdP key and certificate are made with the `openssl` CLI; each test builds a
//! fresh response from an XML template, signs it with xmlsec through
//! `samael::crypto::Crypto::sign_xml`, applies the attack (after signing, unless the attack is
//! to sign something bad), and asserts the exact `reason()`. Each case names its catalog id.
//! Cases that need the store or HTTP (S18 cross-tenant, S20 replay, S33 RelayState, S35, S37)
//! live with the handlers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use pretty_assertions::assert_eq;
use roster_domain::LoginFailure;
use roster_sso::saml::{
    claims_from_assertion, generate_sp_key, new_request_id, parse_idp_metadata, validate_response,
    validate_response_at, AssertionEncryption, IdpMetadata, SamlError, SpKey, SpKeyUse, SpKeys,
    SpSettings, ValidationPolicy, VerifiedAssertion,
};
use samael::crypto::{Crypto, CryptoProvider};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const IDP_ENTITY_ID: &str = "https://idp.example.com/metadata";
const SP_ENTITY_ID: &str = "https://roster.example.com/sso/saml/c1";
const ACS_URL: &str = "https://roster.example.com/sso/saml/c1/acs";
const NAME_ID: &str = "ada@victim.example.com";
const EVIL_NAME_ID: &str = "admin@victim.example.com";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const SKEW: i64 = 180;

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// A signing key (DER) and its self-signed certificate (base64 DER).
struct Key {
    private_der: Vec<u8>,
    certificate_b64: String,
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl CLI");
    assert!(status.success(), "openssl {args:?}");
}

/// A fresh key pair in a scratch directory (removed afterwards).
fn make_key(algorithm: &[&str], subject: &str) -> Key {
    let dir = std::env::temp_dir().join(format!("roster-saml-test-{}", new_request_id().unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut request = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", subject];
    request.extend_from_slice(algorithm);
    request.extend_from_slice(&["-keyout", "key.pem", "-out", "cert.pem"]);
    openssl(&dir, &request);
    openssl(
        &dir,
        &[
            "pkey", "-in", "key.pem", "-outform", "DER", "-out", "key.der",
        ],
    );
    openssl(
        &dir,
        &[
            "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
        ],
    );
    let key = Key {
        private_der: std::fs::read(dir.join("key.der")).unwrap(),
        certificate_b64: b64(std::fs::read(dir.join("cert.der")).unwrap()),
    };
    std::fs::remove_dir_all(&dir).unwrap();
    key
}

fn idp_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| make_key(&["-newkey", "rsa:2048"], "/CN=test-idp"))
}

/// S17: same subject/issuer DN as the real IdP certificate, different key.
fn same_dn_attacker_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| make_key(&["-newkey", "rsa:2048"], "/CN=test-idp"))
}

fn attacker_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| make_key(&["-newkey", "rsa:2048"], "/CN=attacker"))
}

fn ec_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| {
        make_key(
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
            "/CN=test-idp-ec",
        )
    })
}

/// IdP metadata listing `keys` as signing certificates, through the real parser.
fn idp_metadata(keys: &[&Key]) -> IdpMetadata {
    let descriptors: String = keys
        .iter()
        .map(|key| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                key.certificate_b64
            )
        })
        .collect();
    parse_idp_metadata(&format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP_ENTITY_ID}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{descriptors}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    ))
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// Everything a test may vary in a response. `Spec::new()` is a valid SP-initiated response.
#[derive(Clone)]
struct Spec {
    now: i64,
    request_id: String,
    response_id: String,
    assertion_id: String,
    status: String,
    destination: Option<String>,
    response_issuer: String,
    response_in_response_to: Option<String>,
    issuer: String,
    issue_instant: i64,
    /// Raw XML content of the NameID (may hold comments, CDATA or PIs).
    name_id: String,
    name_id_format: String,
    recipient: String,
    confirmation_in_response_to: Option<String>,
    confirmation_not_on_or_after: Option<i64>,
    /// `None` leaves out `Conditions` altogether.
    conditions: Option<Conditions>,
    /// Raw `saml:Attribute` elements.
    attributes: String,
    sign_assertion: bool,
    sign_response: bool,
    signature_method: String,
    digest_method: String,
    /// The `ds:Transform` elements of every signature's reference.
    transforms: String,
}

#[derive(Clone)]
struct Conditions {
    not_before: Option<i64>,
    not_on_or_after: Option<i64>,
    /// Raw `saml:AudienceRestriction` elements.
    audience_restrictions: String,
}

fn audience(audiences: &[&str]) -> String {
    let audiences: String = audiences
        .iter()
        .map(|a| format!("<saml:Audience>{a}</saml:Audience>"))
        .collect();
    format!("<saml:AudienceRestriction>{audiences}</saml:AudienceRestriction>")
}

impl Spec {
    fn new() -> Self {
        let now = unix_now();
        let request_id = new_request_id().unwrap();
        Spec {
            now,
            response_id: new_request_id().unwrap(),
            assertion_id: new_request_id().unwrap(),
            status: status("urn:oasis:names:tc:SAML:2.0:status:Success", None),
            destination: Some(ACS_URL.into()),
            response_issuer: IDP_ENTITY_ID.into(),
            response_in_response_to: Some(request_id.clone()),
            issuer: IDP_ENTITY_ID.into(),
            issue_instant: now,
            name_id: NAME_ID.into(),
            name_id_format: PERSISTENT.into(),
            recipient: ACS_URL.into(),
            confirmation_in_response_to: Some(request_id.clone()),
            confirmation_not_on_or_after: Some(now + 300),
            conditions: Some(Conditions {
                not_before: Some(now - 60),
                not_on_or_after: Some(now + 300),
                audience_restrictions: audience(&[SP_ENTITY_ID]),
            }),
            attributes: [
                attribute("mail", &["ada@victim.example.com"]),
                attribute("groups", &["engineering", "staff"]),
            ]
            .concat(),
            request_id,
            sign_assertion: true,
            sign_response: false,
            signature_method: RSA_SHA256.into(),
            digest_method: SHA256.into(),
            transforms: [transform(ENVELOPED_SIGNATURE), transform(EXC_C14N)].concat(),
        }
    }

    fn conditions_mut(&mut self) -> &mut Conditions {
        self.conditions.as_mut().unwrap()
    }

    fn unsolicited(mut self) -> Self {
        self.response_in_response_to = None;
        self.confirmation_in_response_to = None;
        self
    }

    fn response_xml(&self, key: &Key, assertion_template: bool) -> String {
        let in_response_to = optional_attribute("InResponseTo", &self.response_in_response_to);
        let destination = optional_attribute("Destination", &self.destination);
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}"{destination}{in_response_to}><saml:Issuer>{issuer}</saml:Issuer>{status}{assertion}</samlp:Response>"#,
            id = self.response_id,
            instant = rfc3339(self.issue_instant),
            issuer = self.response_issuer,
            status = self.status,
            assertion = self.assertion_xml(key, assertion_template),
        )
    }

    fn assertion_xml(&self, key: &Key, signature_template: bool) -> String {
        let signature = if signature_template {
            self.signature_template(&self.assertion_id, key)
        } else {
            String::new()
        };
        format!(
            r#"<saml:Assertion ID="{id}" Version="2.0" IssueInstant="{instant}"><saml:Issuer>{issuer}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="{format}">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{in_response_to}{not_on_or_after} Recipient="{recipient}"/></saml:SubjectConfirmation></saml:Subject>{conditions}<saml:AuthnStatement AuthnInstant="{instant}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>"#,
            id = self.assertion_id,
            instant = rfc3339(self.issue_instant),
            issuer = self.issuer,
            format = self.name_id_format,
            name_id = self.name_id,
            in_response_to = optional_attribute("InResponseTo", &self.confirmation_in_response_to),
            not_on_or_after = optional_attribute(
                "NotOnOrAfter",
                &self.confirmation_not_on_or_after.map(rfc3339)
            ),
            recipient = self.recipient,
            conditions = self
                .conditions
                .as_ref()
                .map(conditions_xml)
                .unwrap_or_default(),
            attributes = self.attributes,
        )
    }

    fn signature_template(&self, reference: &str, key: &Key) -> String {
        format!(
            r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{reference}"><ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
            method = self.signature_method,
            digest = self.digest_method,
            transforms = self.transforms,
            certificate = key.certificate_b64,
        )
    }

    /// The response signed with the IdP key.
    fn signed(&self) -> String {
        self.signed_with(idp_key())
    }

    /// Signs the assertion and/or the response with `key` (assertion first, so the response
    /// signature covers the signed assertion).
    fn signed_with(&self, key: &Key) -> String {
        let mut xml = self.response_xml(key, self.sign_assertion);
        if self.sign_assertion {
            xml = sign(&xml, key);
        }
        if self.sign_response {
            let template = self.signature_template(&self.response_id, key);
            xml = xml.replacen("</saml:Issuer>", &format!("</saml:Issuer>{template}"), 1);
            xml = sign(&xml, key);
        }
        xml
    }
}

fn sign(xml: &str, key: &Key) -> String {
    Crypto::sign_xml(xml, &key.private_der).unwrap()
}

fn transform(algorithm: &str) -> String {
    format!(r#"<ds:Transform Algorithm="{algorithm}"/>"#)
}

fn status(code: &str, sub_code: Option<&str>) -> String {
    let sub = sub_code
        .map(|c| format!(r#"<samlp:StatusCode Value="{c}"/>"#))
        .unwrap_or_default();
    format!(
        r#"<samlp:Status><samlp:StatusCode Value="{code}">{sub}</samlp:StatusCode></samlp:Status>"#
    )
}

fn attribute(name: &str, values: &[&str]) -> String {
    let values: String = values
        .iter()
        .map(|v| format!("<saml:AttributeValue>{v}</saml:AttributeValue>"))
        .collect();
    format!(r#"<saml:Attribute Name="{name}">{values}</saml:Attribute>"#)
}

fn conditions_xml(conditions: &Conditions) -> String {
    format!(
        "<saml:Conditions{}{}>{}</saml:Conditions>",
        optional_attribute("NotBefore", &conditions.not_before.map(rfc3339)),
        optional_attribute("NotOnOrAfter", &conditions.not_on_or_after.map(rfc3339)),
        conditions.audience_restrictions,
    )
}

fn optional_attribute(name: &str, value: &Option<String>) -> String {
    value
        .as_ref()
        .map(|v| format!(r#" {name}="{v}""#))
        .unwrap_or_default()
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[path = "support/xmlenc.rs"]
mod xmlenc;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------------------------

fn sp() -> SpSettings {
    SpSettings {
        entity_id: SP_ENTITY_ID.into(),
        acs_url: ACS_URL.into(),
    }
}

/// The SP's encryption key (one per test process, like the IdP's).
fn sp_key() -> &'static SpKey {
    static KEY: OnceLock<SpKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = generate_sp_key("saml-attacks-sp", unix_now()).unwrap();
        SpKey::load(
            "spk_attacks".into(),
            SpKeyUse::Encryption,
            &pair.private_pem,
            pair.certificate,
            pair.not_after_unix,
        )
        .unwrap()
    })
}

fn sp_keys() -> SpKeys {
    SpKeys::new(vec![sp_key().clone()])
}

fn idp_initiated() -> ValidationPolicy {
    ValidationPolicy {
        allow_idp_initiated: true,
        ..ValidationPolicy::default()
    }
}

/// Validates `xml` at `spec.now` with `spec.request_id` pending and the default policy.
fn validate(spec: &Spec, xml: &str) -> Result<VerifiedAssertion, SamlError> {
    validate_policy(spec, xml, &ValidationPolicy::default())
}

fn validate_policy(
    spec: &Spec,
    xml: &str,
    policy: &ValidationPolicy,
) -> Result<VerifiedAssertion, SamlError> {
    validate_response_at(
        &b64(xml),
        &idp_metadata(&[idp_key()]),
        &sp(),
        &sp_keys(),
        std::slice::from_ref(&spec.request_id),
        policy,
        spec.now,
    )
}

/// The refusal reason; panics (with the evil identity, if any) when the response is accepted.
fn refused(result: Result<VerifiedAssertion, SamlError>) -> &'static str {
    match result {
        Ok(verified) => panic!("accepted, identity {:?}", verified.name_id),
        Err(error) => error.reason(),
    }
}

fn reason_of(spec: &Spec) -> &'static str {
    refused(validate(spec, &spec.signed()))
}

/// The `<saml:Assertion …>…</saml:Assertion>` element of a (signed) response.
fn assertion_of(xml: &str) -> String {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.rfind("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    xml[start..end].to_owned()
}

/// `xml` without its first `ds:Signature` element.
fn without_signature(xml: &str) -> String {
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    format!("{}{}", &xml[..start], &xml[end..])
}

/// The evil twin: another identity and, when `new_id` is given, another ID.
fn evil(xml: &str, id: &str, new_id: Option<&str>) -> String {
    let twin = xml.replace(NAME_ID, EVIL_NAME_ID);
    match new_id {
        Some(new_id) => twin.replacen(&format!("ID=\"{id}\""), &format!("ID=\"{new_id}\""), 1),
        None => twin,
    }
}

/// The response element without the XML declaration libxml2 adds when serializing.
fn root_element(xml: &str) -> String {
    xml[xml.find("<samlp:Response").unwrap()..]
        .trim_end()
        .to_owned()
}

/// Asserts an XSW variant is refused because of the duplicated assertion, never accepted.
fn assert_xsw_refused(spec: &Spec, attack: &str) {
    assert!(attack.contains(EVIL_NAME_ID));
    assert_eq!(refused(validate(spec, attack)), "multiple_assertions");
}

// ---------------------------------------------------------------------------------------------
// The valid baseline
// ---------------------------------------------------------------------------------------------

#[test]
fn fresh_signed_response_validates() {
    let spec = Spec::new();
    let verified = validate(&spec, &spec.signed()).unwrap();
    assert_eq!(verified.assertion_id, spec.assertion_id);
    assert_eq!(verified.issuer, IDP_ENTITY_ID);
    assert_eq!(verified.name_id, NAME_ID);
    assert_eq!(verified.name_id_format.as_deref(), Some(PERSISTENT));
    assert_eq!(
        verified.in_response_to.as_deref(),
        Some(spec.request_id.as_str())
    );
    assert_eq!(verified.session_not_on_or_after_unix, spec.now + 300 + SKEW);
    assert_eq!(verified.attributes["groups"], vec!["engineering", "staff"]);
    let claims = claims_from_assertion(&verified).unwrap();
    assert_eq!(claims.subject, NAME_ID);
    assert_eq!(claims.email.as_deref(), Some("ada@victim.example.com"));
    // The system-clock entry point accepts it too.
    let system = validate_response(
        &b64(spec.signed()),
        &idp_metadata(&[idp_key()]),
        &sp(),
        &sp_keys(),
        std::slice::from_ref(&spec.request_id),
        &ValidationPolicy::default(),
    );
    assert_eq!(system.unwrap().assertion_id, spec.assertion_id);
}

#[test]
fn signed_response_only_and_both_signed_validate() {
    let response_only = Spec {
        sign_assertion: false,
        sign_response: true,
        ..Spec::new()
    };
    assert_eq!(
        validate(&response_only, &response_only.signed())
            .unwrap()
            .name_id,
        NAME_ID
    );
    let both = Spec {
        sign_response: true,
        ..Spec::new()
    };
    let xml = both.signed();
    assert_eq!(xml.matches("<ds:Signature xmlns").count(), 2);
    assert_eq!(validate(&both, &xml).unwrap().name_id, NAME_ID);
}

#[test]
fn ecdsa_signature_validates() {
    let spec = Spec {
        signature_method: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256".into(),
        ..Spec::new()
    };
    let xml = spec.signed_with(ec_key());
    let idp = idp_metadata(&[ec_key()]);
    let verified = validate_response_at(
        &b64(&xml),
        &idp,
        &sp(),
        &sp_keys(),
        std::slice::from_ref(&spec.request_id),
        &ValidationPolicy::default(),
        spec.now,
    );
    assert_eq!(verified.unwrap().name_id, NAME_ID);
}

#[test]
fn any_certificate_of_a_rollover_set_verifies() {
    let spec = Spec::new();
    let idp = idp_metadata(&[attacker_key(), idp_key()]);
    let verified = validate_response_at(
        &b64(spec.signed()),
        &idp,
        &sp(),
        &sp_keys(),
        std::slice::from_ref(&spec.request_id),
        &ValidationPolicy::default(),
        spec.now,
    );
    assert_eq!(verified.unwrap().name_id, NAME_ID);
}

// ---------------------------------------------------------------------------------------------
// Signatures: S01–S03, S16, S17, S19
// ---------------------------------------------------------------------------------------------

#[test]
fn s01_signature_stripped() {
    // Refused as unsigned, before xmlsec: the admin learns the IdP does not sign.
    let spec = Spec::new();
    assert_eq!(
        refused(validate(&spec, &without_signature(&spec.signed()))),
        "signature_missing"
    );
    let unsigned = Spec {
        sign_assertion: false,
        ..Spec::new()
    };
    assert_eq!(reason_of(&unsigned), "signature_missing");
}

#[test]
fn s01_signature_over_another_element_only() {
    // The only signature covers the Status (given an ID), not the assertion.
    let mut spec = Spec {
        sign_assertion: false,
        ..Spec::new()
    };
    spec.status = spec
        .status
        .replace("<samlp:Status>", r#"<samlp:Status ID="_status">"#);
    let template = spec.signature_template("_status", idp_key());
    let xml = spec.response_xml(idp_key(), false).replacen(
        "</saml:Issuer>",
        &format!("</saml:Issuer>{template}"),
        1,
    );
    let signed = sign(&xml, idp_key());
    // A signature names the element that holds it (S38), so the pre-scan refuses it.
    let error = validate(&spec, &signed).unwrap_err();
    assert_eq!(error.reason(), "signature_reference_mismatch");
    assert_eq!(
        error.detail(),
        serde_json::json!({
            "reason": "signature_reference_mismatch",
            "want": format!("#{}", spec.response_id),
            "got": "#_status",
        })
    );
}

#[test]
fn s02_no_signing_certificate() {
    let spec = Spec::new();
    let without_certs = IdpMetadata {
        signing_certificates: Vec::new(),
        ..idp_metadata(&[idp_key()])
    };
    let result = validate_response_at(
        &b64(spec.signed()),
        &without_certs,
        &sp(),
        &sp_keys(),
        std::slice::from_ref(&spec.request_id),
        &ValidationPolicy::default(),
        spec.now,
    );
    let error = result.unwrap_err();
    assert_eq!(error.reason(), "no_signing_certificate");
    assert_eq!(error.failure(), LoginFailure::ConnectionMisconfigured);
}

#[test]
fn s03_name_id_edited_after_signing() {
    let spec = Spec::new();
    let tampered = spec.signed().replace(NAME_ID, EVIL_NAME_ID);
    assert_eq!(refused(validate(&spec, &tampered)), "signature_invalid");
    let both = Spec {
        sign_response: true,
        ..Spec::new()
    };
    assert_eq!(
        refused(validate(
            &both,
            &both.signed().replace(NAME_ID, EVIL_NAME_ID)
        )),
        "signature_invalid"
    );
}

#[test]
fn s16_attacker_key_with_its_certificate_in_key_info() {
    let spec = Spec::new();
    assert_eq!(
        refused(validate(&spec, &spec.signed_with(attacker_key()))),
        "signature_invalid"
    );
}

#[test]
fn s17_attacker_certificate_copying_the_real_dn() {
    let spec = Spec::new();
    assert_eq!(
        refused(validate(&spec, &spec.signed_with(same_dn_attacker_key()))),
        "signature_invalid"
    );
}

#[test]
fn s19_sha1_signature_or_digest() {
    let rsa_sha1 = Spec {
        signature_method: "http://www.w3.org/2000/09/xmldsig#rsa-sha1".into(),
        digest_method: "http://www.w3.org/2000/09/xmldsig#sha1".into(),
        ..Spec::new()
    };
    assert_eq!(reason_of(&rsa_sha1), "algorithm_forbidden");
    let sha1_digest = Spec {
        digest_method: "http://www.w3.org/2000/09/xmldsig#sha1".into(),
        ..Spec::new()
    };
    assert_eq!(reason_of(&sha1_digest), "algorithm_forbidden");
}

// ---------------------------------------------------------------------------------------------
// Signature wrapping: S04–S13
// ---------------------------------------------------------------------------------------------

/// A response whose only signature is on the Response (XSW1–2 target those).
fn response_signed() -> (Spec, String) {
    let spec = Spec {
        sign_assertion: false,
        sign_response: true,
        ..Spec::new()
    };
    let xml = root_element(&spec.signed());
    (spec, xml)
}

#[test]
fn s04_xsw1_original_response_inside_the_signature() {
    let (spec, xml) = response_signed();
    let clone = without_signature(&xml);
    let outer = evil(&xml, &spec.response_id, Some("_evil_response"));
    let attack = outer.replacen("</ds:Signature>", &format!("{clone}</ds:Signature>"), 1);
    assert_xsw_refused(&spec, &attack);
}

#[test]
fn s05_xsw2_original_response_before_the_signature() {
    let (spec, xml) = response_signed();
    let clone = without_signature(&xml);
    let outer = evil(&xml, &spec.response_id, Some("_evil_response"));
    let attack = outer.replacen("<ds:Signature", &format!("{clone}<ds:Signature"), 1);
    assert_xsw_refused(&spec, &attack);
}

#[test]
fn s06_xsw3_evil_assertion_before_the_signed_one() {
    let spec = Spec::new();
    let xml = spec.signed();
    let original = assertion_of(&xml);
    let evil_twin = evil(
        &without_signature(&original),
        &spec.assertion_id,
        Some("_evil"),
    );
    assert_xsw_refused(
        &spec,
        &xml.replace(&original, &format!("{evil_twin}{original}")),
    );
}

#[test]
fn s07_xsw4_signed_assertion_inside_the_evil_one() {
    let spec = Spec::new();
    let xml = spec.signed();
    let original = assertion_of(&xml);
    let evil_twin = evil(
        &without_signature(&original),
        &spec.assertion_id,
        Some("_evil"),
    );
    let wrapper = evil_twin.replace("</saml:Assertion>", &format!("{original}</saml:Assertion>"));
    assert_xsw_refused(&spec, &xml.replace(&original, &wrapper));
}

#[test]
fn s08_xsw5_evil_in_place_with_the_signature_original_appended() {
    let spec = Spec::new();
    let xml = spec.signed();
    let original = assertion_of(&xml);
    let in_place = evil(&original, &spec.assertion_id, Some("_evil"));
    let copy = without_signature(&original);
    assert_xsw_refused(&spec, &xml.replace(&original, &format!("{in_place}{copy}")));
}

#[test]
fn s09_xsw6_original_inside_the_evil_assertions_signature() {
    let spec = Spec::new();
    let xml = spec.signed();
    let original = assertion_of(&xml);
    let copy = without_signature(&original);
    let in_place = evil(&original, &spec.assertion_id, Some("_evil")).replacen(
        "</ds:Signature>",
        &format!("{copy}</ds:Signature>"),
        1,
    );
    assert_xsw_refused(&spec, &xml.replace(&original, &in_place));
}

#[test]
fn s10_xsw7_evil_assertion_in_extensions() {
    let spec = Spec::new();
    let xml = spec.signed();
    let evil_twin = evil(
        &without_signature(&assertion_of(&xml)),
        &spec.assertion_id,
        None,
    );
    let attack = xml.replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{evil_twin}</samlp:Extensions><samlp:Status>"),
        1,
    );
    assert_xsw_refused(&spec, &attack);
}

#[test]
fn s11_xsw8_original_in_a_signature_object() {
    let spec = Spec::new();
    let xml = spec.signed();
    let original = assertion_of(&xml);
    let copy = without_signature(&original);
    let in_place = evil(&original, &spec.assertion_id, None).replacen(
        "</ds:Signature>",
        &format!("<ds:Object>{copy}</ds:Object></ds:Signature>"),
        1,
    );
    assert_xsw_refused(&spec, &xml.replace(&original, &in_place));
}

#[test]
fn s12_xsw10_ids_through_doctype_entities() {
    // CVE-2025-23369 shape: the assertion signature moved under the Response with the signed
    // assertion in a ds:Object, the evil assertion's ID spelled through a DTD entity.
    let spec = Spec::new();
    let xml = root_element(&spec.signed());
    let original = assertion_of(&xml);
    let signature = &original
        [original.find("<ds:Signature").unwrap()..original.find("</ds:Signature>").unwrap()];
    let moved = format!(
        "{signature}<ds:Object>{}</ds:Object></ds:Signature>",
        without_signature(&original)
    );
    let evil_twin = evil(
        &without_signature(&original),
        &spec.assertion_id,
        Some("&id;"),
    );
    let body = xml.replace(&original, &evil_twin).replacen(
        "</saml:Issuer>",
        &format!("</saml:Issuer>{moved}"),
        1,
    );
    let attack = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE samlp:Response [<!ENTITY id \"{}\">]>{body}",
        spec.assertion_id
    );
    assert_eq!(refused(validate(&spec, &attack)), "doctype_forbidden");
}

#[test]
fn s13_unsigned_assertion_appended_after_the_signed_one() {
    let spec = Spec::new();
    let xml = spec.signed();
    let evil_twin = evil(
        &without_signature(&assertion_of(&xml)),
        &spec.assertion_id,
        Some("_evil"),
    );
    assert_xsw_refused(
        &spec,
        &xml.replace(
            "</samlp:Response>",
            &format!("{evil_twin}</samlp:Response>"),
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Parser differentials and DTDs: S14, S15, S28, S29
// ---------------------------------------------------------------------------------------------

#[test]
fn s14_doctype_with_comment_and_cdata_round_trip() {
    let spec = Spec::new();
    let body = root_element(&spec.signed());
    let attacks = [
        format!("<!DOCTYPE samlp:Response [<!-- x --><!ATTLIST saml:Assertion ID ID #IMPLIED>]>{body}"),
        format!("<!DOCTYPE samlp:Response [<!ENTITY c \"<![CDATA[x]]>\">]>{body}"),
        format!("<!DOCTYPE samlp:Response [<!ATTLIST samlp:Response xmlns:saml CDATA \"urn:evil\">]>{body}"),
    ];
    for attack in attacks {
        assert_eq!(
            refused(validate(&spec, &attack)),
            "doctype_forbidden",
            "{attack:.120}"
        );
    }
}

/// S15: the identity is the full text or the response is refused; never the prefix.
#[test]
fn s15_processing_instruction_in_the_name_id_keeps_the_full_identity() {
    let spec = Spec {
        name_id: "admin@victim.example.com<?x y?>.attacker.example".into(),
        ..Spec::new()
    };
    let verified = validate(&spec, &spec.signed()).unwrap();
    assert_eq!(
        verified.name_id,
        "admin@victim.example.com.attacker.example"
    );
    assert_eq!(
        claims_from_assertion(&verified).unwrap().subject,
        "admin@victim.example.com.attacker.example"
    );
}

#[test]
fn s15_comment_or_cdata_in_signed_content_is_refused() {
    // exc-c14n drops comments and CDATA markup from the digest; samael then cannot match the
    // verified pre-digest tree to the document and refuses, whether the markup was there when
    // signing or inserted afterwards (Duo 2018).
    for name_id in [
        "admin@victim.example.com<!---->.attacker.example",
        "admin@victim.example.com<![CDATA[]]>.attacker.example",
        "admin@victim.example.com<![CDATA[.attacker.example]]>",
    ] {
        let spec = Spec {
            name_id: name_id.into(),
            ..Spec::new()
        };
        assert_eq!(reason_of(&spec), "signature_invalid", "{name_id}");
    }
    let spec = Spec {
        name_id: "admin@victim.example.com.attacker.example".into(),
        ..Spec::new()
    };
    let attack = spec.signed().replace(
        "admin@victim.example.com.attacker.example",
        "admin@victim.example.com<!---->.attacker.example",
    );
    assert_eq!(refused(validate(&spec, &attack)), "signature_invalid");
}

#[test]
fn s28_xxe_file_and_network_entities() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let spec = Spec {
        name_id: "&xxe;".into(),
        ..Spec::new()
    };
    let body = spec.response_xml(idp_key(), false);
    for system in [
        "file:///etc/passwd".to_owned(),
        format!("http://127.0.0.1:{port}/xxe"),
    ] {
        let attack = format!("<?xml version=\"1.0\"?><!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM \"{system}\">]>{body}");
        assert_eq!(refused(validate(&spec, &attack)), "doctype_forbidden");
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the parser fetched the entity"
    );
}

#[test]
fn s29_billion_laughs_is_refused_quickly() {
    let spec = Spec {
        name_id: "&lol9;".into(),
        ..Spec::new()
    };
    let mut entities = String::from("<!ENTITY lol \"lol\">");
    for level in 1..10 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        entities.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">",
            format!("&{previous};").repeat(10)
        ));
    }
    let attack = format!(
        "<!DOCTYPE samlp:Response [{entities}]>{}",
        spec.response_xml(idp_key(), false)
    );
    let started = Instant::now();
    assert_eq!(refused(validate(&spec, &attack)), "doctype_forbidden");
    assert!(started.elapsed() < Duration::from_secs(1));
}

// ---------------------------------------------------------------------------------------------
// Request binding: S21, S22
// ---------------------------------------------------------------------------------------------

#[test]
fn s21_in_response_to_unknown() {
    let spec = Spec {
        confirmation_in_response_to: Some("_not_pending".into()),
        response_in_response_to: Some("_not_pending".into()),
        ..Spec::new()
    };
    let error = validate(&spec, &spec.signed()).unwrap_err();
    assert_eq!(error.reason(), "in_response_to_unknown");
    assert_eq!(error.failure(), LoginFailure::UnknownRequest);
    // Unknown stays unknown when IdP-initiated logins are allowed.
    assert_eq!(
        refused(validate_policy(&spec, &spec.signed(), &idp_initiated())),
        "in_response_to_unknown"
    );
}

#[test]
fn s21_no_request_pending_in_this_browser() {
    let spec = Spec::new();
    let result = validate_response_at(
        &b64(spec.signed()),
        &idp_metadata(&[idp_key()]),
        &sp(),
        &sp_keys(),
        &[],
        &ValidationPolicy::default(),
        spec.now,
    );
    assert_eq!(refused(result), "in_response_to_unknown");
}

#[test]
fn s21_unsigned_envelope_in_response_to_must_agree() {
    let spec = Spec {
        response_in_response_to: Some("_other".into()),
        ..Spec::new()
    };
    assert_eq!(reason_of(&spec), "in_response_to_unknown");
}

#[test]
fn s22_unsolicited_refused_unless_allowed() {
    let spec = Spec::new().unsolicited();
    let error = validate(&spec, &spec.signed()).unwrap_err();
    assert_eq!(error.reason(), "unsolicited_response");
    assert_eq!(error.failure(), LoginFailure::UnknownRequest);
}

#[test]
fn s22_unsolicited_accepted_when_allowed() {
    let spec = Spec::new().unsolicited();
    let verified = validate_policy(&spec, &spec.signed(), &idp_initiated()).unwrap();
    assert_eq!(verified.in_response_to, None);
}

#[test]
fn s22_sp_initiated_still_works_when_idp_initiated_is_allowed() {
    let spec = Spec::new();
    let verified = validate_policy(&spec, &spec.signed(), &idp_initiated()).unwrap();
    assert_eq!(verified.in_response_to, Some(spec.request_id));
}

// ---------------------------------------------------------------------------------------------
// Addressing: S23, S24, S25
// ---------------------------------------------------------------------------------------------

#[test]
fn s23_audience_of_another_sp() {
    let mut spec = Spec::new();
    spec.conditions_mut().audience_restrictions = audience(&["https://other-sp.example.com/saml"]);
    assert_eq!(reason_of(&spec), "audience_mismatch");
}

#[test]
fn s23_prefix_extended_audience() {
    let mut spec = Spec::new();
    let extended = format!("{SP_ENTITY_ID}.evil");
    spec.conditions_mut().audience_restrictions = audience(&[&extended]);
    assert_eq!(reason_of(&spec), "audience_mismatch");
    spec.conditions_mut().audience_restrictions =
        audience(&["https://roster.example.com/sso/saml/c"]);
    assert_eq!(reason_of(&spec), "audience_mismatch");
}

#[test]
fn s23_audience_restriction_removed() {
    let mut spec = Spec::new();
    spec.conditions_mut().audience_restrictions = String::new();
    let error = validate(&spec, &spec.signed()).unwrap_err();
    assert_eq!(error.reason(), "audience_mismatch");
    assert_eq!(
        error.detail(),
        serde_json::json!({ "reason": "audience_mismatch", "want": SP_ENTITY_ID, "got": [] })
    );
}

#[test]
fn s23_every_audience_restriction_must_name_us() {
    let mut spec = Spec::new();
    spec.conditions_mut().audience_restrictions = [
        audience(&[SP_ENTITY_ID]),
        audience(&["https://other-sp.example.com/saml"]),
    ]
    .concat();
    assert_eq!(reason_of(&spec), "audience_mismatch");
    spec.conditions_mut().audience_restrictions =
        audience(&["https://other-sp.example.com/saml", SP_ENTITY_ID]);
    assert!(validate(&spec, &spec.signed()).is_ok());
}

#[test]
fn s24_recipient_of_another_acs() {
    let spec = Spec {
        recipient: "https://roster.example.com/sso/saml/c2/acs".into(),
        ..Spec::new()
    };
    let error = validate(&spec, &spec.signed()).unwrap_err();
    assert_eq!(error.reason(), "recipient_mismatch");
    assert_eq!(
        error.detail()["got"],
        "https://roster.example.com/sso/saml/c2/acs"
    );
}

#[test]
fn s24_signed_response_with_another_destination() {
    let spec = Spec {
        destination: Some("https://other.example.com/acs".into()),
        sign_response: true,
        ..Spec::new()
    };
    assert_eq!(reason_of(&spec), "destination_mismatch");
}

#[test]
fn s24_unsigned_envelope_with_another_destination() {
    let spec = Spec {
        destination: Some("https://other.example.com/acs".into()),
        ..Spec::new()
    };
    assert_eq!(reason_of(&spec), "destination_mismatch");
}

#[test]
fn s25_issuer_of_another_idp() {
    let spec = Spec {
        issuer: "https://evil-idp.example.com".into(),
        response_issuer: "https://evil-idp.example.com".into(),
        ..Spec::new()
    };
    let error = validate(&spec, &spec.signed()).unwrap_err();
    assert_eq!(error.reason(), "issuer_mismatch");
    assert_eq!(
        error.detail(),
        serde_json::json!({
            "reason": "issuer_mismatch",
            "want": IDP_ENTITY_ID,
            "got": "https://evil-idp.example.com",
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Time: S26
// ---------------------------------------------------------------------------------------------

fn with_not_before(offset: i64) -> Spec {
    let mut spec = Spec::new();
    spec.conditions_mut().not_before = Some(spec.now + offset);
    spec
}

fn with_not_on_or_after(offset: i64) -> Spec {
    let mut spec = Spec::new();
    spec.conditions_mut().not_on_or_after = Some(spec.now + offset);
    spec
}

#[test]
fn s26_not_before_beyond_the_skew() {
    let spec = with_not_before(SKEW + 1);
    let error = validate(&spec, &spec.signed()).unwrap_err();
    assert_eq!(error.reason(), "not_yet_valid");
    assert_eq!(error.detail()["field"], "Conditions/@NotBefore");
}

#[test]
fn s26_not_before_inside_the_skew_is_accepted() {
    let spec = with_not_before(SKEW);
    assert!(validate(&spec, &spec.signed()).is_ok());
}

#[test]
fn s26_not_on_or_after_beyond_the_skew() {
    let spec = with_not_on_or_after(-SKEW - 1);
    assert_eq!(reason_of(&spec), "expired");
    // NotOnOrAfter is exclusive: exactly now - skew is already expired.
    let spec = with_not_on_or_after(-SKEW);
    assert_eq!(reason_of(&spec), "expired");
}

#[test]
fn s26_not_on_or_after_inside_the_skew_is_accepted() {
    let spec = with_not_on_or_after(-SKEW + 1);
    assert!(validate(&spec, &spec.signed()).is_ok());
}

#[test]
fn s26_subject_confirmation_expired() {
    let spec = Spec {
        confirmation_not_on_or_after: Some(unix_now() - SKEW - 1),
        ..Spec::new()
    };
    let error = validate(&spec, &spec.signed()).unwrap_err();
    assert_eq!(error.reason(), "expired");
    assert_eq!(
        error.detail()["field"],
        "SubjectConfirmationData/@NotOnOrAfter"
    );
}

#[test]
fn s26_subject_confirmation_without_not_on_or_after() {
    let spec = Spec {
        confirmation_not_on_or_after: None,
        ..Spec::new()
    };
    assert_eq!(reason_of(&spec), "subject_confirmation_missing");
}

#[test]
fn s26_conditions_missing() {
    let spec = Spec {
        conditions: None,
        ..Spec::new()
    };
    assert_eq!(reason_of(&spec), "conditions_missing");
}

#[test]
fn s26_conditions_without_times() {
    let mut spec = Spec::new();
    spec.conditions_mut().not_before = None;
    assert_eq!(reason_of(&spec), "conditions_missing");
    let mut spec = Spec::new();
    spec.conditions_mut().not_on_or_after = None;
    assert_eq!(reason_of(&spec), "conditions_missing");
}

#[test]
fn s26_issued_too_long_ago_or_in_the_future() {
    let policy = ValidationPolicy::default();
    let old = Spec {
        issue_instant: unix_now() - policy.max_issue_delay_seconds - SKEW,
        ..Spec::new()
    };
    assert_eq!(reason_of(&old), "expired");
    let future = Spec {
        issue_instant: unix_now() + SKEW + 1,
        ..Spec::new()
    };
    assert_eq!(reason_of(&future), "not_yet_valid");
}

#[test]
fn s26_the_same_response_later_is_expired() {
    let spec = Spec::new();
    let xml = spec.signed();
    let later = Spec {
        now: spec.now + 300 + SKEW,
        ..spec.clone()
    };
    assert_eq!(refused(validate(&later, &xml)), "expired");
}

// ---------------------------------------------------------------------------------------------
// IdP errors, sizes and encodings: S27, S30, S31
// ---------------------------------------------------------------------------------------------

fn error_response(code: &str, sub_code: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_e" Version="2.0" IssueInstant="{}" Destination="{ACS_URL}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>{}</samlp:Response>"#,
        rfc3339(unix_now()),
        status(code, Some(sub_code)).replace(
            "</samlp:Status>",
            "<samlp:StatusMessage>User cancelled</samlp:StatusMessage></samlp:Status>"
        ),
    )
}

#[test]
fn s27_responder_authn_failed_is_an_idp_error() {
    let spec = Spec::new();
    let xml = error_response(
        "urn:oasis:names:tc:SAML:2.0:status:Responder",
        "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed",
    );
    let error = validate(&spec, &xml).unwrap_err();
    assert_eq!(error.reason(), "status_not_success");
    assert_eq!(error.failure(), LoginFailure::IdpError);
    assert_eq!(
        error.detail(),
        serde_json::json!({
            "reason": "status_not_success",
            "want": "urn:oasis:names:tc:SAML:2.0:status:Success",
            "got": "urn:oasis:names:tc:SAML:2.0:status:Responder",
            "sub_status": "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed",
            "message": "User cancelled",
        })
    );
}

#[test]
fn s27_no_passive_is_an_idp_error() {
    let spec = Spec::new();
    let xml = error_response(
        "urn:oasis:names:tc:SAML:2.0:status:Responder",
        "urn:oasis:names:tc:SAML:2.0:status:NoPassive",
    );
    assert_eq!(refused(validate(&spec, &xml)), "status_not_success");
    // A non-success status wins over everything else, even in a signed response.
    let requester = Spec {
        status: status("urn:oasis:names:tc:SAML:2.0:status:Requester", None),
        ..Spec::new()
    };
    assert_eq!(reason_of(&requester), "status_not_success");
}

#[test]
fn s30_ten_megabytes_is_refused_before_decoding() {
    let spec = Spec::new();
    let huge = "A".repeat(10 * 1024 * 1024);
    let started = Instant::now();
    let result = validate_response_at(
        &huge,
        &idp_metadata(&[idp_key()]),
        &sp(),
        &sp_keys(),
        &[],
        &ValidationPolicy::default(),
        spec.now,
    );
    assert_eq!(refused(result), "too_large");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn s30_just_over_256_kib_decoded_is_refused() {
    let spec = Spec {
        attributes: attribute(
            "padding",
            &[&"x".repeat(roster_sso::saml::MAX_RESPONSE_BYTES)],
        ),
        ..Spec::new()
    };
    assert_eq!(reason_of(&spec), "too_large");
}

#[test]
fn s31_base64_wrapped_with_crlf_is_accepted() {
    let spec = Spec::new();
    let wrapped: String = b64(spec.signed())
        .as_bytes()
        .chunks(76)
        .map(|line| format!("{}\r\n", std::str::from_utf8(line).unwrap()))
        .collect();
    let result = validate_response_at(
        &wrapped,
        &idp_metadata(&[idp_key()]),
        &sp(),
        &sp_keys(),
        std::slice::from_ref(&spec.request_id),
        &ValidationPolicy::default(),
        spec.now,
    );
    assert_eq!(result.unwrap().name_id, NAME_ID);
}

// ---------------------------------------------------------------------------------------------
// Subjects and encryption: S32, S36
// ---------------------------------------------------------------------------------------------

/// The response with its (signed, if `sign_assertion`) assertion encrypted to `certificate`
/// as `how` says, then the Response signed around it if `sign_response`: what an IdP set to
/// encrypt sends.
fn encrypted(spec: &Spec, certificate: &str, how: xmlenc::Encryption<'_>) -> String {
    let plain = Spec {
        sign_response: false,
        ..spec.clone()
    };
    let xml = root_element(&plain.signed());
    let assertion = assertion_of(&xml);
    // An IdP serializes the assertion on its own, with the namespace it uses.
    let plaintext = assertion.replacen(
        "<saml:Assertion ",
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" "#,
        1,
    );
    let mut xml = xml.replace(
        &assertion,
        &xmlenc::encrypt(plaintext.as_bytes(), certificate, how),
    );
    if spec.sign_response {
        let key = idp_key();
        let template = spec.signature_template(&spec.response_id, key);
        xml = xml.replacen("</saml:Issuer>", &format!("</saml:Issuer>{template}"), 1);
        xml = sign(&xml, key);
    }
    xml
}

fn with_encryption(policy: AssertionEncryption) -> ValidationPolicy {
    ValidationPolicy {
        assertion_encryption: policy,
        ..ValidationPolicy::default()
    }
}

#[test]
fn s32_encrypted_assertions_are_decrypted_then_validated_like_plain_ones() {
    for (sign_assertion, sign_response) in [(true, false), (false, true), (true, true)] {
        let spec = Spec {
            sign_assertion,
            sign_response,
            ..Spec::new()
        };
        for how in [
            xmlenc::SSP_DEFAULT,
            xmlenc::Encryption {
                data: xmlenc::AES256_GCM,
                transport: xmlenc::RSA_OAEP_11,
                digest: Some(SHA256),
                mgf: Some("http://www.w3.org/2009/xmlenc11#mgf1sha256"),
            },
        ] {
            let xml = encrypted(&spec, &sp_key().certificate, how);
            let verified = validate(&spec, &xml).unwrap_or_else(|err| {
                panic!(
                    "assertion signed {sign_assertion}, response {sign_response}, {how:?}: {err}"
                )
            });
            assert_eq!(verified.name_id, NAME_ID);
            assert_eq!(verified.assertion_id, spec.assertion_id);
            assert_eq!(verified.attributes["groups"], vec!["engineering", "staff"]);
            let required =
                validate_policy(&spec, &xml, &with_encryption(AssertionEncryption::Required));
            assert_eq!(required.unwrap().name_id, NAME_ID);
        }
    }
}

#[test]
fn s32_an_encrypted_assertion_needs_a_signature_inside_or_around_it() {
    let spec = Spec {
        sign_assertion: false,
        sign_response: false,
        ..Spec::new()
    };
    let xml = encrypted(&spec, &sp_key().certificate, xmlenc::SSP_DEFAULT);
    assert_eq!(refused(validate(&spec, &xml)), "signature_missing");
}

#[test]
fn s32_a_connection_that_requires_encryption_refuses_plain_assertions() {
    let spec = Spec::new();
    let plain = validate_policy(
        &spec,
        &spec.signed(),
        &with_encryption(AssertionEncryption::Required),
    );
    assert_eq!(refused(plain), "encryption_required");
}

#[test]
fn s32_an_assertion_encrypted_for_another_sp_is_refused_as_any_decryption_failure() {
    let spec = Spec::new();
    let other = generate_sp_key("another-sp", spec.now).unwrap();
    let xml = encrypted(&spec, &other.certificate, xmlenc::SSP_DEFAULT);
    let error = validate(&spec, &xml).unwrap_err();
    assert_eq!(error, SamlError::DecryptionFailed);
    assert_eq!(error.failure(), LoginFailure::InvalidResponse);
}

#[test]
fn s32_rsa_pkcs1_v1_5_key_transport_is_refused() {
    let spec = Spec::new();
    let how = xmlenc::Encryption {
        transport: xmlenc::RSA_1_5,
        ..xmlenc::SSP_DEFAULT
    };
    let xml = encrypted(&spec, &sp_key().certificate, how);
    assert_eq!(
        validate(&spec, &xml).unwrap_err(),
        SamlError::EncryptionAlgorithmForbidden {
            element: "EncryptedKey".into(),
            algorithm: xmlenc::RSA_1_5.into(),
        }
    );
}

/// Anyone can encrypt to the SP's public certificate: what is inside an `EncryptedAssertion`
/// is attacker-chosen unless a signature covers it. Each wrapping is refused.
#[test]
fn s32_wrapped_encrypted_assertions_are_refused() {
    let spec = Spec::new();
    let certificate = &sp_key().certificate;
    let genuine = root_element(&spec.signed());
    let signed_assertion = assertion_of(&genuine);
    let evil_assertion = Spec {
        sign_assertion: false,
        ..Spec::new()
    }
    .assertion_xml(idp_key(), false)
    .replace(NAME_ID, EVIL_NAME_ID);
    let encrypt =
        |plaintext: &str| xmlenc::encrypt(plaintext.as_bytes(), certificate, xmlenc::SSP_DEFAULT);

    // The signed assertion beside an encrypted evil one, and the other way round.
    let beside = genuine.replace(
        &signed_assertion,
        &format!("{signed_assertion}{}", encrypt(&evil_assertion)),
    );
    assert_eq!(refused(validate(&spec, &beside)), "multiple_assertions");
    let in_extensions = genuine.replace(
        "<samlp:Status>",
        &format!(
            "<samlp:Extensions>{}</samlp:Extensions><samlp:Status>",
            encrypt(&evil_assertion)
        ),
    );
    assert_eq!(
        refused(validate(&spec, &in_extensions)),
        "multiple_assertions"
    );

    // A ciphertext that holds the signed assertion and an evil one.
    let two_inside = genuine.replace(
        &signed_assertion,
        &encrypt(&format!("{evil_assertion}{signed_assertion}")),
    );
    assert_eq!(refused(validate(&spec, &two_inside)), "multiple_assertions");
    // The signed assertion wrapped inside an evil one's Advice.
    let advice = evil_assertion.replacen(
        "<saml:Subject>",
        &format!("<saml:Advice>{signed_assertion}</saml:Advice><saml:Subject>"),
        1,
    );
    let wrapped = genuine.replace(&signed_assertion, &encrypt(&advice));
    assert_eq!(refused(validate(&spec, &wrapped)), "multiple_assertions");

    // An evil assertion encrypted by the attacker: unsigned, it is refused; under the IdP's
    // Response signature (which covered the genuine ciphertext), the digest breaks.
    let evil_only = genuine.replace(&signed_assertion, &encrypt(&evil_assertion));
    assert_eq!(refused(validate(&spec, &evil_only)), "signature_missing");
    let response_signed = Spec {
        sign_assertion: false,
        sign_response: true,
        ..spec.clone()
    };
    let genuine_encrypted = encrypted(&response_signed, certificate, xmlenc::SSP_DEFAULT);
    let start = genuine_encrypted.find("<saml:EncryptedAssertion>").unwrap();
    let end = genuine_encrypted
        .find("</saml:EncryptedAssertion>")
        .unwrap()
        + "</saml:EncryptedAssertion>".len();
    let swapped = format!(
        "{}{}{}",
        &genuine_encrypted[..start],
        encrypt(&evil_assertion),
        &genuine_encrypted[end..]
    );
    assert_eq!(
        refused(validate(&response_signed, &swapped)),
        "signature_invalid"
    );
    // The evil assertion carrying the genuine one's signature.
    let signature_start = signed_assertion.find("<ds:Signature").unwrap();
    let signature_end = signed_assertion.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let stolen = &signed_assertion[signature_start..signature_end];
    let evil_with_signature =
        evil_assertion.replacen("</saml:Issuer>", &format!("</saml:Issuer>{stolen}"), 1);
    let forged = genuine.replace(&signed_assertion, &encrypt(&evil_with_signature));
    // Its reference names the genuine assertion's ID, not the evil one's.
    assert_eq!(
        refused(validate(&spec, &forged)),
        "signature_reference_mismatch"
    );
}

#[test]
fn s36_transient_name_id_needs_a_uid_attribute() {
    let transient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
    let spec = Spec {
        name_id: "_8f2a9c".into(),
        name_id_format: transient.into(),
        ..Spec::new()
    };
    let verified = validate(&spec, &spec.signed()).unwrap();
    let error = claims_from_assertion(&verified).unwrap_err();
    assert_eq!(error.reason(), "subject_missing");
    assert_eq!(error.failure(), LoginFailure::MissingClaims);

    let with_uid = Spec {
        attributes: attribute("uid", &["ada"]),
        ..spec
    };
    let verified = validate(&with_uid, &with_uid.signed()).unwrap();
    assert_eq!(claims_from_assertion(&verified).unwrap().subject, "ada");
}

// ---------------------------------------------------------------------------------------------
// Resource exhaustion: S38 (issue #22)
// ---------------------------------------------------------------------------------------------

/// `xml` (a template or a signed response) with its one `ds:Reference` repeated
/// `n_references` times, each with enveloped-signature and then `n_transforms - 1` exclusive
/// canonicalizations.
fn with_references(xml: &str, n_references: usize, n_transforms: usize) -> String {
    let start = xml.find("<ds:Reference ").unwrap();
    let end = xml.find("</ds:Reference>").unwrap() + "</ds:Reference>".len();
    let reference = &xml[start..end];
    let transforms_start = reference.find("<ds:Transforms>").unwrap();
    let transforms_end = reference.find("</ds:Transforms>").unwrap() + "</ds:Transforms>".len();
    let transforms = format!(
        "<ds:Transforms>{}{}</ds:Transforms>",
        transform(ENVELOPED_SIGNATURE),
        transform(EXC_C14N).repeat(n_transforms - 1)
    );
    let reference = format!(
        "{}{transforms}{}",
        &reference[..transforms_start],
        &reference[transforms_end..]
    );
    format!(
        "{}{}{}",
        &xml[..start],
        reference.repeat(n_references),
        &xml[end..]
    )
}

/// The issue #22 response: the assertion (padded to fill the 256 KiB) signed with `key`, then
/// its reference repeated with many transforms. Every digest stays right, because a canonical
/// form canonicalised again is the same bytes (`s38_the_crafted_digests_are_right`): xmlsec
/// would digest every reference through every transform, each time re-parsing the assertion,
/// before it found the signature invalid.
fn exhausting(spec: &Spec, key: &Key, n_references: usize, n_transforms: usize) -> String {
    with_references(&spec.signed_with(key), n_references, n_transforms)
}

fn padded() -> Spec {
    Spec {
        attributes: attribute("padding", &[&"x".repeat(110_000)]),
        ..Spec::new()
    }
}

/// The refusal of `xml` and how long validation took (keys, metadata and base64 made before).
fn timed_refusal(spec: &Spec, xml: &str) -> (SamlError, Duration) {
    let (encoded, idp) = (b64(xml), idp_metadata(&[idp_key()]));
    let started = Instant::now();
    let result = validate_response_at(
        &encoded,
        &idp,
        &sp(),
        &sp_keys(),
        std::slice::from_ref(&spec.request_id),
        &ValidationPolicy::default(),
        spec.now,
    );
    (result.unwrap_err(), started.elapsed())
}

fn digest_values(xml: &str) -> Vec<&str> {
    xml.split("<ds:DigestValue>")
        .skip(1)
        .map(|rest| &rest[..rest.find("</ds:DigestValue>").unwrap()])
        .collect()
}

#[test]
fn s38_the_crafted_digests_are_right() {
    // xmlsec signing the expanded template computes the digests the expansion copied.
    let spec = Spec::new();
    let by_xmlsec = sign(
        &with_references(&spec.response_xml(idp_key(), true), 5, 4),
        idp_key(),
    );
    let crafted = exhausting(&spec, attacker_key(), 5, 4);
    let want = digest_values(&by_xmlsec);
    assert_eq!(want.len(), 5);
    assert!(!want[0].is_empty());
    assert_eq!(digest_values(&crafted), want);
}

#[test]
fn s38_hundreds_of_transforms_are_refused_before_any_crypto() {
    let spec = padded();
    let attack = exhausting(&spec, attacker_key(), 5, 380);
    assert!(
        attack.len() <= roster_sso::saml::MAX_RESPONSE_BYTES,
        "{}",
        attack.len()
    );
    assert!(attack.len() > 200 * 1024, "{}", attack.len());
    let (error, elapsed) = timed_refusal(&spec, &attack);
    assert_eq!(error.reason(), "signature_too_many_transforms");
    assert_eq!(error.failure(), LoginFailure::InvalidResponse);
    assert_eq!(
        error.detail(),
        serde_json::json!({ "reason": "signature_too_many_transforms", "want": 2, "got": 380 })
    );
    // xmlsec would take seconds (issue #22); the pre-scan is one pass over 250 KB.
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
}

#[test]
fn s38_a_signature_hidden_by_its_namespace_spelling_is_refused() {
    // libxml2 expands `&#x23;` and verifies this ds:Signature; a pre-scan comparing namespace
    // names as written would not have seen it.
    let spec = padded();
    let attack = exhausting(&spec, attacker_key(), 5, 380).replacen(
        r#"xmlns:ds="http://www.w3.org/2000/09/xmldsig#""#,
        r#"xmlns:ds="http://www.w3.org/2000/09/xmldsig&#x23;""#,
        1,
    );
    assert!(attack.contains("xmldsig&#x23;"));
    let (error, elapsed) = timed_refusal(&spec, &attack);
    assert_eq!(error.reason(), "malformed");
    assert_eq!(
        error.detail()["error"],
        "a namespace name is written with a reference"
    );
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
}

#[test]
fn s38_a_signature_hidden_by_another_encoding_is_refused() {
    // Declared UTF-7, the response reads the same to libxml2 once `+` is written `+-`, and
    // `+ADw-` is a `<` to libxml2 only: the exhausting signature, hidden from a UTF-8 reader.
    let spec = padded();
    let attack = exhausting(&spec, attacker_key(), 5, 380);
    let body = &attack[attack.find("<samlp:Response").unwrap()..];
    let signature_start = body.find("<ds:Signature").unwrap();
    let signature_end = body.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let hidden = body[signature_start..signature_end]
        .replace('+', "+-")
        .replace('<', "+ADw-");
    let attack = format!(
        r#"<?xml version="1.0" encoding="UTF-7"?>{}{hidden}{}"#,
        body[..signature_start].replace('+', "+-"),
        body[signature_end..].replace('+', "+-"),
    );
    let (error, elapsed) = timed_refusal(&spec, &attack);
    assert_eq!(error.reason(), "malformed");
    assert_eq!(
        error.detail()["error"],
        "the declared encoding UTF-7 is not UTF-8"
    );
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");

    // libxml2 does read UTF-7: an ordinary response so rewritten still verifies in xmlsec.
    let xml = Spec::new().signed();
    let body = &xml[xml.find("<samlp:Response").unwrap()..];
    let utf7 = format!(
        r#"<?xml version="1.0" encoding="UTF-7"?>{}"#,
        body.replace('+', "+-")
    );
    let certificate = base64::engine::general_purpose::STANDARD
        .decode(&idp_key().certificate_b64)
        .unwrap();
    Crypto::verify_signed_xml(&utf7, &certificate.into(), Some("ID")).unwrap();
}

#[test]
fn s38_more_than_one_reference_is_refused() {
    let spec = Spec::new();
    let attack = exhausting(&spec, idp_key(), 5, 2);
    assert_eq!(
        refused(validate(&spec, &attack)),
        "signature_reference_count"
    );
    // Signed by the IdP's own key with right digests: refused all the same.
    let template = with_references(&spec.response_xml(idp_key(), true), 2, 2);
    assert_eq!(
        refused(validate(&spec, &sign(&template, idp_key()))),
        "signature_reference_count"
    );
}

#[test]
fn s38_a_third_transform_or_a_repeated_one_is_refused() {
    let spec = Spec::new();
    let three = exhausting(&spec, idp_key(), 1, 3);
    assert_eq!(
        refused(validate(&spec, &three)),
        "signature_too_many_transforms"
    );
    let repeated = Spec {
        transforms: [
            transform(ENVELOPED_SIGNATURE),
            transform(ENVELOPED_SIGNATURE),
        ]
        .concat(),
        ..Spec::new()
    };
    assert_eq!(reason_of(&repeated), "signature_transform_repeated");
}

#[test]
fn s38_signatures_outside_the_response_and_its_assertion_are_refused() {
    let spec = Spec::new();
    let xml = spec.signed();
    let signature_start = xml.find("<ds:Signature").unwrap();
    let signature_end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let signature = &xml[signature_start..signature_end];
    // A copy of the assertion's signature in the Subject: a third place, and a second one.
    let in_subject = xml.replacen("<saml:NameID", &format!("{signature}<saml:NameID"), 1);
    assert_eq!(refused(validate(&spec, &in_subject)), "signature_misplaced");
    let twice = xml.replacen(signature, &format!("{signature}{signature}"), 1);
    assert_eq!(refused(validate(&spec, &twice)), "signature_misplaced");
    let with_object = xml.replacen(
        "</ds:Signature>",
        "<ds:Object><ds:Manifest/></ds:Object></ds:Signature>",
        1,
    );
    assert_eq!(
        refused(validate(&spec, &with_object)),
        "signature_element_unexpected"
    );
}

#[test]
fn s38_the_shapes_idps_use_still_validate() {
    let shapes = [
        // Shibboleth and other OpenSAML IdPs name the prefixes to keep.
        format!(
            r#"{}<ds:Transform Algorithm="{EXC_C14N}"><ec:InclusiveNamespaces xmlns:ec="{EXC_C14N}" PrefixList="xs"/></ds:Transform>"#,
            transform(ENVELOPED_SIGNATURE)
        ),
        [
            transform(ENVELOPED_SIGNATURE),
            transform("http://www.w3.org/2001/10/xml-exc-c14n#WithComments"),
        ]
        .concat(),
        [
            transform(ENVELOPED_SIGNATURE),
            transform("http://www.w3.org/TR/2001/REC-xml-c14n-20010315"),
        ]
        .concat(),
        transform(ENVELOPED_SIGNATURE),
    ];
    for transforms in shapes {
        let spec = Spec {
            transforms: transforms.clone(),
            sign_response: true,
            ..Spec::new()
        };
        let verified = validate(&spec, &spec.signed());
        assert_eq!(
            verified.map(|v| v.name_id),
            Ok(NAME_ID.to_owned()),
            "{transforms}"
        );
    }
}

#[test]
fn s38_many_valid_checks_at_once_all_pass() {
    // The verification slots (one per CPU) queue checks; none is lost or refused.
    let specs: Vec<(Spec, String)> = (0..8)
        .map(|_| {
            let spec = Spec::new();
            let xml = spec.signed();
            (spec, xml)
        })
        .collect();
    std::thread::scope(|scope| {
        let checks: Vec<_> = specs
            .iter()
            .map(|(spec, xml)| scope.spawn(move || validate(spec, xml).map(|v| v.name_id)))
            .collect();
        for check in checks {
            assert_eq!(check.join().unwrap(), Ok(NAME_ID.to_owned()));
        }
    });
}

/// The fuzz target's encrypted seed decrypts with the fuzz key and is then refused for having
/// no signature: mutations of it reach the whole decryption path (key unwrap, content cipher,
/// the re-scan of the decrypted tree), not only the parser in front of it.
#[test]
fn the_fuzz_seed_reaches_the_end_of_decryption() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz");
    let read = |path: &str| std::fs::read_to_string(format!("{root}/{path}")).unwrap();
    let now = 1_714_076_000;
    let pair = roster_sso::saml::import_sp_key(
        &read("keys/sp-encryption.key"),
        &read("keys/sp-encryption.crt"),
        now,
    )
    .unwrap();
    let key = SpKey::load(
        "fuzz".into(),
        SpKeyUse::Encryption,
        &pair.private_pem,
        pair.certificate,
        pair.not_after_unix,
    )
    .unwrap();
    let metadata = read("../crates/sso/tests/fixtures/ssoready/assertions/okta/metadata.xml");
    let sp = SpSettings {
        entity_id: "http://localhost:8080".into(),
        acs_url: "http://localhost:8080/acs".into(),
    };
    let seed = read("seeds/saml_response/encrypted.xml");
    let validate = |keys: SpKeys| {
        validate_response_at(
            &b64(seed.trim_end()),
            &parse_idp_metadata(&metadata).unwrap(),
            &sp,
            &keys,
            &["_request".to_owned()],
            &ValidationPolicy::default(),
            now,
        )
        .unwrap_err()
    };
    assert_eq!(
        validate(SpKeys::new(vec![key])),
        SamlError::SignatureMissing
    );
    assert_eq!(validate(SpKeys::default()), SamlError::DecryptionFailed);
}
