//! A stand-in SAML IdP for `cargo xtask bench`: makes a signing key with its metadata, then
//! pre-signs unique IdP-initiated Responses so the benchmark measures Roster's ACS (signature
//! check, replay cache, JIT, session), not the signing.
//!
//! ```text
//! sign_assertions metadata DIR
//!     writes DIR/key.der (RSA 2048) and DIR/metadata.xml (entity id, signing certificate)
//! sign_assertions responses DIR ACS_URL AUDIENCE COUNT USERS
//!     writes DIR/responses.txt: COUNT lines, each `SAMLResponse=<url-encoded base64>`, with a
//!     fresh Response and Assertion id each, cycling through USERS distinct subjects
//! ```
//!
//! Signing goes through the same xmlsec that verifies (`samael::crypto`), with RSA-SHA256 and
//! exclusive canonicalisation, as Okta and Entra sign.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};
use samael::crypto::{Crypto, CryptoProvider};

const IDP_ENTITY_ID: &str = "https://bench-idp.example.com/metadata";

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn make_key(dir: &Path) -> Fallible<()> {
    let rsa = Rsa::generate(2048)?;
    let key = PKey::from_rsa(rsa)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "roster-bench-idp")?;
    let name = name.build();
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    builder.set_serial_number(BigNum::from_u32(1)?.to_asn1_integer()?.as_ref())?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(&key)?;
    builder.set_not_before(Asn1Time::days_from_now(0)?.as_ref())?;
    builder.set_not_after(Asn1Time::days_from_now(2)?.as_ref())?;
    builder.sign(&key, MessageDigest::sha256())?;
    let certificate = b64(builder.build().to_der()?);
    std::fs::write(dir.join("key.der"), key.private_key_to_der()?)?;
    std::fs::write(
        dir.join("metadata.xml"),
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP_ENTITY_ID}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://bench-idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        ),
    )?;
    std::fs::write(dir.join("certificate.b64"), certificate)?;
    Ok(())
}

fn rfc3339(unix: i64) -> Fallible<String> {
    Ok(time::OffsetDateTime::from_unix_timestamp(unix)?
        .format(&time::format_description::well_known::Rfc3339)?)
}

fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 16);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(byte as char),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

fn response(
    index: u64,
    subject: u64,
    acs: &str,
    audience: &str,
    certificate: &str,
    now: i64,
) -> Fallible<String> {
    let (instant, before, after) = (rfc3339(now)?, rfc3339(now - 60)?, rfc3339(now + 3600)?);
    let user = format!("bench.sso{subject}@bench.example.com");
    Ok(format!(
        r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{index:016x}" Version="2.0" IssueInstant="{instant}" Destination="{acs}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a{index:016x}" Version="2.0" IssueInstant="{instant}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_a{index:016x}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">bench-subject-{subject}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{after}" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{after}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{instant}" SessionIndex="_s{index}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>{user}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="givenName"><saml:AttributeValue>Bench</saml:AttributeValue></saml:Attribute><saml:Attribute Name="surname"><saml:AttributeValue>User {subject}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="groups"><saml:AttributeValue>bench-staff</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"##
    ))
}

fn responses(dir: &Path, acs: &str, audience: &str, count: u64, users: u64) -> Fallible<()> {
    let key = std::fs::read(dir.join("key.der"))?;
    let certificate = std::fs::read_to_string(dir.join("certificate.b64"))?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let mut out = String::new();
    for index in 0..count {
        let xml = response(
            index,
            index % users.max(1),
            acs,
            audience,
            &certificate,
            now,
        )?;
        let signed = Crypto::sign_xml(&xml, &key)?;
        out.push_str("SAMLResponse=");
        out.push_str(&form_encode(&b64(signed)));
        out.push('\n');
    }
    std::fs::write(dir.join("responses.txt"), out)?;
    Ok(())
}

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> Fallible<&str> {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i}; see the module documentation").into())
    };
    let dir = PathBuf::from(arg(1)?);
    std::fs::create_dir_all(&dir)?;
    match arg(0)? {
        "metadata" => make_key(&dir),
        "responses" => responses(&dir, arg(2)?, arg(3)?, arg(4)?.parse()?, arg(5)?.parse()?),
        other => Err(format!("unknown command {other:?}: metadata or responses").into()),
    }
}
