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
    #[error("encrypted assertions are not supported")]
    EncryptedAssertion,
    #[error("the identity provider answered with status {code}")]
    StatusNotSuccess {
        code: String,
        sub_code: Option<String>,
        message: Option<String>,
    },
    #[error("the signature algorithm {algorithm} is not allowed")]
    AlgorithmForbidden { algorithm: String },
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
            SamlError::InResponseToUnknown { .. } | SamlError::UnsolicitedResponse => {
                LoginFailure::UnknownRequest
            }
            SamlError::NoSigningCertificate
            | SamlError::InvalidMetadata(_)
            | SamlError::RedirectBindingMissing => LoginFailure::ConnectionMisconfigured,
            SamlError::RandomUnavailable => LoginFailure::ConnectionUnavailable,
            SamlError::NameIdMissing | SamlError::SubjectMissing { .. } => {
                LoginFailure::MissingClaims
            }
            SamlError::TooLarge { .. }
            | SamlError::Malformed(_)
            | SamlError::DoctypeForbidden
            | SamlError::MultipleAssertions { .. }
            | SamlError::AssertionMissing
            | SamlError::EncryptedAssertion
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

    /// A fine-grained, stable snake_case reason (finer than [`LoginFailure`]).
    pub fn reason(&self) -> &'static str {
        match self {
            SamlError::TooLarge { .. } => "too_large",
            SamlError::Malformed(_) => "malformed",
            SamlError::DoctypeForbidden => "doctype_forbidden",
            SamlError::MultipleAssertions { .. } => "multiple_assertions",
            SamlError::AssertionMissing => "assertion_missing",
            SamlError::EncryptedAssertion => "encrypted_assertion_unsupported",
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
            SamlError::RandomUnavailable => "random_unavailable",
            SamlError::SignatureInvalid => "signature_invalid",
            SamlError::IssuerMismatch { .. } => "issuer_mismatch",
            SamlError::AudienceMismatch { .. } => "audience_mismatch",
            SamlError::RecipientMismatch { .. } => "recipient_mismatch",
            SamlError::DestinationMismatch { .. } => "destination_mismatch",
            SamlError::InResponseToUnknown { .. } => "in_response_to_unknown",
            SamlError::UnsolicitedResponse => "unsolicited_response",
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

    /// The values that were compared (want/got), or what was found.
    fn compared(&self) -> Value {
        match self {
            SamlError::TooLarge { max, got } | SamlError::TooManyTransforms { max, got } => {
                json!({ "want": max, "got": got })
            }
            SamlError::Malformed(what) | SamlError::InvalidMetadata(what) => {
                json!({ "error": what })
            }
            SamlError::MultipleAssertions { count } => json!({ "want": 1, "got": count }),
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
            SamlError::AlgorithmForbidden { algorithm }
            | SamlError::TransformRepeated { algorithm } => json!({ "got": algorithm }),
            SamlError::SignatureMisplaced { got } => json!({
                "want": "one signature in the Response and one in its Assertion, at most",
                "got": got,
            }),
            SamlError::SignatureReferenceCount { got } => json!({ "want": 1, "got": got }),
            SamlError::SignatureReferenceMismatch { want, got } => {
                json!({ "want": want, "got": got })
            }
            SamlError::SignatureElementUnexpected { element, parent } => {
                json!({ "got": element, "in": parent })
            }
            SamlError::IssuerMismatch { want, got }
            | SamlError::RecipientMismatch { want, got }
            | SamlError::DestinationMismatch { want, got } => json!({ "want": want, "got": got }),
            SamlError::AudienceMismatch { want, got } => json!({ "want": want, "got": got }),
            SamlError::InResponseToUnknown { got, n_pending } => {
                json!({ "got": got, "pending_requests": n_pending })
            }
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
                json!({ "missing": what })
            }
            SamlError::SubjectMissing { name_id_format } => {
                json!({ "name_id_format": name_id_format })
            }
            SamlError::DoctypeForbidden
            | SamlError::AssertionMissing
            | SamlError::EncryptedAssertion
            | SamlError::NoSigningCertificate
            | SamlError::RedirectBindingMissing
            | SamlError::RandomUnavailable
            | SamlError::SignatureInvalid
            | SamlError::UnsolicitedResponse
            | SamlError::NameIdMissing => json!({}),
        }
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
