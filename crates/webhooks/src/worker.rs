//! The delivery worker: a thread inside `roster serve` that claims due deliveries from the store,
//! POSTs them signed, and records the outcome. Any number of workers (threads or replicas) can run
//! against one database: a claim is a lease, and an expired lease is claimed again.
//!
//! Deliveries go through the outbound client (`roster-outbound`): the endpoint's address is
//! checked when the worker connects, a redirect is a failed attempt (recorded with its status
//! and a message saying redirects are not followed) and the response body is never read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use roster_domain::Timestamp;
use roster_outbound::{Client, NetworkPolicy, OutboundError, ReadBody, Timeouts};
use roster_store::{Claim, DeliveryOutcome, Store};

use crate::retry::RetryPolicy;
use crate::signing::sign;

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Pause when nothing is due.
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

/// A running worker; stops (after its current delivery) when dropped.
#[derive(Debug)]
pub struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn spawn(store: Store, settings: WorkerSettings) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("webhooks".into())
            .spawn(move || run(&store, &settings, &flag))
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

fn run(store: &Store, settings: &WorkerSettings, stop: &AtomicBool) {
    let client = Client::new(
        settings.network.clone(),
        Timeouts {
            connect: settings.timeout,
            total: settings.timeout,
        },
    );
    while !stop.load(Ordering::SeqCst) {
        match store.claim_webhook_delivery(settings.lease_secs) {
            Ok(Some(claim)) => {
                let outcome = deliver(&client, settings, &claim);
                if let Err(err) = store.finish_webhook_delivery(&claim, &outcome) {
                    tracing::warn!(error = %err, endpoint = %claim.endpoint.id, "could not record a webhook delivery");
                }
            }
            Ok(None) => std::thread::sleep(settings.poll_interval),
            Err(err) => {
                tracing::warn!(error = %err, "webhook worker cannot reach the database");
                std::thread::sleep(settings.poll_interval * 4);
            }
        }
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

/// What the delivery log records for a request that got no acceptable answer: the status of a
/// redirect (the only answer that is an error), and the message without the endpoint's URL.
fn failure(err: &OutboundError, url: &str) -> (Option<u16>, String) {
    let status = match err {
        OutboundError::Redirect { status } => Some(*status),
        _ => None,
    };
    (status, redact_url(&err.to_string(), url))
}

/// One attempt: sign, POST, classify.
fn deliver(client: &Client, settings: &WorkerSettings, claim: &Claim) -> DeliveryOutcome {
    let started = Instant::now();
    let body = claim.event.to_json().to_string();
    let timestamp = Timestamp::now().as_micros() / 1_000_000;
    let attempt = u32::try_from(claim.endpoint.attempts).unwrap_or(0) + 1;
    let failures = u32::try_from(claim.endpoint.consecutive_failures).unwrap_or(0) + 1;
    let timestamp_text = timestamp.to_string();
    let result = sign(&claim.secret, &claim.event.id, timestamp, &body)
        .map_err(|err| (None, err.to_string()))
        .and_then(|signature| {
            let headers = [
                ("user-agent", "Roster-Webhooks/1"),
                ("webhook-id", claim.event.id.as_str()),
                ("webhook-timestamp", timestamp_text.as_str()),
                ("webhook-signature", signature.as_str()),
            ];
            client
                .post_json(&claim.endpoint.url, &headers, &body, ReadBody::Discard)
                .map(|response| response.status().as_u16())
                .map_err(|err| failure(&err, &claim.endpoint.url))
        });
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status_code, error) = match result {
        Ok(status) if (200..300).contains(&status) => (Some(status), None),
        Ok(status) => (
            Some(status),
            Some(format!("the endpoint answered HTTP {status}")),
        ),
        Err((status, err)) => (status, Some(err)),
    };
    if error.is_none() {
        return DeliveryOutcome {
            status_code,
            duration_ms,
            error,
            retry_at: None,
            disable: false,
        };
    }
    let delay = settings.retry.delay(attempt, jitter());
    let retry_at =
        Timestamp::now().as_micros() + i64::try_from(delay.as_micros()).unwrap_or(i64::MAX / 2);
    tracing::info!(endpoint = %claim.endpoint.id, event = %claim.event.id, attempt, error = error.as_deref().unwrap_or_default(), "webhook delivery failed");
    DeliveryOutcome {
        status_code,
        duration_ms,
        error,
        retry_at: Some(Timestamp::from_micros(retry_at)),
        disable: settings.retry.disables(failures),
    }
}

#[cfg(test)]
mod tests {
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
}
