//! The load generator: C worker threads, each with its own keep-alive connection, run one
//! operation type at a time — a fixed number of requests shared among the workers, or as many as
//! they can in a fixed time — and record every request's latency.
//!
//! Workers run closed-loop (send, wait for the answer, send the next), so the figures are the
//! throughput and latency the server gives C eager clients, like an IdP's provisioning job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::http::{Client, Response};

/// How long a phase runs.
#[derive(Clone, Copy)]
pub(crate) enum Until {
    /// This many requests in all, shared among the workers (index 0..n, each exactly once).
    Count(u64),
    /// As many requests as the workers manage in this time.
    Elapsed(Duration),
}

/// One worker's operation: sends one request (the argument is the request's index: the shared
/// index for `Until::Count`, the worker's own iteration otherwise) and returns the response.
pub(crate) type Operation<'a> = Box<dyn FnMut(&mut Client, u64) -> Result<Response, String> + 'a>;

/// What a phase measured.
pub(crate) struct Outcome {
    /// Latency of every request, in microseconds, sorted.
    pub(crate) latencies_us: Vec<u64>,
    /// Requests answered with a status outside 2xx, or not answered at all.
    pub(crate) errors: u64,
    /// The first error seen, to say what went wrong.
    pub(crate) first_error: Option<String>,
    /// Wall-clock time of the whole phase.
    pub(crate) elapsed: Duration,
}

impl Outcome {
    pub(crate) fn requests(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    pub(crate) fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.requests() as f64 / seconds
        } else {
            0.0
        }
    }

    /// The latency below which `fraction` of the requests finished, in milliseconds.
    pub(crate) fn percentile_ms(&self, fraction: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = (fraction * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us.get(index).copied().unwrap_or_default() as f64 / 1000.0
    }
}

/// Runs one phase: `concurrency` workers, each building its operation with `make(worker)` and
/// its own client to `addr`.
pub(crate) fn run<'a, F>(
    addr: &str,
    token: &str,
    concurrency: usize,
    until: Until,
    make: F,
) -> Outcome
where
    F: Fn(usize) -> Operation<'a> + Sync,
{
    let next = AtomicU64::new(0);
    let merged = Mutex::new(Outcome {
        latencies_us: Vec::new(),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    });
    let started = Instant::now();
    std::thread::scope(|scope| {
        for worker in 0..concurrency {
            let (next, merged, make) = (&next, &merged, &make);
            scope.spawn(move || {
                let mut client = Client::new(addr, token);
                let mut operation = make(worker);
                let mut latencies = Vec::new();
                let (mut errors, mut first_error) = (0u64, None);
                let mut iteration = 0u64;
                loop {
                    let index = match until {
                        Until::Count(total) => {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            if index >= total {
                                break;
                            }
                            index
                        }
                        Until::Elapsed(duration) => {
                            if started.elapsed() >= duration {
                                break;
                            }
                            iteration
                        }
                    };
                    iteration += 1;
                    let sent = Instant::now();
                    let result = operation(&mut client, index);
                    latencies.push(sent.elapsed().as_micros() as u64);
                    let failure = match result {
                        Ok(response) if (200..300).contains(&response.status) => None,
                        Ok(response) => Some(format!(
                            "HTTP {}: {}",
                            response.status,
                            String::from_utf8_lossy(&response.body)
                                .chars()
                                .take(300)
                                .collect::<String>()
                        )),
                        Err(message) => Some(message),
                    };
                    if let Some(failure) = failure {
                        errors += 1;
                        first_error.get_or_insert(failure);
                    }
                }
                if let Ok(mut merged) = merged.lock() {
                    merged.latencies_us.append(&mut latencies);
                    merged.errors += errors;
                    if merged.first_error.is_none() {
                        merged.first_error = first_error;
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let mut outcome = merged
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    outcome.elapsed = elapsed;
    outcome.latencies_us.sort_unstable();
    outcome
}

/// A small xorshift generator: each worker picks users at random without a dependency.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rate() {
        let outcome = Outcome {
            latencies_us: (1..=100).map(|ms| ms * 1000).collect(),
            errors: 0,
            first_error: None,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(outcome.percentile_ms(0.5), 50.0);
        assert_eq!(outcome.percentile_ms(0.99), 99.0);
        assert_eq!(outcome.per_second(), 50.0);
    }

    #[test]
    fn rng_stays_in_bounds() {
        let mut rng = Rng::new(7);
        assert!((0..1000).all(|_| rng.below(10) < 10));
    }
}
