//! The webhook outbox: directory events, a batch of each endpoint's next ones after its cursor
//! (requested resends first), each POSTed as JSON on its own and signed per Standard Webhooks.
//!
//! A batch goes out in order over the client's kept-alive connection, each event only after the
//! previous one was acknowledged, and stops at the first failure: the store then records the
//! acknowledged prefix and schedules the retry of the rest (see `roster_store`'s
//! `webhook_deliveries`). After its first event, a batch sends another only while that one's
//! answer (or its timeout) is due before the claim's lease runs out, and for at most
//! [`BATCH_TIME`]: so a batch never holds the endpoint past its lease (no other worker can take
//! it over while the batch still sends), and a slow endpoint commits its progress as it goes.

use std::time::{Duration, Instant};

use roster_domain::Timestamp;
use roster_outbound::{Client, ReadBody};
use roster_store::{
    DeliveryOutcome, NextBatch, OutboxWake, PendingDelivery, Store, StoreResult, WebhookBatch,
};

use crate::signing::sign;
use crate::worker::{Attempts, Failure, Outbox};

/// Events per batch: enough that a commit per batch costs little per event, few enough that a
/// batch's events weigh little in memory.
pub const BATCH_EVENTS: usize = 256;

/// The longest a batch keeps sending: beyond it, its progress is committed and the endpoint
/// claimed again.
pub const BATCH_TIME: Duration = Duration::from_secs(5);

/// Webhook deliveries, for the [`crate::Worker`].
#[derive(Debug, Clone, Copy)]
pub struct Webhooks;

/// A claimed batch, and when it was claimed (its lease runs from then).
#[derive(Debug)]
pub struct Job {
    batch: WebhookBatch,
    claimed_at: Instant,
}

/// Whether a batch sends its delivery number `index` (from 0), `elapsed` after its claim: the
/// first always (as a single delivery would be), the others while [`BATCH_TIME`] has not passed
/// and an attempt of `timeout` would end before the `lease` does.
fn keeps_sending(index: usize, elapsed: Duration, lease: Duration, timeout: Duration) -> bool {
    index == 0 || (elapsed < BATCH_TIME && elapsed + timeout < lease)
}

impl Outbox for Webhooks {
    type Job = Job;
    const NAME: &'static str = "webhooks";

    fn describe(&self, job: &Job) -> String {
        let batch = &job.batch;
        let first = batch
            .deliveries
            .first()
            .map_or("-", |d| d.event.id.as_str());
        format!(
            "endpoint {} batch of {} from event {first}",
            batch.endpoint.id,
            batch.deliveries.len()
        )
    }

    fn wake<'s>(&self, store: &'s Store) -> &'s OutboxWake {
        store.events_wake()
    }

    /// Up to `limit` endpoints' batches: each endpoint has one batch out at a time.
    fn claim(&self, store: &Store, lease_secs: i64, limit: usize) -> StoreResult<Vec<Job>> {
        let claimed_at = Instant::now();
        Ok(store
            .claim_webhook_batches(lease_secs, limit, BATCH_EVENTS)?
            .into_iter()
            .map(|batch| Job { batch, claimed_at })
            .collect())
    }

    /// Sends the batch in order, stopping at the first failure (see the module docs).
    fn deliver(&self, attempts: &Attempts<'_>, job: &Job) -> Vec<DeliveryOutcome> {
        let batch = &job.batch;
        let mut outcomes = Vec::with_capacity(batch.deliveries.len());
        for (index, delivery) in batch.deliveries.iter().enumerate() {
            let shutting_down = index > 0 && attempts.stopping();
            let elapsed = job.claimed_at.elapsed();
            if shutting_down || !keeps_sending(index, elapsed, attempts.lease(), attempts.timeout())
            {
                break;
            }
            let outcome = attempts.make(
                || format!("endpoint {} event {}", batch.endpoint.id, delivery.event.id),
                batch.attempt_counts(index),
                |client| send(client, batch, delivery),
            );
            let failed = !outcome.succeeded();
            outcomes.push(outcome);
            if failed {
                break;
            }
        }
        outcomes
    }

    /// Records the batch; with `follow_on`, claims the endpoint's next batch in the same
    /// transaction when this one was all delivered.
    fn finish(
        &self,
        store: &Store,
        job: &Job,
        outcomes: &[DeliveryOutcome],
        follow_on: Option<i64>,
    ) -> StoreResult<Option<Job>> {
        let claimed_at = Instant::now();
        let next = follow_on.map(|lease_secs| NextBatch {
            lease_secs,
            per_batch: BATCH_EVENTS,
        });
        let next = store.finish_webhook_batch_and_claim_next(&job.batch, outcomes, next)?;
        for outcome in outcomes {
            crate::counts::record(&job.batch.endpoint.id, outcome.succeeded());
        }
        Ok(next.map(|batch| Job { batch, claimed_at }))
    }
}

/// Signs the event for this attempt's timestamp and POSTs it.
fn send(client: &Client, batch: &WebhookBatch, delivery: &PendingDelivery) -> Result<u16, Failure> {
    let event = &delivery.event;
    let body = event.to_json_text();
    let timestamp = Timestamp::now().as_micros() / 1_000_000;
    let signature = sign(&batch.secret, &event.id, timestamp, &body)
        .map_err(|err| Failure::before_sending(err.to_string()))?;
    let timestamp = timestamp.to_string();
    let headers = [
        ("user-agent", "Roster-Webhooks/1"),
        ("webhook-id", event.id.as_str()),
        ("webhook-timestamp", timestamp.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    client
        .post_json(&batch.endpoint.url, &headers, &body, ReadBody::Discard)
        .map(|response| response.status().as_u16())
        .map_err(|err| Failure::outbound(&err, &batch.endpoint.url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_sends_its_first_event_always_and_the_rest_within_its_time_and_lease() {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        // (index, elapsed since the claim, lease, timeout) -> sends
        let cases = [
            (0, secs(100), secs(60), secs(10), true),
            (1, ms(10), secs(60), secs(10), true),
            (255, ms(4_999), secs(60), secs(10), true),
            (1, secs(5), secs(60), secs(10), false),
            (1, ms(900), secs(2), secs(1), true),
            (1, secs(1), secs(2), secs(1), false),
            (1, ms(0), secs(2), secs(10), false),
            (0, secs(3), secs(2), secs(10), true),
            (1, secs(49), secs(60), secs(10), false),
        ];
        for (index, elapsed, lease, timeout, sends) in cases {
            assert_eq!(
                keeps_sending(index, elapsed, lease, timeout),
                sends,
                "{index} {elapsed:?} {lease:?} {timeout:?}"
            );
        }
    }
}
