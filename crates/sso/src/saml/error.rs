//! The one error type of the SAML service provider.
//!
//! Every refusal carries three things: the [`LoginFailure`] the person sees and that is stored
//! in `login_events`; a fine-grained [`SamlError::reason`] that tests assert and dashboards
//! group by; and a [`SamlError::detail`] with that reason and the compared values (want/got) for
//! the admin's login-event log. Neither `Display` nor `detail()` ever includes the assertion
//! itself, only the single values that were compared (see `docs/LOGGING.md`).

use roster_domain::LoginFailure;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The SAML status code that means success.
pub(crate) const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Why a SAML message, IdP metadata or assertion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    #[error("the SAML message is {got} bytes; at most {max} are accepted")]
    TooLarge { max: usize, got: usize },
    #[error("malformed SAML message: {0}")]
    Malformed(String),
    #[error("XML DOCTYPE declarations are refused")]
    DoctypeForbidden,
    #[error("the response holds {count} assertions; exactly one is accepted")]
    MultipleAssertions { count: usize },
    #[error("the response holds no assertion")]
    AssertionMissing,
    #[error("the encrypted assertion cannot be decrypted with this connection's keys")]
    DecryptionFailed,
    #[error("the {element} encryption algorithm {algorithm} is not allowed")]
    EncryptionAlgorithmForbidden {
        /// Where it is named: `EncryptedData`, `EncryptedKey`, `DigestMethod` or `MGF`.
        element: String,
        algorithm: String,
    },
    #[error("this connection requires encrypted assertions")]
    EncryptionRequired,
    #[error("neither the response nor its assertion is signed")]
    SignatureMissing,
    #[error("the identity provider answered with status {code}")]
    StatusNotSuccess {
        code: String,
        sub_code: Option<String>,
        message: Option<String>,
    },
    #[error("the {element} algorithm {algorithm} is not allowed")]
    AlgorithmForbidden {
        /// The element that names it: `SignatureMethod`, `DigestMethod`,
        /// `CanonicalizationMethod` or `Transform`.
        element: String,
        algorithm: String,
    },
    #[error("a signature is misplaced: {got}")]
    SignatureMisplaced { got: String },
    #[error("a signature has {got} references; exactly one is accepted")]
    SignatureReferenceCount { got: usize },
    #[error("a signature's reference does not name the element that holds the signature")]
    SignatureReferenceMismatch {
        want: Option<String>,
        got: Option<String>,
    },
    #[error("a signature reference has {got} transforms; at most {max} are accepted")]
    TooManyTransforms { max: usize, got: usize },
    #[error("a signature reference repeats the transform {algorithm}")]
    TransformRepeated { algorithm: String },
    #[error("a signature holds an unexpected {element} in its {parent}")]
    SignatureElementUnexpected { element: String, parent: String },
    #[error("the identity provider has no signing certificate")]
    NoSigningCertificate,
    #[error("the identity provider metadata is unusable: {0}")]
    InvalidMetadata(String),
    #[error("the identity provider offers no HTTP-Redirect single sign-on service")]
    RedirectBindingMissing,
    #[error("the system random source failed")]
    RandomUnavailable,
    #[error("the connection's request signing key cannot be loaded")]
    SigningKeyUnavailable,
    #[error("the identity provider offers no HTTP-Redirect single logout service")]
    SloNotOffered,
    #[error("the logout request was received before")]
    LogoutReplayed { id: String },
    #[error("the signature is missing or does not verify with the configured certificates")]
    SignatureInvalid,
    #[error("the assertion issuer is not the configured identity provider")]
    IssuerMismatch { want: String, got: Option<String> },
    #[error("the assertion is not addressed to this service provider")]
    AudienceMismatch { want: String, got: Vec<String> },
    #[error("the subject confirmation recipient is not this ACS URL")]
    RecipientMismatch { want: String, got: Option<String> },
    #[error("the response destination is not this ACS URL")]
    DestinationMismatch { want: String, got: Option<String> },
    #[error("the response answers a request that is not pending here")]
    InResponseToUnknown { got: String, n_pending: usize },
    #[error("the response answers a request, but the browser has no binding cookie")]
    BrowserBindingMissing { in_response_to: String },
    #[error("the assertion was used before")]
    AssertionReplayed { assertion_id: String },
    #[error("the form has no SAMLResponse")]
    ResponseMissing,
    #[error("the connection's SAML settings cannot be read")]
    ConfigUnreadable,
    #[error("unsolicited (IdP-initiated) responses are not allowed on this connection")]
    UnsolicitedResponse,
    #[error("{field} has expired")]
    Expired {
        field: &'static str,
        limit_unix: i64,
        now_unix: i64,
    },
    #[error("{field} is not yet valid")]
    NotYetValid {
        field: &'static str,
        limit_unix: i64,
        now_unix: i64,
    },
    #[error("the assertion has no {0}")]
    ConditionsMissing(&'static str),
    #[error("the assertion has no usable bearer subject confirmation: {0}")]
    SubjectConfirmationMissing(&'static str),
    #[error("the assertion has no NameID")]
    NameIdMissing,
    #[error("the assertion carries no stable subject")]
    SubjectMissing { name_id_format: Option<String> },
}

impl SamlError {
    /// The stable failure code shown to the person and stored in the login event.
    pub fn failure(&self) -> LoginFailure {
        match self {
            SamlError::StatusNotSuccess { .. } => LoginFailure::IdpError,
            SamlError::InResponseToUnknown { .. }
            | SamlError::BrowserBindingMissing { .. }
            | SamlError::UnsolicitedResponse => LoginFailure::UnknownRequest,
            SamlError::AssertionReplayed { .. } => LoginFailure::Replay,
            SamlError::NoSigningCertificate
            | SamlError::InvalidMetadata(_)
            | SamlError::RedirectBindingMissing
            | SamlError::ConfigUnreadable => LoginFailure::ConnectionMisconfigured,
            SamlError::RandomUnavailable | SamlError::SigningKeyUnavailable => {
                LoginFailure::ConnectionUnavailable
            }
            SamlError::SloNotOffered => LoginFailure::ConnectionMisconfigured,
            SamlError::LogoutReplayed { .. } => LoginFailure::Replay,
            SamlError::NameIdMissing | SamlError::SubjectMissing { .. } => {
                LoginFailure::MissingClaims
            }
            SamlError::TooLarge { .. }
            | SamlError::Malformed(_)
            | SamlError::ResponseMissing
            | SamlError::DoctypeForbidden
            | SamlError::MultipleAssertions { .. }
            | SamlError::AssertionMissing
            | SamlError::DecryptionFailed
            | SamlError::EncryptionAlgorithmForbidden { .. }
            | SamlError::EncryptionRequired
            | SamlError::SignatureMissing
            | SamlError::AlgorithmForbidden { .. }
            | SamlError::SignatureMisplaced { .. }
            | SamlError::SignatureReferenceCount { .. }
            | SamlError::SignatureReferenceMismatch { .. }
            | SamlError::TooManyTransforms { .. }
            | SamlError::TransformRepeated { .. }
            | SamlError::SignatureElementUnexpected { .. }
            | SamlError::SignatureInvalid
            | SamlError::IssuerMismatch { .. }
            | SamlError::AudienceMismatch { .. }
            | SamlError::RecipientMismatch { .. }
            | SamlError::DestinationMismatch { .. }
            | SamlError::Expired { .. }
            | SamlError::NotYetValid { .. }
            | SamlError::ConditionsMissing(_)
            | SamlError::SubjectConfirmationMissing(_) => LoginFailure::InvalidResponse,
        }
    }

    /// A fine-grained, stable snake_case reason (finer than [`LoginFailure`]); each has its
    /// entry in docs/troubleshooting.md ("SAML refusals").
    pub fn reason(&self) -> &'static str {
        match self {
            SamlError::TooLarge { .. } => "too_large",
            SamlError::Malformed(_) => "malformed",
            SamlError::ResponseMissing => "saml_response_missing",
            SamlError::DoctypeForbidden => "doctype_forbidden",
            SamlError::MultipleAssertions { .. } => "multiple_assertions",
            SamlError::AssertionMissing => "assertion_missing",
            SamlError::DecryptionFailed => "decryption_failed",
            SamlError::EncryptionAlgorithmForbidden { .. } => "encryption_algorithm_forbidden",
            SamlError::EncryptionRequired => "encryption_required",
            SamlError::SignatureMissing => "signature_missing",
            SamlError::StatusNotSuccess { .. } => "status_not_success",
            SamlError::AlgorithmForbidden { .. } => "algorithm_forbidden",
            SamlError::SignatureMisplaced { .. } => "signature_misplaced",
            SamlError::SignatureReferenceCount { .. } => "signature_reference_count",
            SamlError::SignatureReferenceMismatch { .. } => "signature_reference_mismatch",
            SamlError::TooManyTransforms { .. } => "signature_too_many_transforms",
            SamlError::TransformRepeated { .. } => "signature_transform_repeated",
            SamlError::SignatureElementUnexpected { .. } => "signature_element_unexpected",
            SamlError::NoSigningCertificate => "no_signing_certificate",
            SamlError::InvalidMetadata(_) => "metadata_invalid",
            SamlError::RedirectBindingMissing => "redirect_binding_missing",
            SamlError::ConfigUnreadable => "protocol_config_unreadable",
            SamlError::RandomUnavailable => "random_unavailable",
            SamlError::SigningKeyUnavailable => "signing_key_unavailable",
            SamlError::SloNotOffered => "slo_not_offered",
            SamlError::LogoutReplayed { .. } => "logout_replayed",
            SamlError::SignatureInvalid => "signature_invalid",
            SamlError::IssuerMismatch { .. } => "issuer_mismatch",
            SamlError::AudienceMismatch { .. } => "audience_mismatch",
            SamlError::RecipientMismatch { .. } => "recipient_mismatch",
            SamlError::DestinationMismatch { .. } => "destination_mismatch",
            SamlError::InResponseToUnknown { .. } => "in_response_to_unknown",
            SamlError::BrowserBindingMissing { .. } => "browser_binding_missing",
            SamlError::UnsolicitedResponse => "unsolicited_response",
            SamlError::AssertionReplayed { .. } => "assertion_replayed",
            SamlError::Expired { .. } => "expired",
            SamlError::NotYetValid { .. } => "not_yet_valid",
            SamlError::ConditionsMissing(_) => "conditions_missing",
            SamlError::SubjectConfirmationMissing(_) => "subject_confirmation_missing",
            SamlError::NameIdMissing => "name_id_missing",
            SamlError::SubjectMissing { .. } => "subject_missing",
        }
    }

    /// The admin's login-event log: the [`reason`](Self::reason) and the compared values.
    pub fn detail(&self) -> Value {
        let mut detail = self.compared();
        if let Value::Object(fields) = &mut detail {
            fields.insert("reason".to_owned(), Value::from(self.reason()));
        }
        detail
    }

    /// The values that were compared (want/got), or what was found. One arm per variant, no
    /// wildcard: a new refusal cannot be added without saying what the admin is shown.
    fn compared(&self) -> Value {
        match self {
            SamlError::TooLarge { max, got } | SamlError::TooManyTransforms { max, got } => {
                json!({ "want": max, "got": got })
            }
            SamlError::Malformed(what) | SamlError::InvalidMetadata(what) => {
                json!({ "error": what })
            }
            SamlError::ResponseMissing => json!({
                "want": "a SAMLResponse form field (HTTP-POST binding)",
                "got": "none",
            }),
            SamlError::DoctypeForbidden => json!({
                "want": "no DOCTYPE",
                "got": "a DOCTYPE declaration",
            }),
            SamlError::MultipleAssertions { count } => json!({ "want": 1, "got": count }),
            SamlError::AssertionMissing => json!({ "want": "one Assertion", "got": "none" }),
            // One answer for every key-dependent failure (no oracle): nothing about which step.
            SamlError::DecryptionFailed => json!({
                "want": "an assertion encrypted to this connection's encryption certificate",
                "got": "an assertion none of its keys decrypts",
            }),
            SamlError::EncryptionAlgorithmForbidden { element, algorithm } => json!({
                "want": allowed_encryption_algorithms(element),
                "got": algorithm,
                "in": element,
            }),
            SamlError::EncryptionRequired => json!({
                "want": "EncryptedAssertion",
                "got": "a plain Assertion",
            }),
            SamlError::SignatureMissing => json!({
                "want": "a signed Response or Assertion",
                "got": "no signature",
            }),
            SamlError::StatusNotSuccess {
                code,
                sub_code,
                message,
            } => json!({
                "want": STATUS_SUCCESS,
                "got": code,
                "sub_status": sub_code,
                "message": message,
            }),
            SamlError::AlgorithmForbidden { element, algorithm } => json!({
                "want": allowed_algorithms(element),
                "got": algorithm,
                "in": element,
            }),
            SamlError::TransformRepeated { algorithm } => json!({
                "want": "enveloped-signature and one canonicalization, each once",
                "got": algorithm,
            }),
            SamlError::SignatureMisplaced { got } => json!({
                "want": "one signature in the Response and one in its Assertion, at most",
                "got": got,
            }),
            SamlError::SignatureReferenceCount { got } => json!({ "want": 1, "got": got }),
            SamlError::SignatureReferenceMismatch { want, got } => {
                json!({ "want": want, "got": got })
            }
            SamlError::SignatureElementUnexpected { element, parent } => json!({
                "want": format!("only the elements a {parent} needs"),
                "got": element,
                "in": parent,
            }),
            SamlError::NoSigningCertificate => json!({
                "want": "a signing certificate in the IdP metadata",
                "got": "none",
            }),
            SamlError::RedirectBindingMissing => json!({
                "want": "an HTTP-Redirect SingleSignOnService in the IdP metadata",
                "got": "none",
            }),
            SamlError::ConfigUnreadable
            | SamlError::RandomUnavailable
            | SamlError::SigningKeyUnavailable => json!({}),
            SamlError::SloNotOffered => json!({
                "want": "an HTTP-Redirect SingleLogoutService in the IdP metadata",
                "got": "none",
            }),
            SamlError::LogoutReplayed { id } => json!({
                "want": "a LogoutRequest not received before",
                "got": id,
            }),
            SamlError::SignatureInvalid => json!({
                "want": "a signature that verifies with a signing certificate of the IdP metadata",
                "got": "a signature that does not verify with any of them",
            }),
            SamlError::IssuerMismatch { want, got }
            | SamlError::RecipientMismatch { want, got }
            | SamlError::DestinationMismatch { want, got } => json!({ "want": want, "got": got }),
            SamlError::AudienceMismatch { want, got } => json!({ "want": want, "got": got }),
            SamlError::InResponseToUnknown { got, n_pending } => json!({
                "want": "a request this browser sent in the last 10 minutes, not answered yet",
                "got": got,
                "pending_requests": n_pending,
            }),
            SamlError::BrowserBindingMissing { in_response_to } => json!({
                "want": "the roster_sso cookie of the browser that sent the request",
                "got": "no cookie",
                "in_response_to": in_response_to,
            }),
            SamlError::UnsolicitedResponse => json!({
                "want": "a response to a request Roster sent",
                "got": "none",
            }),
            SamlError::AssertionReplayed { assertion_id } => json!({
                "want": "an assertion not used before",
                "got": "an assertion used before",
                "assertion_id": assertion_id,
            }),
            SamlError::Expired {
                field,
                limit_unix,
                now_unix,
            } => json!({
                "field": field,
                "want": format!("before {}", rfc3339(*limit_unix)),
                "got": rfc3339(*now_unix),
            }),
            SamlError::NotYetValid {
                field,
                limit_unix,
                now_unix,
            } => json!({
                "field": field,
                "want": format!("at or after {}", rfc3339(*limit_unix)),
                "got": rfc3339(*now_unix),
            }),
            SamlError::ConditionsMissing(what) | SamlError::SubjectConfirmationMissing(what) => {
                json!({ "want": what, "got": "none", "missing": what })
            }
            SamlError::NameIdMissing => json!({ "want": "a NameID", "got": "none" }),
            SamlError::SubjectMissing { name_id_format } => json!({
                "want": "a NameID that is not transient, or a uid attribute",
                "got": format!(
                    "a {} NameID and no uid",
                    name_id_format.as_deref().unwrap_or("format-less")
                ),
                "name_id_format": name_id_format,
            }),
        }
    }
}

/// The algorithms accepted where `element` names one (the pre-scan's allowlists).
fn allowed_algorithms(element: &str) -> Vec<&'static str> {
    use super::prescan::{
        ALLOWED_CANONICALIZATIONS, ALLOWED_DIGEST_METHODS, ALLOWED_SIGNATURE_METHODS,
        ENVELOPED_SIGNATURE,
    };
    match element {
        "SignatureMethod" => ALLOWED_SIGNATURE_METHODS.to_vec(),
        "DigestMethod" => ALLOWED_DIGEST_METHODS.to_vec(),
        "CanonicalizationMethod" => ALLOWED_CANONICALIZATIONS.to_vec(),
        _ => std::iter::once(ENVELOPED_SIGNATURE)
            .chain(ALLOWED_CANONICALIZATIONS.iter().copied())
            .collect(),
    }
}

fn allowed_encryption_algorithms(element: &str) -> Vec<&'static str> {
    use super::decrypt::{
        ALLOWED_CONTENT, ALLOWED_KEY_TRANSPORT, ALLOWED_MGFS, ALLOWED_OAEP_DIGESTS,
    };
    match element {
        "EncryptedData" => ALLOWED_CONTENT.to_vec(),
        "DigestMethod" => ALLOWED_OAEP_DIGESTS.to_vec(),
        "MGF" => ALLOWED_MGFS.to_vec(),
        _ => ALLOWED_KEY_TRANSPORT.to_vec(),
    }
}

/// Formats a Unix time for the log, falling back to the number when it is out of range.
fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn idp_status_is_an_idp_error_with_the_code_in_detail() {
        let error = SamlError::StatusNotSuccess {
            code: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(),
            sub_code: Some("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into()),
            message: None,
        };
        assert_eq!(error.failure(), LoginFailure::IdpError);
        assert_eq!(error.reason(), "status_not_success");
        assert_eq!(
            error.detail()["got"],
            "urn:oasis:names:tc:SAML:2.0:status:Responder"
        );
    }

    #[test]
    fn failures_follow_the_brief() {
        let unknown = SamlError::InResponseToUnknown {
            got: "_x".into(),
            n_pending: 0,
        };
        assert_eq!(unknown.failure(), LoginFailure::UnknownRequest);
        assert_eq!(
            SamlError::NoSigningCertificate.failure(),
            LoginFailure::ConnectionMisconfigured
        );
        assert_eq!(
            SamlError::SignatureInvalid.failure(),
            LoginFailure::InvalidResponse
        );
        let audience = SamlError::AudienceMismatch {
            want: "sp".into(),
            got: vec!["other".into()],
        };
        assert_eq!(
            audience.detail(),
            json!({ "reason": "audience_mismatch", "want": "sp", "got": ["other"] })
        );
    }

    /// One of each refusal. `index` has one arm per variant and no wildcard, so a new variant
    /// does not compile until it is given an index; then this list misses it and
    /// `every_refusal_has_its_documented_reason` fails until it has an example.
    fn one_of_each() -> Vec<SamlError> {
        let text = || "x".to_owned();
        vec![
            SamlError::TooLarge { max: 1, got: 2 },
            SamlError::Malformed(text()),
            SamlError::ResponseMissing,
            SamlError::DoctypeForbidden,
            SamlError::MultipleAssertions { count: 2 },
            SamlError::AssertionMissing,
            SamlError::DecryptionFailed,
            SamlError::EncryptionAlgorithmForbidden {
                element: "EncryptedKey".into(),
                algorithm: "http://www.w3.org/2001/04/xmlenc#rsa-1_5".into(),
            },
            SamlError::EncryptionRequired,
            SamlError::SigningKeyUnavailable,
            SamlError::SloNotOffered,
            SamlError::LogoutReplayed { id: text() },
            SamlError::SignatureMissing,
            SamlError::StatusNotSuccess {
                code: text(),
                sub_code: None,
                message: None,
            },
            SamlError::AlgorithmForbidden {
                element: "SignatureMethod".into(),
                algorithm: "http://www.w3.org/2000/09/xmldsig#rsa-sha1".into(),
            },
            SamlError::SignatureMisplaced { got: text() },
            SamlError::SignatureReferenceCount { got: 2 },
            SamlError::SignatureReferenceMismatch {
                want: Some(text()),
                got: None,
            },
            SamlError::TooManyTransforms { max: 2, got: 3 },
            SamlError::TransformRepeated { algorithm: text() },
            SamlError::SignatureElementUnexpected {
                element: "Object".into(),
                parent: "Signature".into(),
            },
            SamlError::NoSigningCertificate,
            SamlError::InvalidMetadata(text()),
            SamlError::RedirectBindingMissing,
            SamlError::ConfigUnreadable,
            SamlError::RandomUnavailable,
            SamlError::SignatureInvalid,
            SamlError::IssuerMismatch {
                want: text(),
                got: None,
            },
            SamlError::AudienceMismatch {
                want: text(),
                got: Vec::new(),
            },
            SamlError::RecipientMismatch {
                want: text(),
                got: None,
            },
            SamlError::DestinationMismatch {
                want: text(),
                got: Some(text()),
            },
            SamlError::InResponseToUnknown {
                got: text(),
                n_pending: 0,
            },
            SamlError::BrowserBindingMissing {
                in_response_to: text(),
            },
            SamlError::UnsolicitedResponse,
            SamlError::AssertionReplayed {
                assertion_id: text(),
            },
            SamlError::Expired {
                field: "Conditions/@NotOnOrAfter",
                limit_unix: 0,
                now_unix: 1,
            },
            SamlError::NotYetValid {
                field: "Conditions/@NotBefore",
                limit_unix: 1,
                now_unix: 0,
            },
            SamlError::ConditionsMissing("Conditions"),
            SamlError::SubjectConfirmationMissing("a bearer SubjectConfirmation"),
            SamlError::NameIdMissing,
            SamlError::SubjectMissing {
                name_id_format: None,
            },
        ]
    }

    fn index(error: &SamlError) -> usize {
        match error {
            SamlError::TooLarge { .. } => 0,
            SamlError::Malformed(_) => 1,
            SamlError::ResponseMissing => 2,
            SamlError::DoctypeForbidden => 3,
            SamlError::MultipleAssertions { .. } => 4,
            SamlError::AssertionMissing => 5,
            SamlError::DecryptionFailed => 6,
            SamlError::EncryptionAlgorithmForbidden { .. } => 36,
            SamlError::EncryptionRequired => 37,
            SamlError::SigningKeyUnavailable => 38,
            SamlError::SloNotOffered => 39,
            SamlError::LogoutReplayed { .. } => 40,
            SamlError::SignatureMissing => 7,
            SamlError::StatusNotSuccess { .. } => 8,
            SamlError::AlgorithmForbidden { .. } => 9,
            SamlError::SignatureMisplaced { .. } => 10,
            SamlError::SignatureReferenceCount { .. } => 11,
            SamlError::SignatureReferenceMismatch { .. } => 12,
            SamlError::TooManyTransforms { .. } => 13,
            SamlError::TransformRepeated { .. } => 14,
            SamlError::SignatureElementUnexpected { .. } => 15,
            SamlError::NoSigningCertificate => 16,
            SamlError::InvalidMetadata(_) => 17,
            SamlError::RedirectBindingMissing => 18,
            SamlError::ConfigUnreadable => 19,
            SamlError::RandomUnavailable => 20,
            SamlError::SignatureInvalid => 21,
            SamlError::IssuerMismatch { .. } => 22,
            SamlError::AudienceMismatch { .. } => 23,
            SamlError::RecipientMismatch { .. } => 24,
            SamlError::DestinationMismatch { .. } => 25,
            SamlError::InResponseToUnknown { .. } => 26,
            SamlError::BrowserBindingMissing { .. } => 27,
            SamlError::UnsolicitedResponse => 28,
            SamlError::AssertionReplayed { .. } => 29,
            SamlError::Expired { .. } => 30,
            SamlError::NotYetValid { .. } => 31,
            SamlError::ConditionsMissing(_) => 32,
            SamlError::SubjectConfirmationMissing(_) => 33,
            SamlError::NameIdMissing => 34,
            SamlError::SubjectMissing { .. } => 35,
        }
    }

    /// A row of docs/troubleshooting.md's "SAML refusals" table: reason, code, compared keys.
    fn documented() -> Vec<(String, String, Vec<String>)> {
        let guide = include_str!("../../../../docs/troubleshooting.md");
        let section = guide
            .split("\n### SAML refusals\n")
            .nth(1)
            .and_then(|rest| rest.split("\n#").next())
            .expect("docs/troubleshooting.md has a \"### SAML refusals\" section");
        section
            .lines()
            .filter(|line| line.starts_with("| `"))
            .map(|row| {
                let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
                let compared = match cells[2] {
                    "—" => Vec::new(),
                    keys => keys.split(", ").map(str::to_owned).collect(),
                };
                (
                    cells[0].trim_matches('`').to_owned(),
                    cells[1].trim_matches('`').to_owned(),
                    compared,
                )
            })
            .collect()
    }

    /// docs/troubleshooting.md is the table: every refusal has its row there, with the code the
    /// person sees and the values (want/got, or error) its detail holds; no row is stale.
    #[test]
    fn every_refusal_has_its_documented_reason() {
        let examples = one_of_each();
        let mut indexes: Vec<usize> = examples.iter().map(index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        assert_eq!(indexes, (0..examples.len()).collect::<Vec<_>>());
        assert_eq!(examples.len(), 41, "one example per variant");

        let rows = documented();
        for error in &examples {
            let reason = error.reason();
            let rows_of: Vec<_> = rows.iter().filter(|(r, _, _)| r == reason).collect();
            assert_eq!(
                rows_of.len(),
                1,
                "{reason}: one row in docs/troubleshooting.md"
            );
            let (_, code, compared) = rows_of[0];
            assert_eq!(code, error.failure().code(), "{reason}: the code");
            let detail = error.detail();
            assert_eq!(detail["reason"], reason);
            for key in compared {
                assert!(
                    detail.get(key).is_some(),
                    "{reason}: the doc says its detail has {key}: {detail}"
                );
            }
            for key in ["want", "got", "error"] {
                assert_eq!(
                    detail.get(key).is_some(),
                    compared.iter().any(|k| k == key),
                    "{reason}: {key} in {detail} and in the doc's row"
                );
            }
        }
        for (reason, _, _) in &rows {
            assert!(
                examples.iter().any(|e| e.reason() == reason),
                "docs/troubleshooting.md documents {reason}, which no refusal has"
            );
        }
    }

    /// The refusals the issue named, exactly.
    #[test]
    fn refusals_once_recorded_as_empty_say_why() {
        assert_eq!(
            SamlError::SignatureMissing.detail(),
            json!({ "reason": "signature_missing", "want": "a signed Response or Assertion", "got": "no signature" })
        );
        assert_eq!(
            SamlError::DecryptionFailed.detail(),
            json!({
                "reason": "decryption_failed",
                "want": "an assertion encrypted to this connection's encryption certificate",
                "got": "an assertion none of its keys decrypts",
            })
        );
        assert_eq!(
            SamlError::UnsolicitedResponse.detail(),
            json!({ "reason": "unsolicited_response", "want": "a response to a request Roster sent", "got": "none" })
        );
        let sha1 = SamlError::AlgorithmForbidden {
            element: "SignatureMethod".into(),
            algorithm: "http://www.w3.org/2000/09/xmldsig#rsa-sha1".into(),
        };
        let detail = sha1.detail();
        assert_eq!(detail["got"], "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
        assert_eq!(detail["in"], "SignatureMethod");
        assert_eq!(
            detail["want"],
            json!(super::super::prescan::ALLOWED_SIGNATURE_METHODS)
        );
    }

    #[test]
    fn times_in_detail_are_rfc3339() {
        let error = SamlError::Expired {
            field: "Conditions/@NotOnOrAfter",
            limit_unix: 0,
            now_unix: 60,
        };
        assert_eq!(error.detail()["want"], "before 1970-01-01T00:00:00Z");
        assert_eq!(error.detail()["got"], "1970-01-01T00:01:00Z");
    }
}
