//! Single Logout messages (SAML profiles §4.4): the `LogoutRequest` and `LogoutResponse` Roster
//! sends (signed, HTTP-Redirect binding) and the ones it receives from the IdP (HTTP-Redirect or
//! HTTP-POST), which must be signed by a certificate of the IdP's metadata.
//!
//! Receiving, in order:
//! 1. decode: HTTP-Redirect is base64 of raw DEFLATE (inflated to at most 64 KiB), HTTP-POST is
//!    base64; UTF-8 required;
//! 2. the signature: on HTTP-Redirect, `SigAlg` (RSA or ECDSA with SHA-256/384/512) and
//!    `Signature` over exactly the octets of `SAMLRequest`/`SAMLResponse`, `RelayState` and
//!    `SigAlg` as they came in the query (bindings §3.4.4.1); on HTTP-POST, an enveloped
//!    signature of the root element (samael/xmlsec, the pre-scan's shape rules). No signature is
//!    `signature_missing`: an unsigned logout message would let any page sign users out;
//! 3. the message: no DOCTYPE, `Issuer` the IdP's entity id, `Destination` (when present) this
//!    connection's SLO URL, `IssueInstant` within the clock skew and five minutes, `NotOnOrAfter`
//!    not passed.
//!
//! Replay (a `LogoutRequest` id seen before) and which sessions a request ends are the caller's.

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};
use samael::crypto::{decode_x509_cert, Crypto, CryptoProvider, ReduceMode};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::SamlError;
use super::escape::escape_html;
use super::keys::SpKey;
use super::metadata::{IdpMetadata, SpSettings};
use super::request::redirect_binding_url;

const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
/// A logout message inflated past this is refused (they are a few hundred bytes).
const MAX_INFLATED_BYTES: u64 = 64 * 1024;
/// How long after its `IssueInstant` a logout message is accepted (plus the skew).
const MAX_AGE_SECONDS: i64 = 300;

/// The digest of a redirect-binding signature algorithm Roster accepts (RSA or ECDSA with
/// SHA-256/384/512; SHA-1 is refused, as for responses).
fn sig_alg_digest(uri: &str) -> Option<MessageDigest> {
    match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Some(MessageDigest::sha256()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => Some(MessageDigest::sha384()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512" => Some(MessageDigest::sha512()),
        _ => None,
    }
}

/// A verified logout message from the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutMessage {
    /// The IdP ends the user's sessions (IdP-initiated, or another SP's logout).
    Request {
        id: String,
        name_id: String,
        /// The `SessionIndex`es named; none means every session of the NameID.
        session_indexes: Vec<String>,
        /// Until when the id must be kept against replay (Unix seconds).
        replay_until_unix: i64,
    },
    /// The IdP's answer to Roster's `LogoutRequest`.
    Response {
        in_response_to: Option<String>,
        /// The top-level status code.
        status: String,
    },
}

impl LogoutMessage {
    pub fn is_success(&self) -> bool {
        match self {
            LogoutMessage::Request { .. } => true,
            LogoutMessage::Response { status, .. } => status == STATUS_SUCCESS,
        }
    }
}

/// How a logout message arrived.
#[derive(Debug, Clone, Copy)]
pub enum LogoutBinding<'a> {
    /// The raw query string (percent-encoded, as received).
    Redirect(&'a str),
    /// The `SAMLRequest` or `SAMLResponse` form field.
    Post(&'a str),
}

/// What a `LogoutRequest` from Roster names: the user at the IdP and their IdP session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutSubject {
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
}

/// Where the IdP's Single Logout service is (HTTP-Redirect), from its metadata.
pub fn idp_slo_url(idp: &IdpMetadata) -> Option<&str> {
    idp.slo_redirect_url.as_deref()
}

/// The signed HTTP-Redirect URL of a `LogoutRequest` `id` for `subject` to the IdP's SLO service.
pub fn logout_request_url(
    idp: &IdpMetadata,
    sp: &SpSettings,
    id: &str,
    subject: &LogoutSubject,
    now_unix: i64,
    signed_by: &SpKey,
) -> Result<String, SamlError> {
    let destination = idp_slo_url(idp).ok_or(SamlError::SloNotOffered)?;
    let format = subject
        .name_id_format
        .as_deref()
        .map(|format| format!(r#" Format="{}""#, escape_html(format)))
        .unwrap_or_default();
    let session_index = subject
        .session_index
        .as_deref()
        .map(|index| {
            format!(
                "<samlp:SessionIndex>{}</samlp:SessionIndex>",
                escape_html(index)
            )
        })
        .unwrap_or_default();
    let xml = format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID{format}>{name_id}</saml:NameID>{session_index}</samlp:LogoutRequest>"#,
        id = escape_html(id),
        instant = rfc3339(now_unix),
        destination = escape_html(destination),
        issuer = escape_html(&sp.entity_id),
        name_id = escape_html(&subject.name_id),
    );
    redirect_binding_url(destination, "SAMLRequest", &xml, None, Some(signed_by))
}

/// The signed HTTP-Redirect URL of the `LogoutResponse` (success) to the IdP's `LogoutRequest`
/// `in_response_to`, with the `RelayState` it sent.
pub fn logout_response_url(
    idp: &IdpMetadata,
    sp: &SpSettings,
    id: &str,
    in_response_to: &str,
    relay_state: Option<&str>,
    now_unix: i64,
    signed_by: &SpKey,
) -> Result<String, SamlError> {
    let destination = idp
        .slo_response_url
        .as_deref()
        .or(idp.slo_redirect_url.as_deref())
        .ok_or(SamlError::SloNotOffered)?;
    let xml = format!(
        r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" InResponseTo="{in_response_to}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{STATUS_SUCCESS}"/></samlp:Status></samlp:LogoutResponse>"#,
        id = escape_html(id),
        instant = rfc3339(now_unix),
        destination = escape_html(destination),
        in_response_to = escape_html(in_response_to),
        issuer = escape_html(&sp.entity_id),
    );
    redirect_binding_url(
        destination,
        "SAMLResponse",
        &xml,
        relay_state,
        Some(signed_by),
    )
}

/// Verifies and reads a logout message from the IdP (see the module docs for the order).
pub fn read_logout_message(
    binding: LogoutBinding<'_>,
    idp: &IdpMetadata,
    sp: &SpSettings,
    clock_skew_seconds: i64,
    now_unix: i64,
) -> Result<LogoutMessage, SamlError> {
    if idp.signing_certificates.is_empty() {
        return Err(SamlError::NoSigningCertificate);
    }
    let xml = match binding {
        LogoutBinding::Redirect(query) => {
            let (xml, signed) = redirect_message(query, idp)?;
            if !signed {
                return Err(SamlError::SignatureMissing);
            }
            xml
        }
        LogoutBinding::Post(encoded) => {
            let xml = decode_post(encoded)?;
            let message = parse(&xml)?;
            if !message.signed {
                return Err(SamlError::SignatureMissing);
            }
            message.check_signature_shape()?;
            verified_post(&xml, idp)?;
            xml
        }
    };
    let message = parse(&xml)?;
    message.check(idp, sp, clock_skew_seconds, now_unix)
}

/// Inflates the redirect binding's message and checks its signature; answers the XML and
/// whether it was signed (a bad signature is an error; no signature is `false`).
fn redirect_message(query: &str, idp: &IdpMetadata) -> Result<(String, bool), SamlError> {
    let mut message = None;
    let mut relay_state = None;
    let mut sig_alg = None;
    let mut signature = None;
    for pair in query.split('&') {
        let (name, _) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "SAMLRequest" | "SAMLResponse" => message = Some(pair),
            "RelayState" => relay_state = Some(pair),
            "SigAlg" => sig_alg = Some(pair),
            "Signature" => signature = Some(pair),
            _ => {}
        }
    }
    let message = message.ok_or(SamlError::ResponseMissing)?;
    let value = |pair: &str| -> String {
        let raw = pair.split_once('=').map_or("", |(_, value)| value);
        url::form_urlencoded::parse(format!("v={raw}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(value(message).split_ascii_whitespace().collect::<String>())
        .map_err(|_| SamlError::Malformed("the logout message is not base64".into()))?;
    let mut xml = String::new();
    {
        use std::io::Read as _;
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .take(MAX_INFLATED_BYTES + 1)
            .read_to_string(&mut xml)
            .map_err(|_| SamlError::Malformed("the logout message does not inflate".into()))?;
    }
    if xml.len() as u64 > MAX_INFLATED_BYTES {
        return Err(SamlError::TooLarge {
            max: MAX_INFLATED_BYTES as usize,
            got: xml.len(),
        });
    }
    let (Some(sig_alg), Some(signature)) = (sig_alg, signature) else {
        return Ok((xml, false));
    };
    let algorithm = value(sig_alg);
    let digest = sig_alg_digest(&algorithm).ok_or_else(|| SamlError::AlgorithmForbidden {
        element: "SigAlg".into(),
        algorithm: algorithm.clone(),
    })?;
    let signed_octets = match relay_state {
        Some(relay_state) => format!("{message}&{relay_state}&{sig_alg}"),
        None => format!("{message}&{sig_alg}"),
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(
            value(signature)
                .split_ascii_whitespace()
                .collect::<String>(),
        )
        .map_err(|_| SamlError::SignatureInvalid)?;
    let verified = idp.signing_certificates.iter().any(|certificate| {
        verify_with(certificate, digest, signed_octets.as_bytes(), &signature).unwrap_or(false)
    });
    if verified {
        Ok((xml, true))
    } else {
        Err(SamlError::SignatureInvalid)
    }
}

fn verify_with(
    certificate: &str,
    digest: MessageDigest,
    octets: &[u8],
    signature: &[u8],
) -> Result<bool, openssl::error::ErrorStack> {
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(certificate) else {
        return Ok(false);
    };
    let public = X509::from_der(&der)?.public_key()?;
    let mut verifier = Verifier::new(digest, &public)?;
    verifier.update(octets)?;
    verifier.verify(signature)
}

fn decode_post(encoded: &str) -> Result<String, SamlError> {
    let compact: String = encoded.split_ascii_whitespace().collect();
    if compact.len() > 2 * MAX_INFLATED_BYTES as usize {
        return Err(SamlError::TooLarge {
            max: MAX_INFLATED_BYTES as usize,
            got: compact.len() / 4 * 3,
        });
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlError::Malformed("the logout message is not base64".into()))?;
    String::from_utf8(bytes)
        .map_err(|_| SamlError::Malformed("the logout message is not UTF-8".into()))
}

/// The enveloped signature of a POSTed logout message: every signature must verify with the
/// IdP's certificates, and the reduced (signed) document must still be the whole message.
fn verified_post(xml: &str, idp: &IdpMetadata) -> Result<(), SamlError> {
    crate::saml::verify::install_keys();
    let certificates = idp
        .signing_certificates
        .iter()
        .map(|certificate| decode_x509_cert(certificate))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| SamlError::InvalidMetadata("a signing certificate cannot be parsed".into()))?;
    let _slot = super::slots::VerificationSlots::global().acquire();
    let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &certificates,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(crate::saml::verify::ALLOWED_ALGORITHMS),
    )
    .map_err(|_| SamlError::SignatureInvalid)?;
    // The root itself must be what the signature covered.
    let original = parse(xml)?;
    match parse(&reduced) {
        Ok(signed) if signed.id == original.id && signed.kind == original.kind => Ok(()),
        _ => Err(SamlError::SignatureInvalid),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
}

/// A logout message as read, before its checks.
#[derive(Debug, Default)]
struct Parsed {
    kind: Option<Kind>,
    id: Option<String>,
    issue_instant: Option<String>,
    destination: Option<String>,
    not_on_or_after: Option<String>,
    in_response_to: Option<String>,
    issuer: Option<String>,
    name_id: Option<String>,
    session_indexes: Vec<String>,
    status: Option<String>,
    /// A `ds:Signature` child of the root.
    signed: bool,
    /// Signature parts anywhere: bounded before xmlsec sees the document (as the pre-scan
    /// bounds a response's, S38), so a crafted logout message cannot make it work for long.
    n_signatures: usize,
    n_references: usize,
    n_transforms: usize,
}

fn parse(xml: &str) -> Result<Parsed, SamlError> {
    let mut reader = NsReader::from_str(xml);
    let mut parsed = Parsed::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|_| SamlError::Malformed("the logout message is not well-formed".into()))?;
        let in_ns = |ns: &[u8]| matches!(namespace, ResolveResult::Bound(ref bound) if bound.as_ref() == ns);
        match event {
            Event::DocType(_) => return Err(SamlError::DoctypeForbidden),
            Event::Start(start) | Event::Empty(start) if path.is_empty() => {
                parsed.kind = match (in_ns(PROTOCOL_NS), start.local_name().as_ref()) {
                    (true, b"LogoutRequest") => Some(Kind::Request),
                    (true, b"LogoutResponse") => Some(Kind::Response),
                    _ => {
                        return Err(SamlError::Malformed(
                            "the root is not a samlp:LogoutRequest or samlp:LogoutResponse".into(),
                        ))
                    }
                };
                parsed.id = attribute(&start, "ID");
                parsed.issue_instant = attribute(&start, "IssueInstant");
                parsed.destination = attribute(&start, "Destination");
                parsed.not_on_or_after = attribute(&start, "NotOnOrAfter");
                parsed.in_response_to = attribute(&start, "InResponseTo");
                path.push(local(&start));
            }
            Event::Start(start) => {
                let name = local(&start);
                parsed.count_signature_part(&name);
                if path.len() == 1 && name == "Signature" {
                    parsed.signed = true;
                }
                if path.len() == 2 && path[1] == "Status" && name == "StatusCode" {
                    parsed.status = attribute(&start, "Value");
                }
                path.push(name);
                text.clear();
            }
            Event::Empty(start) => {
                let name = local(&start);
                parsed.count_signature_part(&name);
                if path.len() == 2 && path[1] == "Status" && name == "StatusCode" {
                    parsed.status = attribute(&start, "Value");
                }
                if path.len() == 1 && name == "Signature" {
                    parsed.signed = true;
                }
            }
            Event::Text(content) => {
                text.push_str(
                    &content
                        .xml10_content()
                        .map_err(|_| SamlError::Malformed("bad text".into()))?,
                );
            }
            Event::GeneralRef(_) => {
                return Err(SamlError::Malformed(
                    "entity references are not accepted in a logout message".into(),
                ))
            }
            Event::End(_) => {
                if path.len() == 2 {
                    match path[1].as_str() {
                        "Issuer" => parsed.issuer = Some(text.trim().to_owned()),
                        "NameID" => parsed.name_id = Some(text.trim().to_owned()),
                        "SessionIndex" => parsed.session_indexes.push(text.trim().to_owned()),
                        _ => {}
                    }
                }
                path.pop();
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if parsed.kind.is_none() {
        return Err(SamlError::Malformed("no logout message".into()));
    }
    Ok(parsed)
}

impl Parsed {
    fn count_signature_part(&mut self, name: &str) {
        match name {
            "Signature" => self.n_signatures += 1,
            "Reference" => self.n_references += 1,
            "Transform" => self.n_transforms += 1,
            _ => {}
        }
    }

    /// One signature, of the root, with one reference and two transforms at most.
    fn check_signature_shape(&self) -> Result<(), SamlError> {
        if self.n_signatures > 1 || (self.n_signatures == 1 && !self.signed) {
            return Err(SamlError::SignatureMisplaced {
                got: format!("{} signatures in a logout message", self.n_signatures),
            });
        }
        if self.n_references > 1 {
            return Err(SamlError::SignatureReferenceCount {
                got: self.n_references,
            });
        }
        if self.n_transforms > 2 {
            return Err(SamlError::TooManyTransforms {
                max: 2,
                got: self.n_transforms,
            });
        }
        Ok(())
    }

    fn check(
        self,
        idp: &IdpMetadata,
        sp: &SpSettings,
        skew: i64,
        now: i64,
    ) -> Result<LogoutMessage, SamlError> {
        if self.issuer.as_deref() != Some(idp.entity_id.as_str()) {
            return Err(SamlError::IssuerMismatch {
                want: idp.entity_id.clone(),
                got: self.issuer,
            });
        }
        let slo_url = sp.slo_url();
        if let Some(destination) = &self.destination {
            if *destination != slo_url {
                return Err(SamlError::DestinationMismatch {
                    want: slo_url,
                    got: Some(destination.clone()),
                });
            }
        }
        let issued = self
            .issue_instant
            .as_deref()
            .and_then(unix)
            .ok_or_else(|| SamlError::Malformed("IssueInstant is missing or invalid".into()))?;
        if issued > now + skew {
            return Err(SamlError::NotYetValid {
                field: "IssueInstant",
                limit_unix: issued,
                now_unix: now,
            });
        }
        let until = issued + MAX_AGE_SECONDS + skew;
        if now >= until {
            return Err(SamlError::Expired {
                field: "IssueInstant",
                limit_unix: until,
                now_unix: now,
            });
        }
        if let Some(not_on_or_after) = self.not_on_or_after.as_deref().and_then(unix) {
            if now >= not_on_or_after + skew {
                return Err(SamlError::Expired {
                    field: "NotOnOrAfter",
                    limit_unix: not_on_or_after + skew,
                    now_unix: now,
                });
            }
        }
        match self.kind {
            Some(Kind::Request) => Ok(LogoutMessage::Request {
                id: self
                    .id
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| SamlError::Malformed("the LogoutRequest has no ID".into()))?,
                name_id: self
                    .name_id
                    .filter(|name_id| !name_id.is_empty())
                    .ok_or(SamlError::NameIdMissing)?,
                session_indexes: self.session_indexes,
                replay_until_unix: until,
            }),
            _ => Ok(LogoutMessage::Response {
                in_response_to: self.in_response_to,
                status: self.status.unwrap_or_default(),
            }),
        }
    }
}

fn local(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

fn attribute(start: &BytesStart<'_>, name: &str) -> Option<String> {
    start
        .try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|attribute| {
            attribute
                .decoded_and_normalized_value(XmlVersion::Implicit1_0, start.decoder())
                .ok()
                .map(|value| value.into_owned())
        })
}

fn unix(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::keys::{generate_sp_key, SpKeyUse};
    use openssl::pkey::PKey;
    use openssl::sign::Signer;
    use pretty_assertions::assert_eq;

    const NOW: i64 = 1_800_000_000;
    const IDP: &str = "https://idp.example/metadata";
    const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";

    fn sp() -> SpSettings {
        SpSettings {
            entity_id: "https://roster.example/sso/saml/c1/metadata".into(),
            acs_url: "https://roster.example/sso/saml/c1/acs".into(),
        }
    }

    /// The IdP's key (as an `SpKey`, for its private half) and its metadata.
    fn idp() -> (SpKey, IdpMetadata) {
        let pair = generate_sp_key("idp", NOW).unwrap();
        let key = SpKey::load(
            "idp".into(),
            SpKeyUse::Signing,
            &pair.private_pem,
            pair.certificate.clone(),
            pair.not_after_unix,
        )
        .unwrap();
        let metadata = IdpMetadata {
            entity_id: IDP.into(),
            sso_redirect_url: Some("https://idp.example/sso".into()),
            sso_post_url: None,
            signing_certificates: vec![pair.certificate],
            want_authn_requests_signed: false,
            slo_redirect_url: Some("https://idp.example/slo".into()),
            slo_response_url: None,
        };
        (key, metadata)
    }

    fn request(issuer: &str, destination: &str, issued: i64) -> String {
        format!(
            r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_l1" Version="2.0" IssueInstant="{}" Destination="{destination}"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID>s-alice</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex><samlp:SessionIndex>_s2</samlp:SessionIndex></samlp:LogoutRequest>"#,
            rfc3339(issued)
        )
    }

    /// `xml` by HTTP-Redirect, signed by `key` with `sig_alg`.
    fn redirect(xml: &str, key: &SpKey, sig_alg: &str) -> String {
        use std::io::Write as _;
        let mut deflater =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflater.write_all(xml.as_bytes()).unwrap();
        let encode = |value: &str| {
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        };
        let mut query = format!(
            "SAMLRequest={}&RelayState=r&SigAlg={}",
            encode(&base64::engine::general_purpose::STANDARD.encode(deflater.finish().unwrap())),
            encode(sig_alg)
        );
        let pem = key.private_key().private_key_to_pem_pkcs8().unwrap();
        let private = PKey::private_key_from_pem(&pem).unwrap();
        let digest = if sig_alg == SHA1 {
            MessageDigest::sha1()
        } else {
            MessageDigest::sha256()
        };
        let mut signer = Signer::new(digest, &private).unwrap();
        signer.update(query.as_bytes()).unwrap();
        query.push_str(&format!(
            "&Signature={}",
            encode(
                &base64::engine::general_purpose::STANDARD.encode(signer.sign_to_vec().unwrap())
            )
        ));
        query
    }

    fn read(query: &str, idp: &IdpMetadata, now: i64) -> Result<LogoutMessage, SamlError> {
        read_logout_message(LogoutBinding::Redirect(query), idp, &sp(), 180, now)
    }

    #[test]
    fn a_signed_request_names_its_subject_and_sessions() {
        let (key, metadata) = idp();
        let query = redirect(&request(IDP, &sp().slo_url(), NOW), &key, RSA_SHA256_URI);
        assert_eq!(
            read(&query, &metadata, NOW).unwrap(),
            LogoutMessage::Request {
                id: "_l1".into(),
                name_id: "s-alice".into(),
                session_indexes: vec!["_s1".into(), "_s2".into()],
                replay_until_unix: NOW + 300 + 180,
            }
        );
    }

    const RSA_SHA256_URI: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

    #[test]
    fn each_check_refuses_with_its_reason() {
        let (key, metadata) = idp();
        let (stranger, _) = idp();
        let good = request(IDP, &sp().slo_url(), NOW);
        let reason = |query: String, now: i64| read(&query, &metadata, now).unwrap_err().reason();
        let cases = [
            (
                "another key",
                redirect(&good, &stranger, RSA_SHA256_URI),
                NOW,
                "signature_invalid",
            ),
            (
                "SHA-1",
                redirect(&good, &key, SHA1),
                NOW,
                "algorithm_forbidden",
            ),
            (
                "unsigned",
                redirect(&good, &key, RSA_SHA256_URI)
                    .split("&SigAlg=")
                    .next()
                    .unwrap()
                    .to_owned(),
                NOW,
                "signature_missing",
            ),
            (
                "another issuer",
                redirect(
                    &request("https://evil", &sp().slo_url(), NOW),
                    &key,
                    RSA_SHA256_URI,
                ),
                NOW,
                "issuer_mismatch",
            ),
            (
                "another destination",
                redirect(
                    &request(IDP, "https://elsewhere/slo", NOW),
                    &key,
                    RSA_SHA256_URI,
                ),
                NOW,
                "destination_mismatch",
            ),
            (
                "too old",
                redirect(&good, &key, RSA_SHA256_URI),
                NOW + 481,
                "expired",
            ),
            (
                "from the future",
                redirect(&good, &key, RSA_SHA256_URI),
                NOW - 181,
                "not_yet_valid",
            ),
            (
                "a DOCTYPE",
                redirect(&format!("<!DOCTYPE x>{good}"), &key, RSA_SHA256_URI),
                NOW,
                "doctype_forbidden",
            ),
            (
                "not a logout message",
                redirect(
                    &good.replace("LogoutRequest", "AuthnRequest"),
                    &key,
                    RSA_SHA256_URI,
                ),
                NOW,
                "malformed",
            ),
        ];
        for (name, query, now, want) in cases {
            assert_eq!(reason(query, now), want, "{name}");
        }
    }

    #[test]
    fn roster_s_own_messages_are_signed_over_the_binding_octets() {
        let (_, metadata) = idp();
        let (sp_key, _) = idp();
        let subject = LogoutSubject {
            name_id: "s-alice".into(),
            name_id_format: None,
            session_index: Some("_s1".into()),
        };
        let url = logout_request_url(&metadata, &sp(), "_r1", &subject, NOW, &sp_key).unwrap();
        assert!(
            url.starts_with("https://idp.example/slo?SAMLRequest="),
            "{url}"
        );
        // Read back as the IdP would: signed by the SP key (given as the "IdP" here).
        let as_idp = IdpMetadata {
            entity_id: sp().entity_id,
            signing_certificates: vec![sp_key.certificate.clone()],
            ..metadata.clone()
        };
        let sp_side = SpSettings {
            entity_id: "unused".into(),
            acs_url: "https://idp.example/acs".into(),
        };
        let query = url.split_once('?').unwrap().1;
        let message =
            read_logout_message(LogoutBinding::Redirect(query), &as_idp, &sp_side, 180, NOW)
                .unwrap();
        assert_eq!(
            message,
            LogoutMessage::Request {
                id: "_r1".into(),
                name_id: "s-alice".into(),
                session_indexes: vec!["_s1".into()],
                replay_until_unix: NOW + 480,
            }
        );
        let no_slo = IdpMetadata {
            slo_redirect_url: None,
            ..metadata
        };
        assert_eq!(
            logout_request_url(&no_slo, &sp(), "_r1", &subject, NOW, &sp_key).unwrap_err(),
            SamlError::SloNotOffered
        );
    }
}
