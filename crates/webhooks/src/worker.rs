//! The delivery worker: threads inside `roster serve` that claim due work from an outbox in the
//! store, send it, and record the outcome. Two outboxes use it — webhook deliveries
//! ([`crate::webhook`]) and back-channel logouts ([`crate::backchannel`]) — each with threads of
//! its own, so a slow webhook endpoint never holds up a logout. Any number of workers (processes
//! or replicas) can run against one database: a claim is a lease, and an expired lease is
//! claimed again.
//!
//! Per outbox, one thread claims and a pool of delivery threads sends: the claiming thread asks
//! for as many jobs as threads are idle, in one transaction, and hands them over; each delivery
//! thread makes the job's attempts and records their outcomes in one transaction. A job is one
//! logout, or a batch of one webhook endpoint's events (sent in order, one request each). So a
//! receiver that is slow to answer holds one delivery thread, and a burst costs one claim and
//! one commit per batch rather than per delivery.
//!
//! A job that went well may have a follow-on (the endpoint's next batch): the delivery thread
//! claims it in the transaction that records the job, and sends it at once, for up to
//! [`FOLLOW_ON_TIME`]. So while an endpoint has a backlog, a batch costs one write transaction
//! rather than two; on SQLite, where each waits its turn at the one writer behind a sync's
//! writes, that wait was two thirds of a batch's time while the sync's member PATCHes ran.
//!
//! What every outbox shares lives here: the loop, the outbound client (`roster-outbound`: the
//! address is checked when the worker connects, a redirect is a failed attempt, a short response
//! body is read only so the connection can carry the next request), and what an attempt's answer
//! means ([`judge`]: a 2xx is delivered, anything else is retried per the [`RetryPolicy`] until
//! it gives up). The client keeps connections alive, so a batch to one endpoint goes over one
//! connection.
//!
//! When a claim finds nothing, the claiming thread waits on its outbox's wake-up call, which a
//! commit that queued work for it rings (an event written, a logout queued), so work leaves
//! within milliseconds of its commit instead of a poll interval; a delivery thread rings it too
//! when it finishes a job, since the endpoint may have more due. While work is due the loop
//! claims again at once. Claims that find nothing are spaced by at least [`EMPTY_CLAIM_GAP`], so
//! a sync committing thousands of writes a second wakes the claiming thread at most that often
//! while its endpoint's batch is out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use roster_domain::Timestamp;
use roster_outbound::{Client, NetworkPolicy, OutboundError, Timeouts};
use roster_store::{DeliveryOutcome, OutboxWake, Store, StoreResult};

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

/// One outbox the worker drains: where its work comes from, how a job's attempts are made, and
/// where their outcomes go.
pub trait Outbox: Send + Sync + 'static {
    /// One claimed piece of work: what one delivery thread does at a time.
    type Job: Send;
    /// The threads' name, and the `outbox` field of the worker's logs.
    const NAME: &'static str;
    /// What the job is, for logs (ids only: no URL, no token).
    fn describe(&self, job: &Self::Job) -> String;
    /// The wake-up call a commit that queued work for this outbox rings.
    fn wake<'s>(&self, store: &'s Store) -> &'s OutboxWake;
    /// Claims at most `limit` due jobs, each with a lease of `lease_secs`; none when nothing is
    /// due.
    fn claim(&self, store: &Store, lease_secs: i64, limit: usize) -> StoreResult<Vec<Self::Job>>;
    /// Makes the job's attempts, in order, with [`Attempts::make`]: their outcomes.
    fn deliver(&self, attempts: &Attempts<'_>, job: &Self::Job) -> Vec<DeliveryOutcome>;
    /// Records the outcomes; with `follow_on` (a lease of that many seconds), also claims, in
    /// the same transaction, the job that continues this one (the same endpoint's next batch),
    /// if the outbox has such a thing and it is due.
    fn finish(
        &self,
        store: &Store,
        job: &Self::Job,
        outcomes: &[DeliveryOutcome],
        follow_on: Option<i64>,
    ) -> StoreResult<Option<Self::Job>>;
}

/// What a delivery thread makes its attempts with.
#[derive(Debug)]
pub struct Attempts<'a> {
    client: &'a Client,
    settings: &'a WorkerSettings,
    stop: &'a AtomicBool,
    outbox: &'static str,
}

impl Attempts<'_> {
    /// One attempt: `send` with the client, timed, then its answer judged for an attempt with
    /// these `(attempt, consecutive failures)` counts; a failure is logged with `what`.
    pub fn make(
        &self,
        what: impl FnOnce() -> String,
        counts: (u32, u32),
        send: impl FnOnce(&Client) -> Result<u16, Failure>,
    ) -> DeliveryOutcome {
        let started = Instant::now();
        let answer = send(self.client);
        // Only a retry's delay is jittered: a success costs no call to the random source.
        let jitter = match answer {
            Ok(status) if (200..300).contains(&status) => 0.5,
            _ => jitter(),
        };
        let outcome = judge(
            answer,
            started.elapsed(),
            counts,
            &self.settings.retry,
            jitter,
            Timestamp::now(),
        );
        if let Some(error) = &outcome.error {
            tracing::info!(outbox = self.outbox, job = %what(), attempt = counts.0, error = %error, "delivery failed");
        }
        outcome
    }

    /// How long a claim's lease lasts.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.settings.lease_secs).unwrap_or(0))
    }

    /// The longest one attempt takes.
    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// Whether the worker is shutting down (a job of several attempts ends early).
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
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

/// Webhook delivery threads per process: each sends one endpoint's batch at a time, so an
/// endpoint that is slow to answer holds one of them, not the other endpoints' events.
pub const WEBHOOK_THREADS: usize = 4;

/// The least time between two claims that find nothing: see the module docs.
pub const EMPTY_CLAIM_GAP: Duration = Duration::from_millis(5);

/// How long a delivery thread keeps going with the jobs that follow its first (see the module
/// docs) before it hands its outbox back to the claiming thread, which takes the job due longest:
/// so with more busy endpoints than threads, each waits about this long at most for its turn.
pub const FOLLOW_ON_TIME: Duration = Duration::from_secs(1);

impl Worker {
    /// The webhook deliveries: [`WEBHOOK_THREADS`] delivery threads, each taking one endpoint's
    /// batch (an endpoint's events go in order, one batch at a time under its lease).
    pub fn spawn(store: Store, settings: WorkerSettings) -> Self {
        Self::spawn_outbox(store, settings, crate::webhook::Webhooks, WEBHOOK_THREADS)
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
    let wake = outbox.wake(store);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let attempts = Attempts {
                client: &client,
                settings,
                stop,
                outbox: O::NAME,
            };
            let (idle, queue) = (&idle, &queue);
            scope.spawn(move || loop {
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                let Ok(mut job) = next else {
                    return;
                };
                let started = Instant::now();
                loop {
                    let outcomes = outbox.deliver(&attempts, &job);
                    let follow_on = (started.elapsed() < FOLLOW_ON_TIME && !attempts.stopping())
                        .then_some(settings.lease_secs);
                    match outbox.finish(store, &job, &outcomes, follow_on) {
                        Ok(Some(next)) => job = next,
                        Ok(None) => break,
                        Err(err) => {
                            tracing::warn!(error = %err, outbox = O::NAME, job = %outbox.describe(&job), "could not record a delivery");
                            break;
                        }
                    }
                }
                idle.add(1);
                // The job's endpoint may have more due: the claiming thread looks again now.
                wake.notify();
            });
        }
        let mut seen = 0;
        let mut last_empty: Option<Instant> = None;
        while !stop.load(Ordering::SeqCst) {
            let free = idle.wait_for_any(settings.poll_interval);
            if free == 0 {
                continue;
            }
            if let Some(gap) = last_empty.and_then(|at| EMPTY_CLAIM_GAP.checked_sub(at.elapsed())) {
                std::thread::sleep(gap);
            }
            match outbox.claim(store, settings.lease_secs, free) {
                Ok(claimed) if claimed.is_empty() => {
                    last_empty = Some(Instant::now());
                    wake.wait(&mut seen, settings.poll_interval);
                }
                Ok(claimed) => {
                    last_empty = None;
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
