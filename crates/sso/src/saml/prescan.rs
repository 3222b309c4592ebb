//! Cheap structural checks on a SAMLResponse before libxml2 and xmlsec see it.
//!
//! samael parses with libxml2 in recover mode and resolves IDs itself; it does not refuse a
//! DOCTYPE, a second assertion hidden elsewhere in the tree, or odd content around the root.
//! Those are the raw material of signature wrapping (catalog S04–S13), XXE and entity bombs
//! (S12, S14, S28, S29), so one quick-xml pass refuses them first, and also reads the few
//! *unsigned* envelope values we need: the status (S27: an IdP error is reported as such, not as
//! a signature failure), `Destination`, `InResponseTo`, and every algorithm URI (S19). It also
//! follows every `ds:Signature` and refuses any shape but the one IdPs use (`signatures.rs`):
//! xmlsec digests every reference through every transform before it checks the signature, so
//! that work must be bounded before any crypto (S38).
//!
//! What this scan sees must be what libxml2 sees: the document is UTF-8 and says so (or says
//! nothing), and namespace names are written without references (quick-xml compares them as
//! written, libxml2 after expanding them).
//!
//! Nothing read here is trusted: these values are only ever used to *refuse* a response.

use std::borrow::Cow;

use base64::Engine as _;
use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

use super::error::{SamlError, STATUS_SUCCESS};
use signatures::SignatureShapes;

mod signatures;

/// The largest decoded SAMLResponse accepted (Better Auth uses the same cap).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// Real responses nest about ten levels; deeper trees are refused before libxml2 walks them.
const MAX_DEPTH: usize = 48;
const SAML_PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N_NS: &[u8] = b"http://www.w3.org/2001/10/xml-exc-c14n#";

/// Signature methods we accept: RSA and ECDSA with SHA-2, never SHA-1 (S19).
pub(crate) const ALLOWED_SIGNATURE_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
pub(crate) const ALLOWED_DIGEST_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
/// Canonicalizations, which are also the transforms allowed besides `enveloped-signature`:
/// no XPath, XSLT or XPointer transforms.
pub(crate) const ALLOWED_CANONICALIZATIONS: &[&str] = &[
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
];
pub(crate) const ENVELOPED_SIGNATURE: &str =
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// How a response carries its one assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssertionForm {
    Plain,
    Encrypted,
}

/// The top-level `samlp:Status` of a response.
#[derive(Debug, Default)]
pub(crate) struct Status {
    pub code: Option<String>,
    pub sub_code: Option<String>,
    pub message: Option<String>,
}

/// What the pre-scan read from the (unverified) response.
#[derive(Debug, Default)]
pub(crate) struct Envelope {
    pub status: Option<Status>,
    pub destination: Option<String>,
    pub in_response_to: Option<String>,
    pub n_assertions: usize,
    pub n_encrypted_assertions: usize,
    /// The first signature-related algorithm in the document that is not allowed, and the
    /// element that names it.
    pub forbidden_algorithm: Option<(String, String)>,
    /// Whether the Response or its Assertion holds a signature (its shape is checked apart).
    pub signed: bool,
    /// Whether the Response itself holds one (around an encrypted assertion, the only one
    /// that can be checked before decryption).
    pub response_signed: bool,
    /// The first signature whose shape is refused (`signatures.rs`).
    pub signature_problem: Option<SamlError>,
    /// The `Audience` values of the assertion's conditions (at most 8, each cut at 512 bytes):
    /// unverified, for a test sign-in's report only (samael does not say what it found).
    pub audiences: Vec<String>,
}

/// Decodes the HTTP-POST binding value: whitespace and CRLF line breaks removed (S31), size
/// capped before and after decoding (S30), UTF-8 required, a byte-order mark dropped.
pub(crate) fn decode_post_binding(saml_response_b64: &str) -> Result<String, SamlError> {
    // Base64 grows by 4/3 and line breaks add a little: twice the cap is a safe upper bound
    // that refuses a 10 MB body before allocating anything for it.
    if saml_response_b64.len() > 2 * MAX_RESPONSE_BYTES {
        let got = saml_response_b64.len() / 4 * 3;
        return Err(SamlError::TooLarge {
            max: MAX_RESPONSE_BYTES,
            got,
        });
    }
    // Usually there is no whitespace to strip. When there is, the pieces between it are joined
    // rather than each character filtered: a tenth of the time in a debug build, where this was
    // most of a refusal's.
    let has_whitespace = b" \t\n\x0c\r"
        .iter()
        .any(|space| saml_response_b64.as_bytes().contains(space));
    let compact: Cow<'_, str> = if has_whitespace {
        Cow::Owned(saml_response_b64.split_ascii_whitespace().collect())
    } else {
        Cow::Borrowed(saml_response_b64)
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| SamlError::Malformed("SAMLResponse is not base64".into()))?;
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(SamlError::TooLarge {
            max: MAX_RESPONSE_BYTES,
            got: bytes.len(),
        });
    }
    let xml = String::from_utf8(bytes)
        .map_err(|_| SamlError::Malformed("SAMLResponse is not UTF-8".into()))?;
    Ok(match xml.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => xml,
    })
}

/// Walks the whole document once and refuses anything a SAML response never needs.
pub(crate) fn scan(xml: &str) -> Result<Envelope, SamlError> {
    let mut reader = NsReader::from_str(xml);
    let mut state = ScanState::default();
    loop {
        let (namespace, event) = reader.read_resolved_event().map_err(malformed)?;
        let namespace = Namespace::of(&namespace);
        match event {
            Event::Start(start) => state.open(&start, namespace)?,
            Event::Empty(start) => {
                state.open(&start, namespace)?;
                state.close();
            }
            Event::End(_) => state.close(),
            Event::Text(text) => state.text(&text.xml10_content().map_err(malformed)?)?,
            Event::CData(data) => state.text(&data.decode().map_err(malformed)?)?,
            Event::GeneralRef(reference) => state.text(&resolve_reference(&reference)?)?,
            Event::Decl(declaration) if !state.seen_anything => check_encoding(&declaration)?,
            Event::DocType(_) => return Err(SamlError::DoctypeForbidden),
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => state.markup_outside_root()?,
            Event::Eof => return state.finish(),
        }
        state.seen_anything = true;
    }
}

impl Envelope {
    /// S27: a non-success status is the IdP's answer, reported before any other check.
    pub(crate) fn check_status(&self) -> Result<(), SamlError> {
        let Some(status) = &self.status else {
            return Err(SamlError::Malformed("the response has no Status".into()));
        };
        match status.code.as_deref() {
            Some(STATUS_SUCCESS) => Ok(()),
            _ => Err(SamlError::StatusNotSuccess {
                code: status.code.clone().unwrap_or_default(),
                sub_code: status.sub_code.clone(),
                message: status.message.clone(),
            }),
        }
    }

    /// S06, S07, S10, S13: exactly one assertion anywhere in the document, plain or encrypted.
    pub(crate) fn check_single_assertion(&self) -> Result<AssertionForm, SamlError> {
        match (self.n_assertions, self.n_encrypted_assertions) {
            (1, 0) => Ok(AssertionForm::Plain),
            (0, 1) => Ok(AssertionForm::Encrypted),
            (0, 0) => Err(SamlError::AssertionMissing),
            (n_plain, n_encrypted) => Err(SamlError::MultipleAssertions {
                count: n_plain + n_encrypted,
            }),
        }
    }

    /// S19: every signature, digest, canonicalization and transform algorithm is allowed.
    pub(crate) fn check_algorithms(&self) -> Result<(), SamlError> {
        match &self.forbidden_algorithm {
            Some((element, uri)) => Err(SamlError::AlgorithmForbidden {
                element: element.clone(),
                algorithm: uri.clone(),
            }),
            None => Ok(()),
        }
    }

    /// S38: every signature has the one shape IdPs use, so that xmlsec's work is bounded.
    pub(crate) fn check_signature_shapes(&self) -> Result<(), SamlError> {
        match &self.signature_problem {
            Some(problem) => Err(problem.clone()),
            None => Ok(()),
        }
    }
}

fn algorithm_allowed(element: &str, uri: &str) -> bool {
    match element {
        "SignatureMethod" => ALLOWED_SIGNATURE_METHODS.contains(&uri),
        "DigestMethod" => ALLOWED_DIGEST_METHODS.contains(&uri),
        "CanonicalizationMethod" => ALLOWED_CANONICALIZATIONS.contains(&uri),
        "Transform" => uri == ENVELOPED_SIGNATURE || ALLOWED_CANONICALIZATIONS.contains(&uri),
        _ => false,
    }
}

/// An element's namespace, as far as the pre-scan cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Namespace {
    /// SAML protocol (`samlp:`): the root must be in it.
    Protocol,
    /// XML signature (`ds:`): the only elements samael and xmlsec verify.
    Dsig,
    /// Exclusive canonicalization (`ec:InclusiveNamespaces`).
    ExcC14n,
    Other,
}

impl Namespace {
    fn of(namespace: &ResolveResult<'_>) -> Self {
        let ResolveResult::Bound(ns) = namespace else {
            return Self::Other;
        };
        match ns.as_ref() {
            SAML_PROTOCOL_NS => Self::Protocol,
            DSIG_NS => Self::Dsig,
            EXC_C14N_NS => Self::ExcC14n,
            _ => Self::Other,
        }
    }
}

/// An open element: its local name and its `ID` attribute (what a signature's reference names).
struct OpenElement {
    name: String,
    id: Option<String>,
}

/// Where the walk is: the open elements and what has been read so far.
#[derive(Default)]
struct ScanState {
    stack: Vec<OpenElement>,
    root_seen: bool,
    root_closed: bool,
    seen_anything: bool,
    envelope: Envelope,
    signatures: SignatureShapes,
}

impl ScanState {
    fn open(&mut self, start: &BytesStart<'_>, namespace: Namespace) -> Result<(), SamlError> {
        if self.root_closed {
            return Err(SamlError::Malformed(
                "content after the root element".into(),
            ));
        }
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let attributes = read_attributes(start)?;
        if !self.root_seen {
            self.open_root(&name, namespace == Namespace::Protocol, &attributes)?;
        } else {
            self.open_inner(&name, &attributes);
            self.signatures
                .open(&self.stack, namespace, &name, &attributes);
        }
        let id = attribute(&attributes, "ID");
        self.stack.push(OpenElement { name, id });
        if self.stack.len() > MAX_DEPTH {
            return Err(SamlError::Malformed("elements nest too deeply".into()));
        }
        Ok(())
    }

    fn open_root(
        &mut self,
        name: &str,
        protocol_ns: bool,
        attributes: &[(String, String)],
    ) -> Result<(), SamlError> {
        if name != "Response" || !protocol_ns {
            return Err(SamlError::Malformed(
                "the root element is not a samlp:Response".into(),
            ));
        }
        self.root_seen = true;
        self.envelope.destination = attribute(attributes, "Destination");
        self.envelope.in_response_to = attribute(attributes, "InResponseTo");
        Ok(())
    }

    fn open_inner(&mut self, name: &str, attributes: &[(String, String)]) {
        match name {
            "Assertion" => self.envelope.n_assertions += 1,
            "EncryptedAssertion" => self.envelope.n_encrypted_assertions += 1,
            // OAEP's digest inside an `EncryptedKey`'s `EncryptionMethod` is no signature's:
            // `decrypt.rs` has its own allowlist for it.
            "DigestMethod"
                if self
                    .stack
                    .last()
                    .is_some_and(|parent| parent.name == "EncryptionMethod") => {}
            "SignatureMethod" | "DigestMethod" | "CanonicalizationMethod" | "Transform" => {
                let algorithm = attribute(attributes, "Algorithm").unwrap_or_default();
                if self.envelope.forbidden_algorithm.is_none()
                    && !algorithm_allowed(name, &algorithm)
                {
                    self.envelope.forbidden_algorithm = Some((name.to_owned(), algorithm));
                }
            }
            _ => {}
        }
        self.read_status(name, attributes);
    }

    /// Reads `Response/Status/StatusCode/@Value` and the nested second-level code.
    fn read_status(&mut self, name: &str, attributes: &[(String, String)]) {
        let path: Vec<&str> = self.stack.iter().map(|e| e.name.as_str()).collect();
        match (path.as_slice(), name) {
            ([_], "Status") => self.envelope.status = Some(Status::default()),
            ([_, "Status"], "StatusCode") => {
                if let Some(status) = &mut self.envelope.status {
                    status.code = attribute(attributes, "Value");
                }
            }
            ([_, "Status", "StatusCode"], "StatusCode") => {
                if let Some(status) = &mut self.envelope.status {
                    status.sub_code = attribute(attributes, "Value");
                }
            }
            _ => {}
        }
    }

    fn close(&mut self) {
        self.signatures.close(self.stack.len());
        self.stack.pop();
        if self.root_seen && self.stack.is_empty() {
            self.root_closed = true;
        }
    }

    fn text(&mut self, text: &str) -> Result<(), SamlError> {
        let in_root = self.root_seen && !self.root_closed;
        if !in_root && !text.chars().all(char::is_whitespace) {
            return Err(SamlError::Malformed("text outside the root element".into()));
        }
        let path: Vec<&str> = self.stack.iter().map(|e| e.name.as_str()).collect();
        if let ([_, "Status", "StatusMessage"], Some(status)) =
            (path.as_slice(), &mut self.envelope.status)
        {
            let message = status.message.get_or_insert_with(String::new);
            if message.len() < 512 {
                message.push_str(text);
            }
        }
        if let [.., "Conditions", "AudienceRestriction", "Audience"] = path.as_slice() {
            let audience = text.trim();
            if self.envelope.audiences.len() < 8 && !audience.is_empty() {
                self.envelope
                    .audiences
                    .push(audience.chars().take(512).collect());
            }
        }
        Ok(())
    }

    fn markup_outside_root(&self) -> Result<(), SamlError> {
        if self.root_seen && !self.root_closed {
            Ok(())
        } else {
            Err(SamlError::Malformed(
                "markup outside the root element".into(),
            ))
        }
    }

    fn finish(self) -> Result<Envelope, SamlError> {
        if self.root_closed {
            Ok(Envelope {
                signed: self.signatures.signed(),
                response_signed: self.signatures.response_signed(),
                signature_problem: self.signatures.into_problem(),
                ..self.envelope
            })
        } else {
            Err(SamlError::Malformed(
                "the document has no complete root element".into(),
            ))
        }
    }
}

/// The document is read as UTF-8 here; libxml2 reads it in the encoding its declaration names.
/// Any other (UTF-7 spells `<` as `+ADw-`) would let libxml2 see elements this scan does not.
fn check_encoding(declaration: &BytesDecl<'_>) -> Result<(), SamlError> {
    match declaration.encoding() {
        None => Ok(()),
        Some(Ok(encoding)) if encoding.eq_ignore_ascii_case(b"UTF-8") => Ok(()),
        Some(Ok(encoding)) => Err(SamlError::Malformed(format!(
            "the declared encoding {} is not UTF-8",
            String::from_utf8_lossy(&encoding)
        ))),
        Some(Err(error)) => Err(malformed(error)),
    }
}

/// All attributes, decoded, refusing duplicates, undefined entity references and namespace
/// names written with references.
fn read_attributes(start: &BytesStart<'_>) -> Result<Vec<(String, String)>, SamlError> {
    let decoder = start.decoder();
    start
        .attributes()
        .map(|attribute| {
            let attribute = attribute.map_err(malformed)?;
            // quick-xml resolves namespaces by their names as written, libxml2 after expanding
            // references: `xmldsig&#x23;` would hide a ds:Signature from this scan only.
            if attribute.key.as_namespace_binding().is_some() && attribute.value.contains(&b'&') {
                return Err(SamlError::Malformed(
                    "a namespace name is written with a reference".into(),
                ));
            }
            let value = attribute
                .decoded_and_normalized_value(XmlVersion::Implicit1_0, decoder)
                .map_err(malformed)?;
            let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
            Ok((key, value.into_owned()))
        })
        .collect()
}

/// An unprefixed attribute's value.
fn attribute(attributes: &[(String, String)], name: &str) -> Option<String> {
    attributes
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// Character references and the five predefined entities; anything else needs a DTD.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<String, SamlError> {
    if let Some(c) = reference.resolve_char_ref().map_err(malformed)? {
        return Ok(c.to_string());
    }
    let name = reference.decode().map_err(malformed)?;
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_owned)
        .ok_or_else(|| SamlError::Malformed(format!("undefined entity &{name};")))
}

fn malformed(error: impl std::fmt::Display) -> SamlError {
    SamlError::Malformed(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const P: &str = r#"xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion""#;

    fn reason(xml: &str) -> &'static str {
        match scan(xml) {
            Ok(_) => "ok",
            Err(error) => error.reason(),
        }
    }

    #[test]
    fn reads_the_claimed_audiences() {
        let xml = format!(
            r#"<samlp:Response {P}><saml:Assertion><saml:Conditions><saml:AudienceRestriction><saml:Audience> https://a.example </saml:Audience><saml:Audience>https://b.example</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:Audience>https://not-in-conditions.example</saml:Audience></saml:Assertion></samlp:Response>"#
        );
        assert_eq!(
            scan(&xml).unwrap().audiences,
            vec![
                "https://a.example".to_owned(),
                "https://b.example".to_owned()
            ]
        );
    }

    #[test]
    fn reads_status_destination_and_counts() {
        let xml = format!(
            r#"<?xml version="1.0"?>
<samlp:Response {P} Destination="https://sp/acs?a=1&amp;b=2" InResponseTo="_r1"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode><samlp:StatusMessage>no &amp; way</samlp:StatusMessage></samlp:Status></samlp:Response>
"#
        );
        let envelope = scan(&xml).unwrap();
        assert_eq!(
            envelope.destination.as_deref(),
            Some("https://sp/acs?a=1&b=2")
        );
        assert_eq!(envelope.in_response_to.as_deref(), Some("_r1"));
        let error = envelope.check_status().unwrap_err();
        assert_eq!(
            error,
            SamlError::StatusNotSuccess {
                code: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(),
                sub_code: Some("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into()),
                message: Some("no & way".into()),
            }
        );
        assert_eq!(
            envelope.check_single_assertion().unwrap_err().reason(),
            "assertion_missing"
        );
    }

    #[test]
    fn refuses_what_a_response_never_needs() {
        let doctype = format!(r#"<!DOCTYPE x [<!ENTITY e "v">]><samlp:Response {P}/>"#);
        assert_eq!(reason(&doctype), "doctype_forbidden");
        assert_eq!(
            reason(&format!("<!-- hi --><samlp:Response {P}/>")),
            "malformed"
        );
        assert_eq!(reason(&format!("x<samlp:Response {P}/>")), "malformed");
        assert_eq!(
            reason(&format!("<samlp:Response {P}/><samlp:Response {P}/>")),
            "malformed"
        );
        assert_eq!(
            reason(&format!("<samlp:Response {P}>&e;</samlp:Response>")),
            "malformed"
        );
        assert_eq!(
            reason(&format!(r#"<samlp:Response {P} ID="a" ID="b"/>"#)),
            "malformed"
        );
        assert_eq!(reason(r#"<Response xmlns="urn:evil"/>"#), "malformed");
        assert_eq!(reason("\0\n"), "malformed");
        let deep = format!("<samlp:Response {P}>{}", "<a>".repeat(60));
        assert_eq!(reason(&deep), "malformed");
    }

    #[test]
    fn the_document_must_be_utf8_as_libxml2_reads_it() {
        let declared = |encoding: &str| {
            reason(&format!(
                r#"<?xml version="1.0" encoding="{encoding}"?><samlp:Response {P}/>"#
            ))
        };
        assert_eq!(declared("UTF-8"), "ok");
        assert_eq!(declared("utf-8"), "ok");
        assert_eq!(
            reason(&format!(r#"<?xml version="1.0"?><samlp:Response {P}/>"#)),
            "ok"
        );
        // libxml2 would read `+ADw-` as `<`: elements this scan cannot see.
        assert_eq!(declared("UTF-7"), "malformed");
        assert_eq!(declared("ISO-8859-1"), "malformed");
        assert_eq!(declared("UTF-16"), "malformed");
    }

    #[test]
    fn counts_assertions_in_any_namespace_and_place() {
        let xml = format!(
            r#"<samlp:Response {P}><samlp:Extensions><evil:Assertion xmlns:evil="urn:x"/></samlp:Extensions><saml:Assertion/></samlp:Response>"#
        );
        let envelope = scan(&xml).unwrap();
        assert_eq!(
            envelope.check_single_assertion().unwrap_err().reason(),
            "multiple_assertions"
        );
    }

    #[test]
    fn algorithm_allowlist() {
        let with = |method: &str| {
            format!(
                r#"<samlp:Response {P}><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:SignatureMethod Algorithm="{method}"/></ds:SignedInfo></ds:Signature></samlp:Response>"#
            )
        };
        let ok = scan(&with("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384")).unwrap();
        assert!(ok.check_algorithms().is_ok());
        let sha1 = scan(&with("http://www.w3.org/2000/09/xmldsig#rsa-sha1")).unwrap();
        assert_eq!(
            sha1.check_algorithms().unwrap_err().reason(),
            "algorithm_forbidden"
        );
    }

    #[test]
    fn decodes_wrapped_base64_and_caps_size() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("<a/>".repeat(40));
        let wrapped: String = encoded
            .as_bytes()
            .chunks(76)
            .map(|line| format!("{}\r\n", String::from_utf8_lossy(line)))
            .collect();
        assert_eq!(decode_post_binding(&wrapped).unwrap(), "<a/>".repeat(40));
        let big =
            base64::engine::general_purpose::STANDARD.encode(vec![b' '; MAX_RESPONSE_BYTES + 1]);
        assert_eq!(decode_post_binding(&big).unwrap_err().reason(), "too_large");
        assert_eq!(
            decode_post_binding("%%%").unwrap_err().reason(),
            "malformed"
        );
    }
}
