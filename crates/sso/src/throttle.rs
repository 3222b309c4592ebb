//! Failed password logins, counted per account (workspace + user name) and per client address,
//! so guessing a password costs an attacker time and Argon2 work costs the server nothing while
//! a key is locked.
//!
//! The counts live in memory, one set per replica: a database table would cost a write per
//! failed attempt and make a flood of guesses a flood of writes. With N replicas an attacker gets
//! at most N times the limit, which still turns an online guessing attack from hours into years.
//! A key is locked once it reaches its limit within the window that started at its first failure,
//! until that window ends; a successful login clears the account's count (not the address's, or
//! one valid account would let an address guess at others without end).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many failures lock a key, and for how long they are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failed logins of one account before it is locked; 0 turns the account limit off.
    pub per_account: u32,
    /// Failed logins from one client address before it is locked; 0 turns it off.
    pub per_address: u32,
    /// The window the failures are counted in, and the longest lock.
    pub window: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            per_account: 10,
            per_address: 100,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account {
        workspace: String,
        user_name: String,
    },
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    first: Instant,
    count: u32,
}

/// Above this many remembered keys, stale ones are swept on the next failure.
const SWEEP_ABOVE: usize = 10_000;

/// The failed-login counts of this replica, and counters for `/metrics`.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    failures: Mutex<HashMap<Key, Failures>>,
    /// Password hashes verified (Argon2 runs).
    verifications: AtomicU64,
    /// Attempts refused as `too_many_attempts` (no Argon2 run).
    throttled: AtomicU64,
}

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Counts one password verification (an Argon2 run).
    pub fn count_verification(&self) {
        self.verifications.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one attempt refused because its account or address was locked.
    pub fn count_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// (password verifications, throttled attempts) since start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.verifications.load(Ordering::Relaxed),
            self.throttled.load(Ordering::Relaxed),
        )
    }

    fn account(workspace: &str, user_name: &str) -> Key {
        Key::Account {
            workspace: workspace.trim().to_lowercase(),
            user_name: user_name.trim().to_lowercase(),
        }
    }

    fn keys(&self, workspace: &str, user_name: &str, address: Option<IpAddr>) -> Vec<(Key, u32)> {
        let mut keys = vec![(Self::account(workspace, user_name), self.limits.per_account)];
        if let Some(address) = address {
            keys.push((Key::Address(address), self.limits.per_address));
        }
        keys.retain(|(_, limit)| *limit > 0);
        keys
    }

    /// How long until this attempt may be tried, when the account or the address is locked.
    pub fn locked(
        &self,
        workspace: &str,
        user_name: &str,
        address: Option<IpAddr>,
    ) -> Option<Duration> {
        let now = Instant::now();
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        self.keys(workspace, user_name, address)
            .iter()
            .filter_map(|(key, limit)| {
                let entry = failures.get(key)?;
                let ends = entry.first + self.limits.window;
                (entry.count >= *limit && ends > now).then(|| ends - now)
            })
            .max()
    }

    /// Counts a failed login against the account and the address.
    pub fn record_failure(&self, workspace: &str, user_name: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let window = self.limits.window;
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, entry| now.duration_since(entry.first) < window);
        }
        for (key, _) in self.keys(workspace, user_name, address) {
            let entry = failures.entry(key).or_insert(Failures {
                first: now,
                count: 0,
            });
            if now.duration_since(entry.first) >= window {
                *entry = Failures {
                    first: now,
                    count: 0,
                };
            }
            entry.count = entry.count.saturating_add(1);
        }
    }

    /// A successful login clears the account's failures.
    pub fn record_success(&self, workspace: &str, user_name: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&Self::account(workspace, user_name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(per_account: u32, per_address: u32) -> LoginThrottle {
        LoginThrottle::new(ThrottleLimits {
            per_account,
            per_address,
            window: Duration::from_secs(60),
        })
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    const OTHER_IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));

    #[test]
    fn an_account_locks_at_its_limit_whatever_the_case_and_a_success_clears_it() {
        let limiter = throttle(3, 0);
        for _ in 0..2 {
            limiter.record_failure("acme", "Ops", IP);
            assert_eq!(limiter.locked("acme", "ops", IP), None);
        }
        limiter.record_failure("ACME", "ops", OTHER_IP);
        let wait = limiter.locked("acme", "OPS", None);
        assert!(wait.is_some_and(|w| w <= Duration::from_secs(60)));
        assert_eq!(limiter.locked("acme", "other", IP), None);
        assert_eq!(limiter.locked("beta", "ops", IP), None);
        limiter.record_success("acme", "ops");
        assert_eq!(limiter.locked("acme", "ops", IP), None);
    }

    #[test]
    fn an_address_locks_every_account_it_tries_and_a_success_does_not_clear_it() {
        let limiter = throttle(0, 2);
        limiter.record_failure("acme", "a", IP);
        limiter.record_failure("acme", "b", IP);
        assert!(limiter.locked("acme", "c", IP).is_some());
        assert_eq!(limiter.locked("acme", "c", OTHER_IP), None);
        limiter.record_success("acme", "c");
        assert!(limiter.locked("acme", "c", IP).is_some());
    }

    #[test]
    fn failures_are_forgotten_after_the_window() {
        let limiter = LoginThrottle::new(ThrottleLimits {
            per_account: 1,
            per_address: 1,
            window: Duration::from_millis(50),
        });
        limiter.record_failure("acme", "ops", IP);
        assert!(limiter.locked("acme", "ops", IP).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(limiter.locked("acme", "ops", IP), None);
    }
}
