//! `validate_response`: the ACS pipeline, in the order its refusals are most meaningful.
//!
//! 1. fail closed without signing certificates (A2, S02) — on every call, not only at save;
//! 2. decode: whitespace stripped (S31), 256 KiB cap (S30);
//! 3. pre-scan (`prescan.rs`): DOCTYPE, structure, one assertion (plain or encrypted), status,
//!    algorithms, and the shape of every signature (S38), so that what xmlsec does next is
//!    bounded;
//! 4. an `EncryptedAssertion` (`decrypt.rs`): (a) the Response's signature, if any, verified
//!    over the ciphertext; (b) decrypted with the connection's encryption keys; (c) the
//!    decrypted response pre-scanned again. A plain assertion on a connection that requires
//!    encryption is refused as `encryption_required`;
//! 5. samael (`verify.rs`): signatures, reduction to the signed content; at most one check per
//!    CPU at a time. A response with no signature at all is refused as `signature_missing`
//!    (an assertion decrypted from a verified Response needs none of its own);
//! 6. our checks on the verified assertion (`checks.rs`), then on the unsigned envelope.
//!
//! Replay is the caller's: it stores `assertion_id` until `session_not_on_or_after_unix`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use samael::schema::Assertion;

use super::checks::{self, Clock};
use super::error::SamlError;
use super::keys::{SpKeyUse, SpKeys};
use super::metadata::{IdpMetadata, SpSettings};
use super::prescan::AssertionForm;
use super::{decrypt, prescan, verify};

/// How strict validation is, per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationPolicy {
    /// Tolerated clock difference with the IdP, applied to both ends of every time window.
    pub clock_skew_seconds: i64,
    /// How long after its `IssueInstant` an assertion is still accepted.
    pub max_issue_delay_seconds: i64,
    /// Accept responses without `InResponseTo` (IdP-initiated logins).
    pub allow_idp_initiated: bool,
    /// Whether a plain assertion is still accepted.
    pub assertion_encryption: AssertionEncryption,
}

/// Whether a connection accepts plain assertions as well as encrypted ones. Encrypted ones are
/// always accepted: the connection's encryption certificate is in its SP metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssertionEncryption {
    #[default]
    Optional,
    Required,
}

impl Default for ValidationPolicy {
    fn default() -> Self {
        Self {
            clock_skew_seconds: 180,
            max_issue_delay_seconds: 300,
            allow_idp_initiated: false,
            assertion_encryption: AssertionEncryption::Optional,
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
    /// The `FriendlyName` of each attribute `Name` that has one (the first one sent), which a
    /// mapping may name instead of the `Name`.
    pub friendly_names: BTreeMap<String, String>,
    /// How the IdP authenticated the user: the first `AuthnStatement`'s
    /// `AuthnContextClassRef`, when it names one.
    pub authn_context_class_ref: Option<String>,
    /// The first `AuthnStatement`'s `SessionIndex`: the IdP session, for Single Logout.
    pub session_index: Option<String>,
}

/// Validates a base64 SAMLResponse (HTTP-POST binding) for one connection, at the system time.
///
/// `expected_request_ids` are the AuthnRequest ids pending for this connection and browser.
pub fn validate_response(
    saml_response_b64: &str,
    idp: &IdpMetadata,
    sp: &SpSettings,
    keys: &SpKeys,
    expected_request_ids: &[String],
    policy: &ValidationPolicy,
) -> Result<VerifiedAssertion, SamlError> {
    validate_response_at(
        saml_response_b64,
        idp,
        sp,
        keys,
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
    keys: &SpKeys,
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
    let form = envelope.check_single_assertion()?;
    envelope.check_algorithms()?;
    envelope.check_signature_shapes()?;
    let (xml, envelope, signed_around) = match form {
        AssertionForm::Plain if policy.assertion_encryption == AssertionEncryption::Required => {
            return Err(SamlError::EncryptionRequired)
        }
        AssertionForm::Plain => (xml, envelope, false),
        AssertionForm::Encrypted => decrypted(&xml, &envelope, idp, keys)?,
    };
    let assertion = if envelope.signed {
        verify::verified_assertion(&xml, idp, sp, expected_request_ids)?
    } else if signed_around {
        verify::assertion_signed_around(&xml, idp, sp, expected_request_ids)?
    } else {
        return Err(SamlError::SignatureMissing);
    };
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

/// Steps 4a–4c for an `EncryptedAssertion`: the Response's signature (over the ciphertext) is
/// verified first when there is one; then the assertion is decrypted into the response, and the
/// decrypted document goes through the whole pre-scan again, so every structural and
/// signature-wrapping check applies to the tree that is actually read. Answers that document,
/// its scan, and whether a verified signature covered the ciphertext.
fn decrypted(
    xml: &str,
    envelope: &prescan::Envelope,
    idp: &IdpMetadata,
    keys: &SpKeys,
) -> Result<(String, prescan::Envelope, bool), SamlError> {
    let outer = if envelope.response_signed {
        verify::verified_document(xml, idp)?
    } else {
        xml.to_owned()
    };
    let plain = decrypt::decrypt_response(&outer, keys.of_use(SpKeyUse::Encryption))?;
    let inner = prescan::scan(&plain).map_err(|_| SamlError::DecryptionFailed)?;
    if inner.check_single_assertion()? != AssertionForm::Plain {
        return Err(SamlError::MultipleAssertions { count: 2 });
    }
    inner.check_algorithms()?;
    inner.check_signature_shapes()?;
    Ok((plain, inner, envelope.response_signed))
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
    let session_index = assertion
        .authn_statements
        .iter()
        .flatten()
        .find_map(|statement| statement.session_index.clone())
        .filter(|index| !index.trim().is_empty());
    let (attributes, friendly_names) = attributes(&assertion);
    Ok(VerifiedAssertion {
        session_index,
        assertion_id: assertion.id.clone(),
        issuer: assertion.issuer.value.clone().unwrap_or_default(),
        name_id: name_id.value.clone(),
        name_id_format: name_id.format.clone(),
        in_response_to: checked.in_response_to,
        session_not_on_or_after_unix: checked.usable_until_unix,
        attributes,
        friendly_names,
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

/// The attribute values by `Name`, and the `FriendlyName`s by `Name`.
fn attributes(assertion: &Assertion) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, String>) {
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut friendly_names: BTreeMap<String, String> = BTreeMap::new();
    let statements = assertion.attribute_statements.iter().flatten();
    for attribute in statements.flat_map(|statement| statement.attributes.iter()) {
        let Some(name) = &attribute.name else {
            continue;
        };
        if let Some(friendly) = attribute
            .friendly_name
            .as_ref()
            .filter(|friendly| !friendly.trim().is_empty())
        {
            friendly_names
                .entry(name.clone())
                .or_insert_with(|| friendly.trim().to_owned());
        }
        let values = attribute
            .values
            .iter()
            .filter_map(|value| value.value.clone());
        attributes.entry(name.clone()).or_default().extend(values);
    }
    (attributes, friendly_names)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}
