//! When to retry a failed delivery, and when to give up on an endpoint.

use std::time::Duration;

/// Exponential backoff with jitter, and the run of failures that disables an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    /// Consecutive failures after which the endpoint is disabled.
    pub disable_after: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max: Duration::from_secs(3600),
            disable_after: 50,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` (the first retry is attempt 2), with `jitter` in
    /// [0, 1) spreading it by ±20%.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let raw = self
            .base
            .saturating_mul(1u32 << exponent.min(20))
            .min(self.max);
        let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
        raw.mul_f64(factor).min(self.max)
    }

    /// Whether `consecutive_failures` (including the one just seen) disables the endpoint.
    pub fn disables(&self, consecutive_failures: u32) -> bool {
        consecutive_failures >= self.disable_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let policy = RetryPolicy {
            base: Duration::from_secs(5),
            max: Duration::from_secs(60),
            disable_after: 3,
        };
        assert_eq!(policy.delay(1, 0.5), Duration::from_secs(5));
        assert_eq!(policy.delay(2, 0.5), Duration::from_secs(10));
        assert_eq!(policy.delay(3, 0.5), Duration::from_secs(20));
        assert_eq!(policy.delay(10, 0.5), Duration::from_secs(60));
        assert_eq!(policy.delay(1, 0.0), Duration::from_secs(4));
        assert_eq!(policy.delay(1, 1.0), Duration::from_secs(6));
        assert!(!policy.disables(2));
        assert!(policy.disables(3));
    }
}
