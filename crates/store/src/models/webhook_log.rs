//! The webhook delivery log's retention: a row per attempt (an initial sync adds one per event)
//! would otherwise stay forever.
//!
//! [`Store::prune_webhook_deliveries`] deletes, endpoint by endpoint, the attempts older than the
//! retention, and every row of an endpoint that no longer exists (deleting an endpoint leaves its
//! log: one delete of hundreds of thousands of rows would hold the writer, and the memory of the
//! whole delete, at once). It keeps the attempts at an event the endpoint has not delivered yet
//! (after its cursor), however old: they say why the endpoint is stuck. Each write deletes at most
//! [`DELIVERY_LOG_PRUNE_BATCH`] rows through the `(endpoint_id, delivered_at)` index, so a writer waits behind
//! it for no longer than a small batch.

use diesel::prelude::*;
use roster_domain::Timestamp;

use crate::schema::{webhook_deliveries, webhook_endpoints};
use crate::{Store, StoreResult};

/// Most delivery-log rows one pruning transaction deletes.
pub const DELIVERY_LOG_PRUNE_BATCH: i64 = 2_000;

impl Store {
    /// Deletes the delivery-log rows past retention (attempts older than `before` at events their
    /// endpoint has delivered) and those of deleted endpoints, at most [`DELIVERY_LOG_PRUNE_BATCH`] per
    /// transaction; returns how many.
    pub fn prune_webhook_deliveries(&self, before: Timestamp) -> StoreResult<usize> {
        let (endpoints, logged) = self.read(|conn| {
            let endpoints: Vec<(String, i64)> = webhook_endpoints::table
                .select((webhook_endpoints::id, webhook_endpoints::cursor_seq))
                .load(conn)?;
            let logged: Vec<String> = webhook_deliveries::table
                .select(webhook_deliveries::endpoint_id)
                .distinct()
                .load(conn)?;
            Ok((endpoints, logged))
        })?;
        let mut pruned = 0;
        for (id, cursor_seq) in &endpoints {
            pruned += self.prune_endpoint_log(id, Some((before.as_micros(), *cursor_seq)))?;
        }
        for id in logged {
            if !endpoints.iter().any(|(endpoint, _)| *endpoint == id) {
                pruned += self.prune_endpoint_log(&id, None)?;
            }
        }
        Ok(pruned)
    }

    /// Deletes an endpoint's log rows in batches: with `Some((before, cursor_seq))` those older
    /// than `before` at events up to `cursor_seq`, with `None` (a deleted endpoint) all of them.
    fn prune_endpoint_log(&self, id: &str, keep: Option<(i64, i64)>) -> StoreResult<usize> {
        let mut pruned = 0;
        loop {
            let deleted = self.write(|conn| {
                let mut batch = webhook_deliveries::table
                    .filter(webhook_deliveries::endpoint_id.eq(id))
                    .select(webhook_deliveries::id)
                    .limit(DELIVERY_LOG_PRUNE_BATCH)
                    .into_boxed();
                if let Some((before, cursor_seq)) = keep {
                    batch = batch
                        .filter(webhook_deliveries::delivered_at.lt(before))
                        .filter(webhook_deliveries::event_seq.le(cursor_seq));
                }
                let ids: Vec<String> = batch.load(conn)?;
                if ids.is_empty() {
                    return Ok(0);
                }
                Ok(diesel::delete(
                    webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)),
                )
                .execute(conn)?)
            })?;
            pruned += deleted;
            if deleted < usize::try_from(DELIVERY_LOG_PRUNE_BATCH).unwrap_or(usize::MAX) {
                return Ok(pruned);
            }
        }
    }
}
