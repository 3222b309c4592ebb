//! Failed client authentications, counted per `client_id` and client address, so guessing a
//! client secret costs time (the contract; OP18).
//!
//! Like the password throttle in `roster-sso`, the counts live in memory, one set per replica: a
//! table would turn a flood of guesses into a flood of writes. With N replicas a guesser gets N
//! times the limit. A client that reached [`MAX_FAILURES`] from one address within [`WINDOW`] of
//! its first failure is refused from that address — its right secret included, or the lock would
//! not slow guessing — until that window ends. A success leaves the count alone: it ends with its window. Only registered
//! apps are counted (the caller checks), so the table is bounded by the number of apps.
//!
//! **Why per address too.** `client_id`s are public (they travel in authorization URLs): counted
//! per client alone, anyone could lock a product's token endpoint by failing on purpose. Counted
//! per (client, address), a guesser locks only itself and the product's own servers keep
//! exchanging codes. Behind a reverse proxy the address is the proxy's, so there the lock is per
//! client again (as for the password throttle, docs/security.md). Secrets are 256-bit random, so
//! the lock is generous ([`MAX_FAILURES`] in [`WINDOW`]) and short.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failures of one client before it is locked.
pub const MAX_FAILURES: u32 = 20;
/// The window failures are counted in, and the longest lock.
pub const WINDOW: Duration = Duration::from_secs(5 * 60);
/// Above this many remembered clients, stale ones are swept on the next failure.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    first: Instant,
    count: u32,
}

/// The failed client authentications of this replica.
#[derive(Debug, Default)]
pub struct ClientThrottle {
    failures: Mutex<HashMap<(String, Option<IpAddr>), Failures>>,
}

impl ClientThrottle {
    /// `Some(seconds until the lock ends)` when `client_id` is locked for `address` at `now`.
    pub fn locked(&self, client_id: &str, address: Option<IpAddr>, now: Instant) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = failures.get(&(client_id.to_owned(), address))?;
        let ends = entry.first + WINDOW;
        (entry.count >= MAX_FAILURES && ends > now).then(|| (ends - now).as_secs().max(1))
    }

    /// Counts one failed authentication of `client_id` from `address` at `now`.
    pub fn record_failure(&self, client_id: &str, address: Option<IpAddr>, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, entry| entry.first + WINDOW > now);
        }
        let entry = failures
            .entry((client_id.to_owned(), address))
            .or_insert(Failures {
                first: now,
                count: 0,
            });
        if entry.first + WINDOW <= now {
            *entry = Failures {
                first: now,
                count: 0,
            };
        }
        entry.count = entry.count.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_client_is_locked_at_its_limit_from_that_address_until_the_window_ends() {
        let throttle = ClientThrottle::default();
        let guesser = Some(IpAddr::from([203, 0, 113, 7]));
        let product = Some(IpAddr::from([198, 51, 100, 2]));
        let start = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.record_failure("app", guesser, start);
        }
        assert_eq!(
            throttle.locked("app", guesser, start),
            None,
            "below the limit"
        );
        throttle.record_failure("app", guesser, start);
        assert_eq!(
            throttle.locked("app", guesser, start),
            Some(WINDOW.as_secs())
        );
        assert_eq!(throttle.locked("other", guesser, start), None, "per client");
        assert_eq!(
            throttle.locked("app", product, start),
            None,
            "the product's own servers are not locked out by a guesser elsewhere"
        );
        let later = start + WINDOW - Duration::from_secs(1);
        assert_eq!(throttle.locked("app", guesser, later), Some(1));
        let after = start + WINDOW;
        assert_eq!(
            throttle.locked("app", guesser, after),
            None,
            "the window ended"
        );
        throttle.record_failure("app", guesser, after);
        assert_eq!(
            throttle.locked("app", guesser, after),
            None,
            "a new window starts"
        );
    }
}
