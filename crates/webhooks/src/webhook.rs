//! The webhook outbox: directory events, each endpoint's next one after its cursor (or a
//! requested resend), POSTed as JSON and signed per Standard Webhooks.

use roster_domain::Timestamp;
use roster_outbound::{Client, ReadBody};
use roster_store::{Claim, DeliveryOutcome, Store, StoreResult};

use crate::signing::sign;
use crate::worker::{Failure, Outbox};

/// Webhook deliveries, for the [`crate::Worker`].
#[derive(Debug, Clone, Copy)]
pub struct Webhooks;

impl Outbox for Webhooks {
    type Job = Claim;
    const NAME: &'static str = "webhooks";

    fn describe(&self, claim: &Claim) -> String {
        format!("endpoint {} event {}", claim.endpoint.id, claim.event.id)
    }

    /// One at a time: an endpoint's events go in order, one in flight.
    fn claim(&self, store: &Store, lease_secs: i64, _limit: usize) -> StoreResult<Vec<Claim>> {
        Ok(store
            .claim_webhook_delivery(lease_secs)?
            .into_iter()
            .collect())
    }

    fn attempt_counts(&self, claim: &Claim) -> (u32, u32) {
        let attempt = u32::try_from(claim.endpoint.attempts).unwrap_or(0) + 1;
        let failures = u32::try_from(claim.endpoint.consecutive_failures).unwrap_or(0) + 1;
        (attempt, failures)
    }

    /// Signs the event for this attempt's timestamp and POSTs it.
    fn send(&self, client: &Client, claim: &Claim) -> Result<u16, Failure> {
        let body = claim.event.to_json().to_string();
        let timestamp = Timestamp::now().as_micros() / 1_000_000;
        let signature = sign(&claim.secret, &claim.event.id, timestamp, &body)
            .map_err(|err| Failure::before_sending(err.to_string()))?;
        let timestamp = timestamp.to_string();
        let headers = [
            ("user-agent", "Roster-Webhooks/1"),
            ("webhook-id", claim.event.id.as_str()),
            ("webhook-timestamp", timestamp.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        client
            .post_json(&claim.endpoint.url, &headers, &body, ReadBody::Discard)
            .map(|response| response.status().as_u16())
            .map_err(|err| Failure::outbound(&err, &claim.endpoint.url))
    }

    fn finish(&self, store: &Store, claim: &Claim, outcome: &DeliveryOutcome) -> StoreResult<()> {
        store.finish_webhook_delivery(claim, outcome)?;
        crate::counts::record(&claim.endpoint.id, outcome.succeeded());
        Ok(())
    }
}
