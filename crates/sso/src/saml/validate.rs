//! `validate_response`: the ACS pipeline, in the order its refusals are most meaningful.
//!
//! 1. fail closed without signing certificates (A2, S02) — on every call, not only at save;
//! 2. decode: whitespace stripped (S31), 256 KiB cap (S30);
//! 3. pre-scan (`prescan.rs`): DOCTYPE, structure, one assertion, status, algorithms, and the
//!    shape of every signature (S38), so that what xmlsec does next is bounded; a response
//!    with no signature at all is refused as `signature_missing`;
//! 4. samael (`verify.rs`): signatures, reduction to the signed content; at most one check per
//!    CPU at a time;
//! 5. our checks on the verified assertion (`checks.rs`), then on the unsigned envelope.
//!
//! Replay is the caller's: it stores `assertion_id` until `session_not_on_or_after_unix`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use samael::schema::Assertion;

use super::checks::{self, Clock};
use super::error::SamlError;
use super::metadata::{IdpMetadata, SpSettings};
use super::{prescan, verify};

/// How strict validation is, per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationPolicy {
    /// Tolerated clock difference with the IdP, applied to both ends of every time window.
    pub clock_skew_seconds: i64,
    /// How long after its `IssueInstant` an assertion is still accepted.
    pub max_issue_delay_seconds: i64,
    /// Accept responses without `InResponseTo` (IdP-initiated logins).
    pub allow_idp_initiated: bool,
}

impl Default for ValidationPolicy {
    fn default() -> Self {
        Self {
            clock_skew_seconds: 180,
            max_issue_delay_seconds: 300,
            allow_idp_initiated: false,
        }
    }
}

/// A verified assertion: every value comes from signed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// The pending request this answers (consume it); `None` for an IdP-initiated login.
    pub in_response_to: Option<String>,
    /// The latest instant (skew included) at which this assertion could still be accepted:
    /// keep `assertion_id` in the replay cache until then.
    pub session_not_on_or_after_unix: i64,
    /// Attribute values by attribute `Name`, in document order; repeated attributes merged.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// How the IdP authenticated the user: the first `AuthnStatement`'s
    /// `AuthnContextClassRef`, when it names one.
    pub authn_context_class_ref: Option<String>,
}

/// Validates a base64 SAMLResponse (HTTP-POST binding) for one connection, at the system time.
///
/// `expected_request_ids` are the AuthnRequest ids pending for this connection and browser.
pub fn validate_response(
    saml_response_b64: &str,
    idp: &IdpMetadata,
    sp: &SpSettings,
    expected_request_ids: &[String],
    policy: &ValidationPolicy,
) -> Result<VerifiedAssertion, SamlError> {
    validate_response_at(
        saml_response_b64,
        idp,
        sp,
        expected_request_ids,
        policy,
        unix_now(),
    )
}

/// [`validate_response`] at an explicit instant (Unix seconds): for tests, and for callers
/// with their own clock. samael's own time checks are widened (see `verify.rs`), so `now_unix`
/// is the only clock that decides.
pub fn validate_response_at(
    saml_response_b64: &str,
    idp: &IdpMetadata,
    sp: &SpSettings,
    expected_request_ids: &[String],
    policy: &ValidationPolicy,
    now_unix: i64,
) -> Result<VerifiedAssertion, SamlError> {
    if idp.signing_certificates.is_empty() {
        return Err(SamlError::NoSigningCertificate);
    }
    let xml = prescan::decode_post_binding(saml_response_b64)?;
    let envelope = prescan::scan(&xml)?;
    envelope.check_status()?;
    envelope.check_single_assertion()?;
    envelope.check_algorithms()?;
    envelope.check_signature_shapes()?;
    envelope.check_signed()?;
    let assertion = verify::verified_assertion(&xml, idp, sp, expected_request_ids)?;
    let clock = Clock {
        now: now_unix,
        skew: policy.clock_skew_seconds,
    };
    let checked =
        checks::check_assertion(&assertion, idp, sp, expected_request_ids, policy, clock)?;
    checks::check_envelope(
        &envelope,
        sp,
        expected_request_ids,
        checked.in_response_to.as_deref(),
    )?;
    verified(assertion, checked)
}

fn verified(
    assertion: Assertion,
    checked: checks::Checked,
) -> Result<VerifiedAssertion, SamlError> {
    let name_id = assertion
        .subject
        .as_ref()
        .and_then(|subject| subject.name_id.as_ref());
    let name_id = name_id
        .filter(|name_id| !name_id.value.trim().is_empty())
        .ok_or(SamlError::NameIdMissing)?;
    Ok(VerifiedAssertion {
        assertion_id: assertion.id.clone(),
        issuer: assertion.issuer.value.clone().unwrap_or_default(),
        name_id: name_id.value.clone(),
        name_id_format: name_id.format.clone(),
        in_response_to: checked.in_response_to,
        session_not_on_or_after_unix: checked.usable_until_unix,
        attributes: attributes(&assertion),
        authn_context_class_ref: assertion
            .authn_statements
            .iter()
            .flatten()
            .find_map(|statement| {
                statement
                    .authn_context
                    .as_ref()?
                    .value
                    .as_ref()?
                    .value
                    .clone()
            })
            .map(|class| class.trim().to_owned())
            .filter(|class| !class.is_empty()),
    })
}

fn attributes(assertion: &Assertion) -> BTreeMap<String, Vec<String>> {
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let statements = assertion.attribute_statements.iter().flatten();
    for attribute in statements.flat_map(|statement| statement.attributes.iter()) {
        let Some(name) = &attribute.name else {
            continue;
        };
        let values = attribute
            .values
            .iter()
            .filter_map(|value| value.value.clone());
        attributes.entry(name.clone()).or_default().extend(values);
    }
    attributes
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}
