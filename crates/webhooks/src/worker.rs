//! The delivery worker: threads inside `roster serve` that claim due work from an outbox in the
//! store, send it, and record the outcome. Two outboxes use it — webhook deliveries
//! ([`crate::webhook`]) and back-channel logouts ([`crate::backchannel`]) — each with threads of
//! its own, so a slow webhook endpoint never holds up a logout. Any number of workers (processes
//! or replicas) can run against one database: a claim is a lease, and an expired lease is
//! claimed again.
//!
//! Per outbox, one thread claims and a pool of delivery threads sends: the claiming thread asks
//! for as many jobs as threads are idle, in one transaction, and hands them over; each delivery
//! thread makes its attempt and records the outcome. So a receiver that is slow to answer holds
//! one delivery thread, and a burst of logouts costs one claim per batch rather than one per
//! logout.
//!
//! What every outbox shares lives here: the loop, the outbound client (`roster-outbound`: the
//! address is checked when the worker connects, a redirect is a failed attempt, the response
//! body is never read), and what an attempt's answer means ([`judge`]: a 2xx is delivered,
//! anything else is retried per the [`RetryPolicy`] until it gives up). Between polls the
//! claiming thread waits on the store's wake-up call, which a commit that queued a back-channel
//! logout rings, so a logout leaves within milliseconds of its commit instead of a poll interval.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use roster_domain::Timestamp;
use roster_outbound::{Client, NetworkPolicy, OutboundError, Timeouts};
use roster_store::{DeliveryOutcome, Store, StoreResult};

use crate::retry::RetryPolicy;

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Pause when nothing is due (a commit that queued a back-channel logout ends it early).
    pub poll_interval: Duration,
    /// How long a claim holds before another worker may take it over.
    pub lease_secs: i64,
    /// Per-request timeout (connecting, and the whole delivery).
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Which non-public addresses endpoints may resolve to.
    pub network: NetworkPolicy,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(250),
            lease_secs: 60,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            network: NetworkPolicy::public_only(),
        }
    }
}

/// Why an attempt got no acceptable answer: the status when there was one (a redirect), and a
/// message that never quotes the endpoint's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: Option<u16>,
    pub message: String,
}

impl Failure {
    /// A failure before any request was made.
    pub fn before_sending(message: String) -> Self {
        Self {
            status: None,
            message,
        }
    }

    /// What the outbound client refused or could not do, for a request to `url`.
    pub fn outbound(err: &OutboundError, url: &str) -> Self {
        let status = match err {
            OutboundError::Redirect { status } => Some(*status),
            _ => None,
        };
        Self {
            status,
            message: redact_url(&err.to_string(), url),
        }
    }
}

/// One outbox the worker drains: where its work comes from, how one attempt is made, and where
/// the outcome goes.
pub trait Outbox: Send + Sync + 'static {
    /// One claimed piece of work.
    type Job: Send;
    /// The threads' name, and the `outbox` field of the worker's logs.
    const NAME: &'static str;
    /// What the job is, for logs (ids only: no URL, no token).
    fn describe(&self, job: &Self::Job) -> String;
    /// Claims at most `limit` due jobs, each with a lease of `lease_secs`; none when nothing is
    /// due.
    fn claim(&self, store: &Store, lease_secs: i64, limit: usize) -> StoreResult<Vec<Self::Job>>;
    /// This attempt's number (1 for the first) and the run of consecutive failures a failure now
    /// would make (what the retry policy decides on).
    fn attempt_counts(&self, job: &Self::Job) -> (u32, u32);
    /// Makes the request: the status of the answer, or why there was none.
    fn send(&self, client: &Client, job: &Self::Job) -> Result<u16, Failure>;
    /// Records the outcome.
    fn finish(&self, store: &Store, job: &Self::Job, outcome: &DeliveryOutcome) -> StoreResult<()>;
}

/// A running worker; it stops (each delivery thread after its current delivery) when dropped.
#[derive(Debug)]
pub struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Back-channel logout delivery threads per process: a receiver that is slow to answer holds one
/// of them (for at most the timeout), not every logout behind it.
pub const BACKCHANNEL_THREADS: usize = 8;

impl Worker {
    /// The webhook deliveries: one delivery thread (each endpoint gets its events in order
    /// anyway).
    pub fn spawn(store: Store, settings: WorkerSettings) -> Self {
        Self::spawn_outbox(store, settings, crate::webhook::Webhooks, 1)
    }

    /// The back-channel logouts, with logout tokens minted by `signer`:
    /// [`BACKCHANNEL_THREADS`] delivery threads.
    pub fn spawn_backchannel(
        store: Store,
        settings: WorkerSettings,
        signer: Arc<dyn crate::backchannel::LogoutTokenSigner>,
    ) -> Self {
        let outbox = crate::backchannel::BackchannelLogouts::new(signer);
        Self::spawn_outbox(store, settings, outbox, BACKCHANNEL_THREADS)
    }

    /// Drains `outbox` with `threads` delivery threads, fed by one claiming thread: it claims
    /// only as many jobs as threads are idle (so no lease runs out while a job waits), and it
    /// alone waits for the wake-up call, so one commit costs one claim, not one per thread.
    pub fn spawn_outbox<O: Outbox>(
        store: Store,
        settings: WorkerSettings,
        outbox: O,
        threads: usize,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(O::NAME.into())
            .spawn(move || run(&store, &settings, &outbox, threads.max(1), &flag))
            .ok();
        Self { stop, thread }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
}

/// The delivery threads that are idle, and a signal when one becomes idle.
#[derive(Default)]
struct Idle {
    count: Mutex<usize>,
    freed: Condvar,
}

impl Idle {
    /// The idle threads now, waiting up to `timeout` for one if none is.
    fn wait_for_any(&self, timeout: Duration) -> usize {
        let count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        let (count, _) = self
            .freed
            .wait_timeout_while(count, timeout, |count| *count == 0)
            .unwrap_or_else(PoisonError::into_inner);
        *count
    }

    fn add(&self, threads: usize) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += threads;
        self.freed.notify_all();
    }

    fn take(&self, threads: usize) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        *count = count.saturating_sub(threads);
    }
}

/// The claiming loop, with its delivery threads.
fn run<O: Outbox>(
    store: &Store,
    settings: &WorkerSettings,
    outbox: &O,
    threads: usize,
    stop: &AtomicBool,
) {
    let client = Client::new(
        settings.network.clone(),
        Timeouts {
            connect: settings.timeout,
            total: settings.timeout,
        },
    );
    let idle = Idle::default();
    idle.add(threads);
    let (jobs, queue) = mpsc::channel::<O::Job>();
    let queue = Mutex::new(queue);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (client, idle, queue) = (&client, &idle, &queue);
            scope.spawn(move || loop {
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                let Ok(job) = next else {
                    return;
                };
                let outcome = attempt(client, settings, outbox, &job);
                if let Err(err) = outbox.finish(store, &job, &outcome) {
                    tracing::warn!(error = %err, outbox = O::NAME, job = %outbox.describe(&job), "could not record a delivery");
                }
                idle.add(1);
            });
        }
        let mut seen = 0;
        while !stop.load(Ordering::SeqCst) {
            let free = idle.wait_for_any(settings.poll_interval);
            if free == 0 {
                continue;
            }
            match outbox.claim(store, settings.lease_secs, free) {
                Ok(claimed) if claimed.is_empty() => {
                    store.outbox_wake().wait(&mut seen, settings.poll_interval);
                }
                Ok(claimed) => {
                    idle.take(claimed.len());
                    for job in claimed {
                        if jobs.send(job).is_err() {
                            return;
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, outbox = O::NAME, "delivery worker cannot reach the database");
                    std::thread::sleep(settings.poll_interval * 4);
                }
            }
        }
        // Closing the queue ends each delivery thread after its current job.
        drop(jobs);
    });
}

/// One attempt: send, then judge the answer.
fn attempt<O: Outbox>(
    client: &Client,
    settings: &WorkerSettings,
    outbox: &O,
    job: &O::Job,
) -> DeliveryOutcome {
    let started = Instant::now();
    let (attempt, failures) = outbox.attempt_counts(job);
    let answer = outbox.send(client, job);
    let outcome = judge(
        answer,
        started.elapsed(),
        (attempt, failures),
        &settings.retry,
        jitter(),
        Timestamp::now(),
    );
    if let Some(error) = &outcome.error {
        tracing::info!(outbox = O::NAME, job = %outbox.describe(job), attempt, error = %error, "delivery failed");
    }
    outcome
}

/// What an attempt's answer means: a 2xx is delivered; any other status, a redirect or no
/// answer at all is retried after the policy's delay for `attempt`, and gives up once
/// `failures` consecutive failures reach its limit.
pub fn judge(
    answer: Result<u16, Failure>,
    took: Duration,
    (attempt, failures): (u32, u32),
    retry: &RetryPolicy,
    jitter: f64,
    now: Timestamp,
) -> DeliveryOutcome {
    let duration_ms = i64::try_from(took.as_millis()).unwrap_or(i64::MAX);
    let (status_code, error) = match answer {
        Ok(status) if (200..300).contains(&status) => (Some(status), None),
        Ok(status) => (
            Some(status),
            Some(format!("the endpoint answered HTTP {status}")),
        ),
        Err(failure) => (failure.status, Some(failure.message)),
    };
    if error.is_none() {
        return DeliveryOutcome {
            status_code,
            duration_ms,
            error,
            retry_at: None,
            give_up: false,
        };
    }
    let delay = retry.delay(attempt, jitter);
    let retry_at = now.as_micros() + i64::try_from(delay.as_micros()).unwrap_or(i64::MAX / 2);
    DeliveryOutcome {
        status_code,
        duration_ms,
        error,
        retry_at: Some(Timestamp::from_micros(retry_at)),
        give_up: retry.disables(failures),
    }
}

/// Endpoint URLs may carry secrets (tokens in the path or query); transport errors that quote
/// the URL are stored and logged without it.
fn redact_url(message: &str, url: &str) -> String {
    let mut redacted = message.replace(url, "<endpoint>");
    if let Some((base, _)) = url.split_once('?') {
        redacted = redacted.replace(base, "<endpoint>");
    }
    redacted
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn transport_errors_do_not_quote_the_endpoint_url() {
        let url = "https://hooks.example.test/T0/B0/s3cr3t?token=abc";
        let message = format!("io: Connection refused for {url}");
        assert_eq!(
            redact_url(&message, url),
            "io: Connection refused for <endpoint>"
        );
        let message = "dns failed for https://hooks.example.test/T0/B0/s3cr3t";
        assert!(!redact_url(message, url).contains("s3cr3t"));
    }

    #[test]
    fn only_a_2xx_is_delivered_and_failures_retry_until_the_policy_gives_up() {
        let policy = RetryPolicy {
            base: Duration::from_secs(5),
            max: Duration::from_secs(60),
            disable_after: 3,
        };
        let now = Timestamp::from_micros(1_000_000_000);
        let in_secs = |secs: i64| Some(now.plus_seconds(secs));
        let redirect = Failure {
            status: Some(302),
            message: "redirects are not followed".into(),
        };
        let refused = Failure::before_sending("the address is not public".into());
        // (answer, attempt and failures) -> (status, error, retry_at, give_up)
        let cases = [
            (Ok(200), (1, 1), (Some(200), None, None, false)),
            (Ok(204), (7, 7), (Some(204), None, None, false)),
            (
                Ok(500),
                (1, 1),
                (
                    Some(500),
                    Some("the endpoint answered HTTP 500"),
                    in_secs(5),
                    false,
                ),
            ),
            (
                Ok(400),
                (2, 2),
                (
                    Some(400),
                    Some("the endpoint answered HTTP 400"),
                    in_secs(10),
                    false,
                ),
            ),
            (
                Ok(199),
                (1, 1),
                (
                    Some(199),
                    Some("the endpoint answered HTTP 199"),
                    in_secs(5),
                    false,
                ),
            ),
            (
                Err(redirect),
                (1, 1),
                (
                    Some(302),
                    Some("redirects are not followed"),
                    in_secs(5),
                    false,
                ),
            ),
            (
                Err(refused),
                (3, 3),
                (None, Some("the address is not public"), in_secs(20), true),
            ),
        ];
        for (answer, counts, (status, error, retry_at, give_up)) in cases {
            let outcome = judge(
                answer.clone(),
                Duration::from_millis(12),
                counts,
                &policy,
                0.5,
                now,
            );
            assert_eq!(
                outcome,
                DeliveryOutcome {
                    status_code: status,
                    duration_ms: 12,
                    error: error.map(str::to_owned),
                    retry_at,
                    give_up,
                },
                "{answer:?} {counts:?}"
            );
        }
    }
}
