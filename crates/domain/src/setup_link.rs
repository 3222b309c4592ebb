//! Setup links: how a customer's IT admin, who has no account, gets into the console for one
//! job — connecting their IdP, proving a domain, turning SCIM on — from a URL the SaaS operator
//! emailed them.
//!
//! A link is a bearer secret, so its rules are narrow and live here as pure functions the store
//! applies in the transaction that redeems it:
//! - it opens once ([`redeemable`]): a used, revoked or expired link is refused with which of the
//!   three it is, so the page can say so (revoked first: the operator's decision outranks the
//!   clock);
//! - the session it opens is short ([`session_expiry`]): an hour at most, and never past the
//!   link's own expiry — a link that is about to expire does not buy a fresh hour;
//! - the session reaches only its workspace and its [`SetupIntent`]'s part of the admin API (the
//!   policy's `roster_policy::setup`).

use crate::{DomainError, Timestamp};

/// How long a setup session lasts at most.
pub const SESSION_SECONDS: i64 = 3600;
/// A link's lifetime when the operator names none: a day.
pub const DEFAULT_LINK_SECONDS: i64 = 86_400;
/// Bounds of a link's lifetime: a minute to a week.
pub const MIN_LINK_SECONDS: i64 = 60;
pub const MAX_LINK_SECONDS: i64 = 7 * 86_400;

/// What a setup link is for: which part of the console (and of the admin API) its session
/// reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SetupIntent {
    /// Connect the IdP for single sign-on (SAML or OIDC), and test a sign-in.
    Sso,
    /// Turn SCIM provisioning on, get a token, watch the first users arrive.
    Scim,
    /// Prove an email domain with a DNS record.
    Domain,
    /// All of the above.
    All,
}

impl SetupIntent {
    pub const ALL: [SetupIntent; 4] = [
        SetupIntent::Sso,
        SetupIntent::Scim,
        SetupIntent::Domain,
        SetupIntent::All,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SetupIntent::Sso => "sso",
            SetupIntent::Scim => "scim",
            SetupIntent::Domain => "domain",
            SetupIntent::All => "all",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|intent| intent.as_str() == value)
            .ok_or_else(|| {
                DomainError::invalid(
                    "intent",
                    format!("{value:?} is not one of sso, scim, domain, all"),
                )
            })
    }
}

/// The link's lifetime in seconds: the operator's `expires_in`, or a day.
pub fn link_lifetime(expires_in: Option<i64>) -> Result<i64, DomainError> {
    let seconds = expires_in.unwrap_or(DEFAULT_LINK_SECONDS);
    if (MIN_LINK_SECONDS..=MAX_LINK_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(DomainError::invalid(
            "expires_in",
            format!("{seconds} is outside {MIN_LINK_SECONDS}..={MAX_LINK_SECONDS} seconds"),
        ))
    }
}

/// What the store knows of a link when someone opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState {
    pub expires_at: Timestamp,
    pub redeemed_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Why a link does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    Revoked,
    Used,
    Expired,
}

impl LinkRefusal {
    pub fn code(self) -> &'static str {
        match self {
            LinkRefusal::Revoked => "revoked",
            LinkRefusal::Used => "used",
            LinkRefusal::Expired => "expired",
        }
    }

    /// The sentence on the page the visitor sees.
    pub fn reason(self) -> &'static str {
        match self {
            LinkRefusal::Revoked => "This setup link was revoked. Ask for a new one.",
            LinkRefusal::Used => {
                "This setup link was already used; each link opens once. Ask for a new one."
            }
            LinkRefusal::Expired => "This setup link has expired. Ask for a new one.",
        }
    }
}

/// Whether the link may be redeemed now.
pub fn redeemable(link: LinkState, now: Timestamp) -> Result<(), LinkRefusal> {
    if link.revoked_at.is_some() {
        Err(LinkRefusal::Revoked)
    } else if link.redeemed_at.is_some() {
        Err(LinkRefusal::Used)
    } else if now >= link.expires_at {
        Err(LinkRefusal::Expired)
    } else {
        Ok(())
    }
}

/// When the session a link opens at `now` ends: an hour later, or at the link's expiry if
/// that comes first.
pub fn session_expiry(now: Timestamp, link_expires_at: Timestamp) -> Timestamp {
    now.plus_seconds(SESSION_SECONDS).min(link_expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_micros(seconds * 1_000_000)
    }

    #[test]
    fn a_link_opens_once_before_it_expires_unless_revoked() {
        let fresh = LinkState {
            expires_at: at(100),
            redeemed_at: None,
            revoked_at: None,
        };
        let used = LinkState {
            redeemed_at: Some(at(10)),
            ..fresh
        };
        let revoked = LinkState {
            revoked_at: Some(at(20)),
            ..fresh
        };
        let used_then_revoked = LinkState {
            redeemed_at: Some(at(10)),
            revoked_at: Some(at(20)),
            ..fresh
        };
        let table: &[(LinkState, i64, Result<(), LinkRefusal>)] = &[
            (fresh, 0, Ok(())),
            (fresh, 99, Ok(())),
            (fresh, 100, Err(LinkRefusal::Expired)),
            (fresh, 1_000, Err(LinkRefusal::Expired)),
            (used, 50, Err(LinkRefusal::Used)),
            (used, 500, Err(LinkRefusal::Used)),
            (revoked, 50, Err(LinkRefusal::Revoked)),
            (revoked, 500, Err(LinkRefusal::Revoked)),
            (used_then_revoked, 50, Err(LinkRefusal::Revoked)),
        ];
        for (link, now, want) in table {
            assert_eq!(redeemable(*link, at(*now)), *want, "{link:?} at {now}");
        }
    }

    #[test]
    fn a_session_lasts_an_hour_but_never_past_the_link() {
        assert_eq!(session_expiry(at(0), at(86_400)), at(3_600));
        assert_eq!(session_expiry(at(0), at(600)), at(600));
        assert_eq!(session_expiry(at(0), at(3_600)), at(3_600));
    }

    #[test]
    fn lifetimes_are_a_minute_to_a_week() {
        assert_eq!(link_lifetime(None), Ok(DEFAULT_LINK_SECONDS));
        assert_eq!(link_lifetime(Some(60)), Ok(60));
        assert_eq!(link_lifetime(Some(604_800)), Ok(604_800));
        assert!(link_lifetime(Some(59)).is_err());
        assert!(link_lifetime(Some(604_801)).is_err());
        assert!(link_lifetime(Some(-1)).is_err());
    }

    #[test]
    fn intents_round_trip_and_refuse_others() {
        for intent in SetupIntent::ALL {
            assert_eq!(SetupIntent::parse(intent.as_str()), Ok(intent));
        }
        assert!(SetupIntent::parse("admin").is_err());
        assert!(SetupIntent::parse("SSO").is_err());
    }
}
