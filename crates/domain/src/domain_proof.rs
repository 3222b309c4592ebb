//! Domain verification's rules: a workspace proves it owns an email domain by publishing a TXT
//! record (`_roster-challenge.DOMAIN` = a random value Roster chose) before that domain may route
//! `login_hint` discovery to it or let its connections link existing users by email. Without the
//! proof, any workspace admin could type a customer's domain on a connection and take its users.
//!
//! Pure: [`DomainState::apply`] moves a domain on the outcome of one DNS check,
//! [`next_check_after`] says when the background checker looks again, and
//! [`check_claimable`] refuses the public mail domains nobody can own ([`PUBLIC_MAIL_DOMAINS`]).
//! The store loads and persists; the server's worker and the admin API run the DNS look-ups.

use crate::{Domain, DomainError};

/// The label in front of the domain that holds the challenge: `_roster-challenge.example.com`.
pub const CHALLENGE_LABEL: &str = "_roster-challenge";

/// Where a domain's claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DomainState {
    /// Added; the TXT record has not been seen yet. Rechecked in the background with backoff.
    Pending,
    /// The TXT record was seen: the domain routes discovery and email linking to the workspace.
    Verified,
    /// The background checks gave up on a pending domain, or a check of a verified domain found
    /// the record wrong or missing. An admin can ask for another check.
    Failed,
}

impl DomainState {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainState::Pending => "pending",
            DomainState::Verified => "verified",
            DomainState::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "pending" => Ok(DomainState::Pending),
            "verified" => Ok(DomainState::Verified),
            "failed" => Ok(DomainState::Failed),
            other => Err(DomainError::invalid(
                "domain state",
                format!("{other:?} is not pending, verified or failed"),
            )),
        }
    }

    /// The state after one check, and the event it announces (`None`: no change worth one).
    ///
    /// - the challenge is published: verified, from any state (`domain.verified` unless it
    ///   already was);
    /// - the record is wrong or missing: a verified domain or one an admin asked about
    ///   ([`Trigger::Request`]) fails at once; a pending domain stays pending while background
    ///   checks remain ([`MAX_BACKGROUND_CHECKS`]) and fails after the last one; a failed
    ///   domain is checked again when an admin asks, and verifies once the record is right;
    /// - the look-up itself failed (timeout, server failure): nothing changes — a DNS outage
    ///   does not take a verified domain away, and the background checker tries again — except
    ///   at a pending domain's last background check, which fails it.
    pub fn apply(self, check: Check, trigger: Trigger, attempts: u32) -> Transition {
        use DomainState::*;
        let last_try = trigger == Trigger::Background && attempts + 1 >= MAX_BACKGROUND_CHECKS;
        let to = match (self, check) {
            (_, Check::Found) => Verified,
            // The last background check gives up, whatever it met: a pending domain is never
            // left pending with no check to come.
            (Pending, Check::Unreachable) if last_try => Failed,
            (_, Check::Unreachable) => self,
            (Pending, Check::Missing | Check::Wrong) => match trigger {
                Trigger::Request => Failed,
                Trigger::Background if last_try => Failed,
                Trigger::Background => Pending,
            },
            (Verified | Failed, Check::Missing | Check::Wrong) => Failed,
        };
        let event = match (self, to) {
            (Verified, Verified) => None,
            (_, Verified) => Some(DomainEvent::Verified),
            (Failed, Failed) => None,
            (_, Failed) => Some(DomainEvent::VerificationFailed),
            _ => None,
        };
        Transition { to, event }
    }
}

/// What one DNS look-up of `_roster-challenge.DOMAIN` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A TXT record holds the challenge.
    Found,
    /// TXT records exist, none holds the challenge.
    Wrong,
    /// No TXT record (NXDOMAIN or an empty answer).
    Missing,
    /// The resolver could not answer (timeout, SERVFAIL, refused).
    Unreachable,
}

impl Check {
    /// The outcome of a look-up that answered with `values` (each TXT record's strings joined).
    /// The challenge is public (it is published in DNS), so a plain comparison is enough.
    pub fn of_records(values: &[String], challenge: &str) -> Check {
        if values.is_empty() {
            Check::Missing
        } else if values.iter().any(|value| value.trim() == challenge) {
            Check::Found
        } else {
            Check::Wrong
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Check::Found => "found",
            Check::Wrong => "wrong",
            Check::Missing => "missing",
            Check::Unreachable => "unreachable",
        }
    }
}

/// Who asked for the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An admin (`POST .../domains/{domain}/verify`): the answer is final.
    Request,
    /// The background checker: a pending domain gets [`MAX_BACKGROUND_CHECKS`] tries.
    Background,
}

/// The event a transition announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainEvent {
    Verified,
    VerificationFailed,
}

impl DomainEvent {
    /// The event type of the catalogue.
    pub fn event_type(self) -> &'static str {
        match self {
            DomainEvent::Verified => "domain.verified",
            DomainEvent::VerificationFailed => "domain.verification_failed",
        }
    }
}

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub to: DomainState,
    pub event: Option<DomainEvent>,
}

/// How many background checks a pending domain gets before it fails (about three days with
/// [`next_check_after`]'s schedule).
pub const MAX_BACKGROUND_CHECKS: u32 = 12;

/// Seconds until the next background check of a pending domain checked `attempts` times:
/// 1 minute, doubling each time, at most 12 hours (1, 2, 4, … 512 minutes, then 12 h). `None`:
/// no more background checks — a pending domain with its checks spent, a failed one (an admin
/// asks again), and a verified one (the proof holds until an admin asks for a re-check; a
/// record removed after verification does not take the domain away behind the admin's back).
pub fn next_check_after(state: DomainState, attempts: u32) -> Option<u64> {
    const MINUTE: u64 = 60;
    const MAX_DELAY: u64 = 12 * 60 * MINUTE;
    match state {
        DomainState::Verified | DomainState::Failed => None,
        DomainState::Pending if attempts >= MAX_BACKGROUND_CHECKS => None,
        DomainState::Pending => Some(
            MINUTE
                .saturating_mul(1u64 << attempts.min(20))
                .min(MAX_DELAY),
        ),
    }
}

/// The public mail domains no workspace can claim: anyone can have an address there, so owning
/// one proves nothing about an organisation (docs/admin-api.md "Domains" lists them).
pub const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "live.com",
    "msn.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "ymail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "zoho.com",
    "qq.com",
    "163.com",
    "126.com",
    "naver.com",
    "fastmail.com",
    "hey.com",
    "tutanota.com",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "t-online.de",
];

/// Whether a workspace may claim `domain`: not a public mail domain, and a registered name
/// (at least two labels).
pub fn check_claimable(domain: &Domain) -> Result<(), DomainError> {
    if PUBLIC_MAIL_DOMAINS.contains(&domain.as_str()) {
        return Err(DomainError::invalid(
            "domain",
            format!(
                "{} is a public mail domain: anyone can have an address there, so no workspace can claim it",
                domain.as_str()
            ),
        ));
    }
    if !domain.as_str().contains('.') {
        return Err(DomainError::invalid(
            "domain",
            format!("{} is not a registered domain name", domain.as_str()),
        ));
    }
    Ok(())
}

/// The name of the TXT record that proves `domain`.
pub fn challenge_name(domain: &Domain) -> String {
    format!("{CHALLENGE_LABEL}.{}", domain.as_str())
}

/// A new random challenge value (`roster-domain-verification=` and 32 random bytes, hex).
pub fn new_challenge() -> Result<String, DomainError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|_| DomainError::invalid("challenge", "the system random source failed"))?;
    Ok(format!("roster-domain-verification={}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests;
