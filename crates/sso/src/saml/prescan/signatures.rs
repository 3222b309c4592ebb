//! The shape of every `ds:Signature`, checked before xmlsec sees it (issue #22).
//!
//! xmlsec verifies a signature by digesting every `Reference` through every `Transform` first,
//! and only then checks the `SignatureValue` against the key. Each canonicalization after the
//! first re-parses and re-serialises the signed element, so a response with a handful of
//! references and a few hundred transforms each costs seconds of CPU and hundreds of MB of
//! memory, even when it is signed with a key nobody trusts: the connection id is public, and
//! the digests are easy to get right. Real IdPs sign with one shape only (`saml_fixtures`:
//! ADFS/Entra, Google, JumpCloud, Keycloak, Okta, Ping; SimpleSAMLphp), so that is all the
//! pre-scan lets through:
//!
//! - a signature is a child of the Response or of its Assertion, at most one in each;
//! - its `SignedInfo` holds a `CanonicalizationMethod`, a `SignatureMethod` and exactly one
//!   `Reference`, whose `URI` is `#` and the `ID` of the element that holds the signature;
//! - the `Reference` holds `Transforms`, `DigestMethod` and `DigestValue`; there are at most
//!   two transforms, `enveloped-signature` and one canonicalization, each at most once;
//! - a canonicalization (method or transform) may hold one `InclusiveNamespaces`;
//! - besides `SignedInfo`, the signature holds its `SignatureValue` and a `KeyInfo`, whose
//!   content is not checked: samael gives xmlsec the key, so xmlsec never reads it.
//!
//! The algorithms themselves are checked by the allowlist in `prescan.rs`. A refusal found here
//! is kept until the walk ends, so that an IdP error status is still reported first (S27).

use super::super::error::SamlError;
use super::{attribute, Namespace, OpenElement, ALLOWED_CANONICALIZATIONS, ENVELOPED_SIGNATURE};

/// The transforms a reference may have: `enveloped-signature` and one canonicalization.
const MAX_TRANSFORMS: usize = 2;

/// The elements a signature may contain (outside `KeyInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Signature,
    SignedInfo,
    CanonicalizationMethod,
    SignatureMethod,
    Reference,
    Transforms,
    Transform,
    DigestMethod,
    DigestValue,
    SignatureValue,
    KeyInfo,
    InclusiveNamespaces,
}

impl Part {
    fn of(namespace: Namespace, local_name: &str) -> Option<Part> {
        Some(match (namespace, local_name) {
            (Namespace::Dsig, "Signature") => Part::Signature,
            (Namespace::Dsig, "SignedInfo") => Part::SignedInfo,
            (Namespace::Dsig, "CanonicalizationMethod") => Part::CanonicalizationMethod,
            (Namespace::Dsig, "SignatureMethod") => Part::SignatureMethod,
            (Namespace::Dsig, "Reference") => Part::Reference,
            (Namespace::Dsig, "Transforms") => Part::Transforms,
            (Namespace::Dsig, "Transform") => Part::Transform,
            (Namespace::Dsig, "DigestMethod") => Part::DigestMethod,
            (Namespace::Dsig, "DigestValue") => Part::DigestValue,
            (Namespace::Dsig, "SignatureValue") => Part::SignatureValue,
            (Namespace::Dsig, "KeyInfo") => Part::KeyInfo,
            (Namespace::ExcC14n, "InclusiveNamespaces") => Part::InclusiveNamespaces,
            _ => return None,
        })
    }

    /// The children this part may have; each at most once, except the counted ones
    /// (`Reference` in `SignedInfo`, `Transform` in `Transforms`).
    fn children(self) -> &'static [Part] {
        match self {
            Part::Signature => &[Part::SignedInfo, Part::SignatureValue, Part::KeyInfo],
            Part::SignedInfo => &[
                Part::CanonicalizationMethod,
                Part::SignatureMethod,
                Part::Reference,
            ],
            Part::CanonicalizationMethod | Part::Transform => &[Part::InclusiveNamespaces],
            Part::Reference => &[Part::Transforms, Part::DigestMethod, Part::DigestValue],
            Part::Transforms => &[Part::Transform],
            Part::SignatureMethod
            | Part::DigestMethod
            | Part::DigestValue
            | Part::SignatureValue
            | Part::KeyInfo
            | Part::InclusiveNamespaces => &[],
        }
    }

    fn counted(self) -> bool {
        matches!(self, Part::Reference | Part::Transform)
    }
}

/// An open element of the signature being read, with the children seen so far.
struct OpenPart {
    part: Part,
    /// Its element depth in the document (the scan's stack length when it opened).
    depth: usize,
    children: Vec<Part>,
    /// How many counted children (`Reference`, `Transform`) it has.
    n_counted: usize,
}

impl OpenPart {
    fn new(part: Part, depth: usize) -> Self {
        Self {
            part,
            depth,
            children: Vec::new(),
            n_counted: 0,
        }
    }
}

/// The signature being read.
struct OpenSignature {
    /// The `ID` of the element that holds it: its reference must name it.
    signed_element_id: Option<String>,
    /// Open parts from the `Signature` down.
    parts: Vec<OpenPart>,
    /// Set while inside `KeyInfo`, to its depth: its content is not checked.
    key_info_depth: Option<usize>,
    /// The kinds of transform the current `Transforms` has had.
    transform_kinds: Vec<TransformKind>,
    /// The first algorithm of a kind the current `Transforms` already had.
    repeated_transform: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransformKind {
    EnvelopedSignature,
    Canonicalization,
}

impl TransformKind {
    /// `None` for an algorithm that the allowlist refuses anyway.
    fn of(algorithm: &str) -> Option<Self> {
        if algorithm == ENVELOPED_SIGNATURE {
            Some(TransformKind::EnvelopedSignature)
        } else if ALLOWED_CANONICALIZATIONS.contains(&algorithm) {
            Some(TransformKind::Canonicalization)
        } else {
            None
        }
    }
}

/// Follows every `ds:Signature` during the pre-scan and keeps the first refusal.
#[derive(Default)]
pub(super) struct SignatureShapes {
    open: Option<OpenSignature>,
    response_signed: bool,
    assertion_signed: bool,
    problem: Option<SamlError>,
}

impl SignatureShapes {
    /// An element opens; `ancestors` are the open elements around it, the root first.
    pub(super) fn open(
        &mut self,
        ancestors: &[OpenElement],
        namespace: Namespace,
        local_name: &str,
        attributes: &[(String, String)],
    ) {
        if let Err(problem) = self.try_open(ancestors, namespace, local_name, attributes) {
            self.problem.get_or_insert(problem);
        }
    }

    /// The element at `depth` (the scan's stack length, itself included) closes.
    pub(super) fn close(&mut self, depth: usize) {
        if let Err(problem) = self.try_close(depth) {
            self.problem.get_or_insert(problem);
        }
    }

    /// Whether a signature was found in the Response or in its Assertion.
    pub(super) fn signed(&self) -> bool {
        self.response_signed || self.assertion_signed
    }

    /// Whether the Response itself holds a signature.
    pub(super) fn response_signed(&self) -> bool {
        self.response_signed
    }

    /// The first refusal found, if any.
    pub(super) fn into_problem(self) -> Option<SamlError> {
        self.problem
    }

    fn try_open(
        &mut self,
        ancestors: &[OpenElement],
        namespace: Namespace,
        local_name: &str,
        attributes: &[(String, String)],
    ) -> Result<(), SamlError> {
        let part = Part::of(namespace, local_name);
        if part == Some(Part::Signature) {
            // Anywhere in the document, inside another signature included: samael verifies
            // every ds:Signature it finds.
            return self.open_signature(ancestors);
        }
        let Some(signature) = self.open.as_mut() else {
            return Ok(());
        };
        if signature.key_info_depth.is_some() {
            return Ok(());
        }
        let Some(parent) = signature.parts.last_mut() else {
            return Ok(());
        };
        let part = match part {
            Some(part) if parent.part.children().contains(&part) => part,
            _ => return Err(unexpected(local_name, parent.part)),
        };
        if part.counted() {
            parent.n_counted += 1;
        } else if parent.children.contains(&part) {
            return Err(unexpected(local_name, parent.part));
        }
        parent.children.push(part);
        let depth = ancestors.len() + 1;
        match part {
            Part::Reference => check_reference(signature.signed_element_id.as_deref(), attributes)?,
            Part::Transforms => {
                signature.transform_kinds.clear();
                signature.repeated_transform = None;
            }
            Part::Transform => {
                let algorithm = attribute(attributes, "Algorithm").unwrap_or_default();
                if let Some(kind) = TransformKind::of(&algorithm) {
                    if signature.transform_kinds.contains(&kind) {
                        signature.repeated_transform.get_or_insert(algorithm);
                    } else {
                        signature.transform_kinds.push(kind);
                    }
                }
            }
            Part::KeyInfo => signature.key_info_depth = Some(depth),
            _ => {}
        }
        signature.parts.push(OpenPart::new(part, depth));
        Ok(())
    }

    /// Placement: a child of the Response or of its Assertion, one in each at most.
    fn open_signature(&mut self, ancestors: &[OpenElement]) -> Result<(), SamlError> {
        let path: Vec<&str> = ancestors.iter().map(|e| e.name.as_str()).collect();
        let already_signed = match path.as_slice() {
            [_] => std::mem::replace(&mut self.response_signed, true),
            [_, "Assertion"] => std::mem::replace(&mut self.assertion_signed, true),
            _ => {
                return Err(SamlError::SignatureMisplaced {
                    got: format!("in {}", path.join("/")),
                })
            }
        };
        if already_signed {
            return Err(SamlError::SignatureMisplaced {
                got: format!("a second signature in {}", path.join("/")),
            });
        }
        self.open = Some(OpenSignature {
            signed_element_id: ancestors.last().and_then(|parent| parent.id.clone()),
            parts: vec![OpenPart::new(Part::Signature, ancestors.len() + 1)],
            key_info_depth: None,
            transform_kinds: Vec::new(),
            repeated_transform: None,
        });
        Ok(())
    }

    fn try_close(&mut self, depth: usize) -> Result<(), SamlError> {
        let Some(signature) = self.open.as_mut() else {
            return Ok(());
        };
        if signature.parts.last().map(|open| open.depth) != Some(depth) {
            // Inside KeyInfo, or an element that was refused.
            return Ok(());
        }
        let Some(closed) = signature.parts.pop() else {
            return Ok(());
        };
        match closed.part {
            Part::Signature => self.open = None,
            Part::KeyInfo => signature.key_info_depth = None,
            Part::SignedInfo if closed.n_counted != 1 => {
                return Err(SamlError::SignatureReferenceCount {
                    got: closed.n_counted,
                })
            }
            // The count first: a long list repeats algorithms too, and its length is the news.
            Part::Transforms if closed.n_counted > MAX_TRANSFORMS => {
                return Err(SamlError::TooManyTransforms {
                    max: MAX_TRANSFORMS,
                    got: closed.n_counted,
                })
            }
            Part::Transforms => {
                if let Some(algorithm) = signature.repeated_transform.take() {
                    return Err(SamlError::TransformRepeated { algorithm });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn unexpected(local_name: &str, parent: Part) -> SamlError {
    SamlError::SignatureElementUnexpected {
        element: local_name.to_owned(),
        parent: format!("{parent:?}"),
    }
}

/// The reference names the element that holds the signature, by its `ID`.
fn check_reference(
    signed_element_id: Option<&str>,
    attributes: &[(String, String)],
) -> Result<(), SamlError> {
    let want = signed_element_id.map(|id| format!("#{id}"));
    let got = attribute(attributes, "URI");
    if want.is_some() && want == got {
        Ok(())
    } else {
        Err(SamlError::SignatureReferenceMismatch { want, got })
    }
}

#[cfg(test)]
mod tests {
    use super::super::scan;
    use pretty_assertions::assert_eq;

    const ENVELOPED: &str =
        r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#;
    const EXC_C14N: &str = r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;

    /// A signature over `reference` with `transforms`; `extra_signed_info` and `extra` go at
    /// the end of SignedInfo and of Signature.
    fn signature(
        reference: &str,
        transforms: &str,
        extra_signed_info: &str,
        extra: &str,
    ) -> String {
        format!(
            r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="{reference}"><ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference>{extra_signed_info}</ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{extra}</ds:Signature>"##
        )
    }

    fn usual(reference: &str) -> String {
        signature(reference, &format!("{ENVELOPED}{EXC_C14N}"), "", "")
    }

    /// A response with `in_response` after its Issuer and `in_assertion` after the assertion's.
    fn response(in_response: &str, in_assertion: &str) -> String {
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r"><saml:Issuer>idp</saml:Issuer>{in_response}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a"><saml:Issuer>idp</saml:Issuer>{in_assertion}<saml:Subject><saml:NameID>ada</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>"#
        )
    }

    fn check(xml: &str) -> &'static str {
        match scan(xml).and_then(|envelope| envelope.check_signature_shapes()) {
            Ok(()) => "ok",
            Err(error) => error.reason(),
        }
    }

    #[test]
    fn the_shapes_idps_use_pass() {
        let inclusive_namespaces = format!(
            r#"{ENVELOPED}<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs"/></ds:Transform>"#
        );
        let cases = [
            ("assertion signed", response("", &usual("#_a"))),
            ("response signed", response(&usual("#_r"), "")),
            ("both signed", response(&usual("#_r"), &usual("#_a"))),
            (
                "InclusiveNamespaces in the canonicalization transform",
                response("", &signature("#_a", &inclusive_namespaces, "", "")),
            ),
            (
                "exclusive canonicalization with comments",
                response(
                    "",
                    &signature(
                        "#_a",
                        &format!(r#"{ENVELOPED}<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"/>"#),
                        "",
                        "",
                    ),
                ),
            ),
            (
                "enveloped-signature alone",
                response("", &signature("#_a", ENVELOPED, "", "")),
            ),
            (
                "anything in KeyInfo",
                response(
                    "",
                    &usual("#_a").replace(
                        "</ds:KeyInfo>",
                        "<ds:KeyName>k</ds:KeyName><other xmlns=\"urn:x\"><deep/></other></ds:KeyInfo>",
                    ),
                ),
            ),
            (
                "a Signature of another namespace is not a signature",
                response(r#"<x:Signature xmlns:x="urn:x"><x:Object/></x:Signature>"#, &usual("#_a")),
            ),
            ("no signature (samael refuses it)", response("", "")),
        ];
        for (name, xml) in cases {
            assert_eq!(check(&xml), "ok", "{name}");
        }
    }

    #[test]
    fn every_other_shape_is_refused_with_its_reason() {
        let many_transforms = format!("{ENVELOPED}{EXC_C14N}").repeat(190);
        let five_references = usual("#_a").replace(
            "</ds:Reference>",
            &format!(
                "</ds:Reference>{}",
                r##"<ds:Reference URI="#_a"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference>"##
                    .repeat(4)
            ),
        );
        let no_reference = usual("#_a");
        let no_reference = format!(
            "{}{}",
            &no_reference[..no_reference.find("<ds:Reference").unwrap()],
            &no_reference[no_reference.find("</ds:SignedInfo>").unwrap()..]
        );
        let cases = [
            (
                "380 transforms",
                response("", &signature("#_a", &many_transforms, "", "")),
                "signature_too_many_transforms",
            ),
            (
                "three transforms",
                response(
                    "",
                    &signature("#_a", &format!("{ENVELOPED}{EXC_C14N}{EXC_C14N}"), "", ""),
                ),
                "signature_too_many_transforms",
            ),
            (
                "a canonicalization twice",
                response(
                    "",
                    &signature("#_a", &format!("{EXC_C14N}{EXC_C14N}"), "", ""),
                ),
                "signature_transform_repeated",
            ),
            (
                "five references",
                response("", &five_references),
                "signature_reference_count",
            ),
            (
                "no reference",
                response("", &no_reference),
                "signature_reference_count",
            ),
            (
                "a reference to another element",
                response("", &usual("#_r")),
                "signature_reference_mismatch",
            ),
            (
                "a reference to the whole document",
                response("", &usual("")),
                "signature_reference_mismatch",
            ),
            (
                "a reference without the #",
                response("", &usual("_a")),
                "signature_reference_mismatch",
            ),
            (
                "a second signature in the assertion",
                response("", &format!("{}{}", usual("#_a"), usual("#_a"))),
                "signature_misplaced",
            ),
            (
                "a signature in Extensions",
                response(
                    &format!("<samlp:Extensions>{}</samlp:Extensions>", usual("#_r")),
                    "",
                ),
                "signature_misplaced",
            ),
            (
                "a signature in the Subject",
                response("", "")
                    .replace("<saml:NameID>", &format!("{}<saml:NameID>", usual("#_a"))),
                "signature_misplaced",
            ),
            (
                "a signature inside KeyInfo",
                response(
                    "",
                    &usual("#_a")
                        .replace("</ds:KeyInfo>", &format!("{}</ds:KeyInfo>", usual("#_a"))),
                ),
                "signature_misplaced",
            ),
            (
                "an Object",
                response(
                    "",
                    &signature("#_a", ENVELOPED, "", "<ds:Object><x/></ds:Object>"),
                ),
                "signature_element_unexpected",
            ),
            (
                "a Manifest in SignedInfo",
                response("", &signature("#_a", ENVELOPED, "<ds:Manifest/>", "")),
                "signature_element_unexpected",
            ),
            (
                "a second SignatureMethod",
                response(
                    "",
                    &signature(
                        "#_a",
                        ENVELOPED,
                        r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>"#,
                        "",
                    ),
                ),
                "signature_element_unexpected",
            ),
            (
                "an XPath inside a transform",
                response(
                    "",
                    &signature(
                        "#_a",
                        r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ds:XPath>1</ds:XPath></ds:Transform>"#,
                        "",
                        "",
                    ),
                ),
                "signature_element_unexpected",
            ),
            (
                "an element of another namespace in the Reference",
                response(
                    "",
                    &usual("#_a").replace(
                        "<ds:DigestMethod",
                        r#"<x:y xmlns:x="urn:x"/><ds:DigestMethod"#,
                    ),
                ),
                "signature_element_unexpected",
            ),
        ];
        for (name, xml, want) in cases {
            assert_eq!(check(&xml), want, "{name}");
        }
    }

    #[test]
    fn a_namespace_name_spelled_with_references_is_refused() {
        // libxml2 expands the reference and sees a ds:Signature; quick-xml compares namespace
        // names as written, so it would not.
        let transforms = format!("{ENVELOPED}{EXC_C14N}").repeat(190);
        let hidden =
            signature("#_a", &transforms, "", "").replacen("xmldsig#\"", "xmldsig&#x23;\"", 1);
        assert!(hidden.contains("&#x23;"));
        assert_eq!(check(&response("", &hidden)), "malformed");
        let root = response("", &usual("#_a")).replacen(
            "SAML:2.0:protocol\"",
            "SAML:2.0:protoco&#108;\"",
            1,
        );
        assert_eq!(check(&root), "malformed");
    }

    #[test]
    fn the_refusal_says_how_many_and_where() {
        let transforms = format!("{ENVELOPED}{EXC_C14N}").repeat(190);
        let xml = response("", &signature("#_a", &transforms, "", ""));
        let error = scan(&xml).unwrap().check_signature_shapes().unwrap_err();
        assert_eq!(
            error.detail(),
            serde_json::json!({ "reason": "signature_too_many_transforms", "want": 2, "got": 380 })
        );
        let xml = response("", &usual("#_r"));
        let error = scan(&xml).unwrap().check_signature_shapes().unwrap_err();
        assert_eq!(
            error.detail(),
            serde_json::json!({ "reason": "signature_reference_mismatch", "want": "#_a", "got": "#_r" })
        );
    }

    #[test]
    fn an_idp_error_status_is_still_reported_first() {
        let xml = response("", &signature("#_a", &EXC_C14N.repeat(10), "", ""))
            .replace("status:Success", "status:Responder");
        let envelope = scan(&xml).unwrap();
        assert_eq!(
            envelope.check_status().unwrap_err().reason(),
            "status_not_success"
        );
    }
}
