//! Failed client authentications, counted per `client_id`, so guessing a client secret costs
//! time (the contract; OP18).
//!
//! Like the password throttle in `roster-sso`, the counts live in memory, one set per replica: a
//! table would turn a flood of guesses into a flood of writes. With N replicas a guesser gets N
//! times the limit. A client that reached [`MAX_FAILURES`] within [`WINDOW`] of its first failure
//! is refused — its right secret included, or the lock would not slow guessing — until that
//! window ends. A success leaves the count alone: it ends with its window. Only registered
//! apps are counted (the caller checks), so the table is bounded by the number of apps.
//!
//! **Trade-off.** `client_id`s are public (they travel in authorization URLs), so anyone can
//! lock an app's token endpoint for a window by failing on purpose. Secrets are 256-bit random,
//! so the lock is generous ([`MAX_FAILURES`] in [`WINDOW`]) and short.

use std::collections::HashMap;
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
    failures: Mutex<HashMap<String, Failures>>,
}

impl ClientThrottle {
    /// `Some(seconds until the lock ends)` when `client_id` is locked at `now`.
    pub fn locked(&self, client_id: &str, now: Instant) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = failures.get(client_id)?;
        let ends = entry.first + WINDOW;
        (entry.count >= MAX_FAILURES && ends > now).then(|| (ends - now).as_secs().max(1))
    }

    /// Counts one failed authentication of `client_id` at `now`.
    pub fn record_failure(&self, client_id: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, entry| entry.first + WINDOW > now);
        }
        let entry = failures.entry(client_id.to_owned()).or_insert(Failures {
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
    fn a_client_is_locked_at_its_limit_until_the_window_ends() {
        let throttle = ClientThrottle::default();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.record_failure("app", start);
        }
        assert_eq!(throttle.locked("app", start), None, "below the limit");
        throttle.record_failure("app", start);
        assert_eq!(throttle.locked("app", start), Some(WINDOW.as_secs()));
        assert_eq!(throttle.locked("other", start), None, "per client");
        let later = start + WINDOW - Duration::from_secs(1);
        assert_eq!(throttle.locked("app", later), Some(1));
        let after = start + WINDOW;
        assert_eq!(throttle.locked("app", after), None, "the window ended");
        throttle.record_failure("app", after);
        assert_eq!(throttle.locked("app", after), None, "a new window starts");
    }
}
