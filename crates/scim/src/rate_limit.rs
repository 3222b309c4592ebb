//! Per-connection rate limiting: a token bucket per SCIM connection, so one runaway IdP job cannot
//! starve the others. Over the limit a request gets 429 with `Retry-After` (Entra suspends the
//! job for that long and retries only the failed requests). The buckets live in each replica's
//! memory: with N replicas the effective limit is up to N times the configured one, which errs on
//! the generous side, as intended.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use roster_domain::ConnectionId;

/// Limits of one connection's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second; 0 disables limiting.
    pub per_second: f64,
    /// Requests that may arrive at once.
    pub burst: f64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of every connection this replica has seen.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<ConnectionId, Bucket>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `connection` at `now`; `Err(seconds)` says how long until one is free.
    pub fn check(&self, connection: ConnectionId, now: Instant) -> Result<(), u64> {
        if self.limit.per_second <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let bucket = buckets.entry(connection).or_insert(Bucket {
            tokens: self.limit.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.limit.per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_refills_per_connection() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 3.0,
        });
        let (a, b) = (ConnectionId::new(), ConnectionId::new());
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(a, start), Ok(()));
        }
        assert_eq!(limiter.check(a, start), Err(1));
        assert_eq!(
            limiter.check(b, start),
            Ok(()),
            "another connection has its own bucket"
        );
        assert_eq!(
            limiter.check(a, start + Duration::from_millis(500)),
            Ok(()),
            "refilled at 2/s"
        );
        assert!(limiter
            .check(a, start + Duration::from_millis(500))
            .is_err());
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 0.0,
            burst: 0.0,
        });
        let id = ConnectionId::new();
        for _ in 0..1000 {
            assert!(limiter.check(id, Instant::now()).is_ok());
        }
    }
}
