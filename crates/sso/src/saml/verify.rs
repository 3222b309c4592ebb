//! The samael call: signature verification and reduction to the signed content.
//!
//! samael is configured *strict* where it is the only one able to decide (signatures against
//! the connection's certificates only, the algorithm allowlist, `ValidateAndMarkNoAncestors`
//! so unsigned ancestors are stripped) and *permissive* where our own checks in
//! `checks.rs` decide with an injectable clock and precise reasons:
//! - its time checks use `Utc::now()`, so `max_clock_skew` and `max_issue_delay` are widened to
//!   about a century and `checks.rs` applies [`super::ValidationPolicy`] to the verified times;
//! - `allow_idp_initiated` is set so that it skips its `InResponseTo` checks, because it cannot
//!   tell an unknown request from an absent one; `checks.rs` does both.
//!
//! Its issuer, audience (when present), recipient and signed-`Destination` checks stay on and
//! are mapped to the same reasons as ours.
//!
//! Checks take a slot of [`VerificationSlots`] first: at most one per CPU runs at a time.

use samael::crypto::{
    decode_x509_cert, AllowedSignatureAlgorithm, Crypto, CryptoProvider, ReduceMode,
};
use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{EntityDescriptor, IdpSsoDescriptor, KeyDescriptor};
use samael::schema::Assertion;
use samael::service_provider::{Error as SamaelError, ServiceProvider};

use super::error::SamlError;
use super::metadata::{IdpMetadata, SpSettings};
use super::slots::VerificationSlots;

/// Everything but SHA-1 and SHA-224 (the same list the pre-scan enforces).
pub(crate) const ALLOWED_ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];
/// samael's defaults are 180 s skew and 90 s issue delay; these factors widen both to about
/// 100 years (chrono is not a dependency of ours, so the defaults are scaled).
const SKEW_WIDENING: i32 = 17_532_000;
const ISSUE_DELAY_WIDENING: i32 = 35_064_000;

/// Verifies the signatures of `xml` with the IdP's certificates and returns the signed
/// assertion, after samael's own (widened) validation. Waits for a free slot first.
pub(crate) fn verified_assertion(
    xml: &str,
    idp: &IdpMetadata,
    sp: &SpSettings,
    expected_request_ids: &[String],
) -> Result<Assertion, SamlError> {
    // samael loads the IdP's certificate for each signature: keep it loaded (see the crate).
    roster_xmlsec_keys::install();
    let provider = service_provider(idp, sp);
    let ids: Vec<&str> = expected_request_ids.iter().map(String::as_str).collect();
    let _slot = VerificationSlots::global().acquire();
    provider
        .parse_xml_response_with_mode(
            xml,
            Some(ids.as_slice()),
            ReduceMode::ValidateAndMarkNoAncestors,
        )
        .map_err(|error| from_samael(error, idp, sp))
}

/// Keeps each IdP certificate loaded across checks (see `roster-xmlsec-keys`).
pub(crate) fn install_keys() {
    roster_xmlsec_keys::install();
}

/// Verifies every signature of `xml` (around an encrypted assertion: the Response's, over the
/// ciphertext) and answers the document reduced to its signed content, for decryption.
pub(crate) fn verified_document(xml: &str, idp: &IdpMetadata) -> Result<String, SamlError> {
    roster_xmlsec_keys::install();
    let certificates = idp
        .signing_certificates
        .iter()
        .map(|certificate| decode_x509_cert(certificate))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| SamlError::InvalidMetadata("a signing certificate cannot be parsed".into()))?;
    let _slot = VerificationSlots::global().acquire();
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &certificates,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(ALLOWED_ALGORITHMS),
    )
    .map_err(|_| SamlError::SignatureInvalid)
}

/// The assertion of a response built by `decrypt.rs` from a document whose signature
/// [`verified_document`] verified, when the assertion has no signature of its own: samael
/// parses and checks it as an unsigned document (its own checks, widened as above), because
/// the signature that covers it was checked before decryption.
pub(crate) fn assertion_signed_around(
    xml: &str,
    idp: &IdpMetadata,
    sp: &SpSettings,
    expected_request_ids: &[String],
) -> Result<Assertion, SamlError> {
    let mut provider = service_provider(idp, sp);
    provider.idp_metadata = EntityDescriptor {
        entity_id: Some(idp.entity_id.clone()),
        idp_sso_descriptors: Some(vec![idp_sso_descriptor(Vec::new())]),
        ..EntityDescriptor::default()
    };
    let ids: Vec<&str> = expected_request_ids.iter().map(String::as_str).collect();
    provider
        .parse_xml_response_with_mode(
            xml,
            Some(ids.as_slice()),
            ReduceMode::ValidateAndMarkNoAncestors,
        )
        .map_err(|error| from_samael(error, idp, sp))
}

fn service_provider(idp: &IdpMetadata, sp: &SpSettings) -> ServiceProvider {
    let defaults = ServiceProvider::default();
    ServiceProvider {
        entity_id: Some(sp.entity_id.clone()),
        metadata_url: None,
        acs_url: Some(sp.acs_url.clone()),
        slo_url: None,
        idp_metadata: entity_descriptor(idp),
        allow_idp_initiated: true,
        max_issue_delay: defaults.max_issue_delay * ISSUE_DELAY_WIDENING,
        max_clock_skew: defaults.max_clock_skew * SKEW_WIDENING,
        allowed_signature_algorithms: Some(ALLOWED_ALGORITHMS.to_vec()),
        ..defaults
    }
}

/// The samael view of our metadata: the entity id and one signing key per certificate.
fn entity_descriptor(idp: &IdpMetadata) -> EntityDescriptor {
    let key_descriptors = idp
        .signing_certificates
        .iter()
        .map(|certificate| KeyDescriptor {
            key_use: Some("signing".to_owned()),
            key_info: KeyInfo {
                id: None,
                x509_data: Some(X509Data {
                    certificates: vec![certificate.clone()],
                }),
            },
            encryption_methods: None,
        })
        .collect();
    EntityDescriptor {
        entity_id: Some(idp.entity_id.clone()),
        idp_sso_descriptors: Some(vec![idp_sso_descriptor(key_descriptors)]),
        ..EntityDescriptor::default()
    }
}

fn idp_sso_descriptor(key_descriptors: Vec<KeyDescriptor>) -> IdpSsoDescriptor {
    IdpSsoDescriptor {
        id: None,
        valid_until: None,
        cache_duration: None,
        protocol_support_enumeration: Some("urn:oasis:names:tc:SAML:2.0:protocol".to_owned()),
        error_url: None,
        signature: None,
        key_descriptors,
        organization: None,
        contact_people: Vec::new(),
        artifact_resolution_service: Vec::new(),
        single_logout_services: Vec::new(),
        manage_name_id_services: Vec::new(),
        name_id_formats: Vec::new(),
        want_authn_requests_signed: None,
        single_sign_on_services: Vec::new(),
        name_id_mapping_services: Vec::new(),
        assertion_id_request_services: Vec::new(),
        attribute_profiles: Vec::new(),
        attributes: Vec::new(),
    }
}

/// Maps samael's error to ours. Signature verification runs first in samael, so every
/// non-signature error below concerns content that *was* verified.
fn from_samael(error: SamaelError, idp: &IdpMetadata, sp: &SpSettings) -> SamlError {
    match error {
        SamaelError::FailedToValidateSignature => SamlError::SignatureInvalid,
        SamaelError::FailedToParseCert { .. } => {
            SamlError::InvalidMetadata("a signing certificate cannot be parsed".into())
        }
        SamaelError::DestinationValidationError {
            response_destination,
            ..
        } => SamlError::DestinationMismatch {
            want: sp.acs_url.clone(),
            got: response_destination,
        },
        SamaelError::AssertionIssuerMismatch { issuer, .. }
        | SamaelError::ResponseIssuerMismatch { issuer, .. } => SamlError::IssuerMismatch {
            want: idp.entity_id.clone(),
            got: issuer,
        },
        SamaelError::AssertionConditionAudienceRestrictionFailed { .. } => {
            // samael does not say what it found; the pre-scan is not trusted for it either.
            SamlError::AudienceMismatch {
                want: sp.entity_id.clone(),
                got: Vec::new(),
            }
        }
        SamaelError::AssertionRecipientMismatch {
            assertion_recipient,
            ..
        } => SamlError::RecipientMismatch {
            want: sp.acs_url.clone(),
            got: assertion_recipient,
        },
        SamaelError::AssertionBearerSubjectConfirmationMissing => {
            SamlError::SubjectConfirmationMissing("a bearer SubjectConfirmation")
        }
        SamaelError::AssertionSubjectConfirmationMissing => {
            SamlError::SubjectConfirmationMissing("SubjectConfirmationData with NotOnOrAfter")
        }
        SamaelError::ResponseBadStatusCode { code } => SamlError::StatusNotSuccess {
            code,
            sub_code: None,
            message: None,
        },
        // `decrypt.rs` has replaced the one EncryptedAssertion before samael sees the response.
        SamaelError::EncryptedAssertionsNotYetSupported
        | SamaelError::MissingPrivateKeySP
        | SamaelError::MissingEncryptedKeyInfo
        | SamaelError::MissingEncryptedValueInfo
        | SamaelError::EncryptedAssertionKeyMethodUnsupported { .. }
        | SamaelError::EncryptedAssertionValueMethodUnsupported { .. }
        | SamaelError::EncryptedAssertionInvalid
        | SamaelError::FailedToDecryptAssertion => SamlError::DecryptionFailed,
        other => SamlError::Malformed(format!("samael: {other}")),
    }
}
