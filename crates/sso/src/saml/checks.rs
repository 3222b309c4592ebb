//! Our own checks on the *verified* assertion, with the clock passed in.
//!
//! samael accepts an assertion without `AudienceRestriction` or without `Conditions` times, and
//! its time checks read `Utc::now()`. These checks require both (SAML2Int, catalog S23, S26),
//! apply the policy's skew at both ends, compare the issuer (S25), the bearer subject
//! confirmation's recipient (S24) and `InResponseTo` (S21, S22). Every input here comes from
//! samael's reduced, signature-verified document, except the envelope values in
//! [`check_envelope`], which are only used to refuse.

use samael::schema::{Assertion, Conditions, SubjectConfirmationData};

use super::error::SamlError;
use super::metadata::{IdpMetadata, SpSettings};
use super::prescan::Envelope;
use super::ValidationPolicy;

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// The instant of validation and the tolerated clock difference, in Unix seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub now: i64,
    pub skew: i64,
}

impl Clock {
    /// Refuses `now` before `not_before - skew`.
    fn not_before(self, field: &'static str, not_before: i64) -> Result<(), SamlError> {
        let limit = not_before.saturating_sub(self.skew);
        if self.now < limit {
            return Err(SamlError::NotYetValid {
                field,
                limit_unix: limit,
                now_unix: self.now,
            });
        }
        Ok(())
    }

    /// Refuses `now` at or after `not_on_or_after + skew`.
    fn not_on_or_after(self, field: &'static str, not_on_or_after: i64) -> Result<(), SamlError> {
        let limit = not_on_or_after.saturating_add(self.skew);
        if self.now >= limit {
            return Err(SamlError::Expired {
                field,
                limit_unix: limit,
                now_unix: self.now,
            });
        }
        Ok(())
    }
}

/// What the checks established about the assertion.
#[derive(Debug)]
pub(crate) struct Checked {
    pub in_response_to: Option<String>,
    /// The latest instant, skew included, at which the assertion could still be accepted.
    pub usable_until_unix: i64,
}

/// All checks on the verified assertion, in the order their reasons are most useful.
pub(crate) fn check_assertion(
    assertion: &Assertion,
    idp: &IdpMetadata,
    sp: &SpSettings,
    expected_request_ids: &[String],
    policy: &ValidationPolicy,
    clock: Clock,
) -> Result<Checked, SamlError> {
    check_issuer(assertion, idp)?;
    let conditions = assertion
        .conditions
        .as_ref()
        .ok_or(SamlError::ConditionsMissing("Conditions"))?;
    check_audience(conditions, sp)?;
    let conditions_end = check_conditions_window(conditions, clock)?;
    check_issue_instant(assertion, policy, clock)?;
    let confirmation = bearer_confirmation(assertion, sp, clock)?;
    let in_response_to = check_in_response_to(confirmation, expected_request_ids, policy)?;
    let confirmation_end = confirmation
        .not_on_or_after
        .map_or(i64::MIN, |t| t.timestamp());
    Ok(Checked {
        in_response_to,
        usable_until_unix: conditions_end
            .max(confirmation_end)
            .saturating_add(clock.skew),
    })
}

/// Checks on the unsigned envelope: they can only refuse. `Destination` must be our ACS URL
/// when present (S24), and an `InResponseTo` on the envelope must be pending and agree with
/// the signed one (S21).
pub(crate) fn check_envelope(
    envelope: &Envelope,
    sp: &SpSettings,
    expected_request_ids: &[String],
    verified_in_response_to: Option<&str>,
) -> Result<(), SamlError> {
    if let Some(destination) = &envelope.destination {
        if destination != &sp.acs_url {
            return Err(SamlError::DestinationMismatch {
                want: sp.acs_url.clone(),
                got: Some(destination.clone()),
            });
        }
    }
    match (&envelope.in_response_to, verified_in_response_to) {
        (Some(id), verified)
            if !expected_request_ids.contains(id) || verified.is_some_and(|v| v != id) =>
        {
            Err(SamlError::InResponseToUnknown {
                got: id.clone(),
                n_pending: expected_request_ids.len(),
            })
        }
        _ => Ok(()),
    }
}

/// S25: the assertion's issuer is exactly the configured IdP entity id.
fn check_issuer(assertion: &Assertion, idp: &IdpMetadata) -> Result<(), SamlError> {
    if assertion.issuer.value.as_deref() == Some(idp.entity_id.as_str()) {
        return Ok(());
    }
    Err(SamlError::IssuerMismatch {
        want: idp.entity_id.clone(),
        got: assertion.issuer.value.clone(),
    })
}

/// S23: at least one `AudienceRestriction`, and every one lists our entity id exactly (SAML
/// core 2.5.1.4: several restrictions must all be satisfied).
fn check_audience(conditions: &Conditions, sp: &SpSettings) -> Result<(), SamlError> {
    let restrictions = conditions
        .audience_restrictions
        .as_deref()
        .unwrap_or_default();
    let all_name_us = restrictions.iter().all(|restriction| {
        restriction
            .audience
            .iter()
            .any(|audience| audience == &sp.entity_id)
    });
    if !restrictions.is_empty() && all_name_us {
        return Ok(());
    }
    Err(SamlError::AudienceMismatch {
        want: sp.entity_id.clone(),
        got: restrictions
            .iter()
            .flat_map(|r| r.audience.iter().cloned())
            .collect(),
    })
}

/// S26: `NotBefore` and `NotOnOrAfter` are required, and now is inside them, skew included.
/// Returns `NotOnOrAfter`.
fn check_conditions_window(conditions: &Conditions, clock: Clock) -> Result<i64, SamlError> {
    let not_before = conditions
        .not_before
        .ok_or(SamlError::ConditionsMissing("Conditions/@NotBefore"))?;
    let not_on_or_after = conditions
        .not_on_or_after
        .ok_or(SamlError::ConditionsMissing("Conditions/@NotOnOrAfter"))?;
    clock.not_before("Conditions/@NotBefore", not_before.timestamp())?;
    clock.not_on_or_after("Conditions/@NotOnOrAfter", not_on_or_after.timestamp())?;
    Ok(not_on_or_after.timestamp())
}

/// The assertion was issued neither in the future nor more than `max_issue_delay` ago.
fn check_issue_instant(
    assertion: &Assertion,
    policy: &ValidationPolicy,
    clock: Clock,
) -> Result<(), SamlError> {
    let issued = assertion.issue_instant.timestamp();
    clock.not_before("Assertion/@IssueInstant", issued)?;
    clock.not_on_or_after(
        "Assertion/@IssueInstant + max_issue_delay",
        issued.saturating_add(policy.max_issue_delay_seconds),
    )
}

/// S24, S26: the first bearer confirmation that names our ACS URL and is valid now; otherwise
/// the error of the first bearer confirmation.
fn bearer_confirmation<'a>(
    assertion: &'a Assertion,
    sp: &SpSettings,
    clock: Clock,
) -> Result<&'a SubjectConfirmationData, SamlError> {
    let confirmations = assertion
        .subject
        .as_ref()
        .and_then(|subject| subject.subject_confirmations.as_deref())
        .unwrap_or_default();
    let mut first_error = None;
    for confirmation in confirmations
        .iter()
        .filter(|c| c.method.as_deref() == Some(BEARER))
    {
        let result = confirmation
            .subject_confirmation_data
            .as_ref()
            .ok_or(SamlError::SubjectConfirmationMissing(
                "SubjectConfirmationData",
            ))
            .and_then(|data| check_confirmation_data(data, sp, clock).map(|()| data));
        match result {
            Ok(data) => return Ok(data),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(first_error.unwrap_or(SamlError::SubjectConfirmationMissing(
        "a bearer SubjectConfirmation",
    )))
}

fn check_confirmation_data(
    data: &SubjectConfirmationData,
    sp: &SpSettings,
    clock: Clock,
) -> Result<(), SamlError> {
    if data.recipient.as_deref() != Some(sp.acs_url.as_str()) {
        return Err(SamlError::RecipientMismatch {
            want: sp.acs_url.clone(),
            got: data.recipient.clone(),
        });
    }
    let not_on_or_after = data
        .not_on_or_after
        .ok_or(SamlError::SubjectConfirmationMissing(
            "SubjectConfirmationData/@NotOnOrAfter",
        ))?;
    clock.not_on_or_after(
        "SubjectConfirmationData/@NotOnOrAfter",
        not_on_or_after.timestamp(),
    )?;
    match data.not_before {
        Some(not_before) => {
            clock.not_before("SubjectConfirmationData/@NotBefore", not_before.timestamp())
        }
        None => Ok(()),
    }
}

/// S21, S22: a signed `InResponseTo` must name a pending request, even when IdP-initiated
/// logins are allowed; an absent one is accepted only when they are.
fn check_in_response_to(
    data: &SubjectConfirmationData,
    expected_request_ids: &[String],
    policy: &ValidationPolicy,
) -> Result<Option<String>, SamlError> {
    match &data.in_response_to {
        Some(id) if expected_request_ids.contains(id) => Ok(Some(id.clone())),
        Some(id) => Err(SamlError::InResponseToUnknown {
            got: id.clone(),
            n_pending: expected_request_ids.len(),
        }),
        None if policy.allow_idp_initiated => Ok(None),
        None => Err(SamlError::UnsolicitedResponse),
    }
}
