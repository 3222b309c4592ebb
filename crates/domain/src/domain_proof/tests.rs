//! Table tests of domain verification's rules: every (state, check, trigger) transition with
//! its event, the backoff schedule, the public mail domains and the record matching.

use pretty_assertions::assert_eq;

use super::*;
use DomainState::*;

/// (from, check, trigger, checks so far) -> (to, event)
type TransitionCase = (
    DomainState,
    Check,
    Trigger,
    u32,
    DomainState,
    Option<DomainEvent>,
);

#[test]
fn every_transition_and_its_event() {
    let last = MAX_BACKGROUND_CHECKS - 1;
    #[rustfmt::skip]
    let cases: &[TransitionCase] = &[
        // The challenge appears: verified from any state.
        (Pending,  Check::Found,       Trigger::Request,    0,    Verified, Some(DomainEvent::Verified)),
        (Pending,  Check::Found,       Trigger::Background, 3,    Verified, Some(DomainEvent::Verified)),
        (Failed,   Check::Found,       Trigger::Request,    0,    Verified, Some(DomainEvent::Verified)),
        (Verified, Check::Found,       Trigger::Background, 0,    Verified, None),
        // Wrong or missing, asked by an admin: final.
        (Pending,  Check::Missing,     Trigger::Request,    0,    Failed,   Some(DomainEvent::VerificationFailed)),
        (Pending,  Check::Wrong,       Trigger::Request,    0,    Failed,   Some(DomainEvent::VerificationFailed)),
        (Failed,   Check::Wrong,       Trigger::Request,    0,    Failed,   None),
        // Wrong or missing in the background: pending keeps its remaining tries.
        (Pending,  Check::Missing,     Trigger::Background, 0,    Pending,  None),
        (Pending,  Check::Wrong,       Trigger::Background, last - 1, Pending, None),
        (Pending,  Check::Missing,     Trigger::Background, last, Failed,   Some(DomainEvent::VerificationFailed)),
        // A verified domain whose record went away fails.
        (Verified, Check::Missing,     Trigger::Background, 0,    Failed,   Some(DomainEvent::VerificationFailed)),
        (Verified, Check::Wrong,       Trigger::Request,    0,    Failed,   Some(DomainEvent::VerificationFailed)),
        // A resolver that cannot answer changes nothing.
        (Verified, Check::Unreachable, Trigger::Background, 0,    Verified, None),
        (Pending,  Check::Unreachable, Trigger::Request,    last, Pending,  None),
        (Pending,  Check::Unreachable, Trigger::Background, 0,    Pending,  None),
        // ... but the last background check of a pending domain gives up, whatever it met.
        (Pending,  Check::Unreachable, Trigger::Background, last, Failed,   Some(DomainEvent::VerificationFailed)),
        (Failed,   Check::Unreachable, Trigger::Request,    0,    Failed,   None),
    ];
    for &(from, check, trigger, attempts, to, event) in cases {
        assert_eq!(
            from.apply(check, trigger, attempts),
            Transition { to, event },
            "{from:?} + {check:?} ({trigger:?}, {attempts} checks so far)"
        );
    }
}

#[test]
fn background_checks_back_off_and_stop() {
    let minutes = |attempts| next_check_after(Pending, attempts).map(|s| s / 60);
    assert_eq!(minutes(0), Some(1));
    assert_eq!(minutes(1), Some(2));
    assert_eq!(minutes(5), Some(32));
    assert_eq!(minutes(9), Some(512));
    assert_eq!(minutes(10), Some(720), "capped at 12 hours");
    assert_eq!(minutes(MAX_BACKGROUND_CHECKS - 1), Some(720));
    assert_eq!(minutes(MAX_BACKGROUND_CHECKS), None, "spent");
    assert_eq!(next_check_after(Verified, 0), None);
    assert_eq!(next_check_after(Failed, 0), None);
    // Monotonic: each wait is at least the one before.
    let waits: Vec<u64> = (0..MAX_BACKGROUND_CHECKS)
        .filter_map(|n| next_check_after(Pending, n))
        .collect();
    assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
}

#[test]
fn records_match_the_challenge_exactly() {
    let challenge = "roster-domain-verification=abc";
    let check = |values: &[&str]| {
        let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        Check::of_records(&values, challenge)
    };
    assert_eq!(check(&[]), Check::Missing);
    assert_eq!(check(&["v=spf1 -all"]), Check::Wrong);
    assert_eq!(check(&["roster-domain-verification=abd"]), Check::Wrong);
    assert_eq!(check(&["roster-domain-verification=ab"]), Check::Wrong);
    assert_eq!(check(&["v=spf1 -all", challenge]), Check::Found);
    assert_eq!(check(&[" roster-domain-verification=abc "]), Check::Found);
}

#[test]
fn public_mail_domains_and_bare_names_cannot_be_claimed() {
    for name in [
        "gmail.com",
        "GMail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
    ] {
        let domain = Domain::parse(name).unwrap();
        let err = check_claimable(&domain).unwrap_err().to_string();
        assert!(err.contains("public mail domain"), "{name}: {err}");
    }
    assert!(check_claimable(&Domain::parse("localhost").unwrap()).is_err());
    assert!(check_claimable(&Domain::parse("acme.example").unwrap()).is_ok());
    assert!(check_claimable(&Domain::parse("mail.acme.example").unwrap()).is_ok());
}

#[test]
fn challenges_are_random_and_named_under_the_domain() {
    let domain = Domain::parse("Acme.Example").unwrap();
    assert_eq!(challenge_name(&domain), "_roster-challenge.acme.example");
    let (a, b) = (new_challenge().unwrap(), new_challenge().unwrap());
    assert_ne!(a, b);
    assert!(
        a.starts_with("roster-domain-verification=") && a.len() == 27 + 64,
        "{a}"
    );
}

#[test]
fn states_round_trip() {
    for state in [Pending, Verified, Failed] {
        assert_eq!(DomainState::parse(state.as_str()).unwrap(), state);
    }
    assert!(DomainState::parse("unknown").is_err());
}
