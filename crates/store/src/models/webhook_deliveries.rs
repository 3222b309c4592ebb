//! Webhook deliveries in batches: what the worker claims from an endpoint's cursor, and how the
//! outcomes of a batch move the endpoint on.
//!
//! Why batches: one event per claim cost two write transactions per event (the claim and the
//! outcome), and on SQLite each is a durable commit; during an initial sync the deliveries
//! trailed the directory by minutes. So the worker claims up to `per_batch` events of one
//! endpoint in one transaction — requested resends first, then the events after its cursor, in
//! order — sends them one after another, and records every attempt and the cursor's new position
//! in one more transaction ([`Store::finish_webhook_batch`]).
//!
//! What does not change:
//! - **Order per endpoint.** The worker sends a batch's events in order and stops at the first
//!   one not acknowledged; the cursor moves past the acknowledged prefix only, so the failed
//!   event and everything after it are sent again, in order, when the retry is due
//!   ([`settle`]).
//! - **At least once.** The cursor moves only when the batch's outcomes commit: a crash between
//!   sending and that commit leaves the lease to expire, and the next claim sends the same events
//!   again (same ids). Nothing is skipped.
//! - **Leases.** A claim leases the endpoint for `lease_secs`. After a batch's first event, the
//!   worker sends another only while its answer (or timeout) is due before the lease runs out, so
//!   a batch holds the endpoint no longer than one delivery did. Should a batch outlive its lease
//!   anyway (a timeout longer than the lease), its outcomes cannot undo a later worker's: the
//!   cursor only moves forward, and the endpoint's retry state is written only while the lease is
//!   still the one the batch took (its `lease_until`).
//!
//! An endpoint that subscribes to some types only would otherwise keep its cursor on the last
//! event it received and scan every later event of other types on each claim; a claim that finds
//! nothing of its types up to the newest event moves its cursor there. This is safe because
//! positions become visible in order (see `events`): no event can appear later behind the
//! newest one a transaction has seen, and the newest is read before the events are.

use diesel::prelude::*;
use roster_domain::Timestamp;

use super::events::{with_workspace, Event};
use super::webhooks::{disable_endpoint, events_in_reach, EndpointRow};
use super::{DeliveryOutcome, WebhookEndpoint};
use crate::schema::{events, webhook_deliveries, webhook_endpoints, webhook_resends};
use crate::sealing::DataKeys;
use crate::{DbConnection, Store, StoreResult};

/// One event to deliver within a batch.
#[derive(Debug, Clone)]
pub struct PendingDelivery {
    pub event: Event,
    /// Set when this is a requested resend rather than the next event in order.
    pub resend_id: Option<String>,
}

/// Work the worker claimed: deliver `deliveries` to `endpoint`, in order, signed with `secret`.
#[derive(Debug, Clone)]
pub struct WebhookBatch {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
    /// Resends first, then the events after the cursor, oldest first; never empty.
    pub deliveries: Vec<PendingDelivery>,
    /// The lease this claim took (microseconds); it also tells this claim's outcomes from those
    /// of an older claim whose lease ran out.
    pub lease_until: i64,
    /// The newest position when the batch was claimed, when the batch holds every event due up
    /// to it: once all are delivered the cursor moves there, past events of other types.
    pub caught_up_to: Option<i64>,
}

impl WebhookBatch {
    /// The attempt number of delivery `index` of this batch (1 for a first attempt) and the run
    /// of consecutive failures a failure of it would make: the batch's first delivery continues
    /// the endpoint's count, a later one follows a success.
    pub fn attempt_counts(&self, index: usize) -> (u32, u32) {
        let (attempt, failures) = counts(
            index,
            self.endpoint.attempts,
            self.endpoint.consecutive_failures,
        );
        (
            u32::try_from(attempt).unwrap_or(1),
            u32::try_from(failures).unwrap_or(1),
        )
    }
}

fn counts(index: usize, attempts: i32, consecutive_failures: i32) -> (i32, i32) {
    if index == 0 {
        (
            attempts.saturating_add(1),
            consecutive_failures.saturating_add(1),
        )
    } else {
        (1, 1)
    }
}

/// What a batch's outcomes do to its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settlement {
    /// The attempt number of each delivery made, in order: the rows of the delivery log.
    attempts: Vec<i32>,
    /// How many of the batch's first deliveries were acknowledged.
    delivered: usize,
    /// Where the cursor moves, when it moves forward.
    cursor_to: Option<i64>,
    end: End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Nothing was sent (the worker stopped first): the lease is released, nothing else.
    Released,
    /// Every delivery made was acknowledged.
    Delivered,
    /// The last delivery made failed: the endpoint's attempts and consecutive failures now.
    Failed { attempts: i32, failures: i32 },
}

/// The rule behind [`Store::finish_webhook_batch`], for a batch whose deliveries are
/// `(position, is a resend)` and whose attempts ended as `succeeded` (the worker stops at the
/// first failure; anything after one is ignored). The cursor moves to the last acknowledged
/// event in order (resends do not move it), or to `caught_up_to` once every delivery was
/// acknowledged, and never back.
fn settle(
    deliveries: &[(i64, bool)],
    succeeded: &[bool],
    endpoint: &WebhookEndpoint,
    caught_up_to: Option<i64>,
) -> Settlement {
    let made = succeeded
        .iter()
        .position(|ok| !ok)
        .map_or(succeeded.len(), |failed| failed + 1)
        .min(deliveries.len());
    let delivered = succeeded[..made].iter().filter(|ok| **ok).count();
    let attempts = (0..made)
        .map(|index| counts(index, endpoint.attempts, endpoint.consecutive_failures).0)
        .collect();
    let mut cursor_to = deliveries[..delivered]
        .iter()
        .filter(|(_, resend)| !resend)
        .map(|(seq, _)| *seq)
        .max();
    if delivered == deliveries.len() {
        cursor_to = cursor_to.max(caught_up_to);
    }
    let end = if made == 0 {
        End::Released
    } else if delivered == made {
        End::Delivered
    } else {
        let (attempts, failures) =
            counts(made - 1, endpoint.attempts, endpoint.consecutive_failures);
        End::Failed { attempts, failures }
    };
    Settlement {
        attempts,
        delivered,
        cursor_to: cursor_to.filter(|to| *to > endpoint.cursor_seq),
        end,
    }
}

/// The endpoints that may have something to send: enabled, due, unleased, with a resend pending
/// or an event in reach after the cursor (of any type: a claim moves the cursor past the others).
/// Reads only, so an idle worker never takes the write lock.
fn endpoints_with_work(conn: &mut DbConnection, now: i64) -> StoreResult<Vec<String>> {
    let rows: Vec<EndpointRow> = webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .filter(webhook_endpoints::next_attempt_at.le(now))
        .filter(webhook_endpoints::lease_until.le(now))
        .order(webhook_endpoints::next_attempt_at.asc())
        .select(EndpointRow::as_select())
        .load(conn)?;
    let mut ids = Vec::new();
    for row in rows {
        let (endpoint, _) = row.into_domain()?;
        let resend = webhook_resends::table
            .filter(webhook_resends::endpoint_id.eq(&endpoint.id))
            .select(webhook_resends::id);
        let work: bool = diesel::select(diesel::dsl::exists(resend)).get_result(conn)?
            || !events_in_reach(&endpoint)
                .filter(events::seq.gt(endpoint.cursor_seq))
                .select(events::seq)
                .limit(1)
                .load::<i64>(conn)?
                .is_empty();
        if work {
            ids.push(endpoint.id);
        }
    }
    Ok(ids)
}

/// Of `candidates`, those still due and unleased, oldest due first (locked, and skipped by other
/// replicas, on PostgreSQL).
fn lock_due(conn: &mut DbConnection, now: i64, candidates: &[String]) -> StoreResult<Vec<String>> {
    let due = webhook_endpoints::table
        .filter(webhook_endpoints::id.eq_any(candidates))
        .filter(webhook_endpoints::enabled.eq(true))
        .filter(webhook_endpoints::next_attempt_at.le(now))
        .filter(webhook_endpoints::lease_until.le(now))
        .order(webhook_endpoints::next_attempt_at.asc())
        .select(webhook_endpoints::id);
    Ok(match conn {
        DbConnection::Postgres(pg) => due.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(sqlite) => due.load(sqlite)?,
    })
}

/// One event by position, with its workspace's slug.
fn load_event(conn: &mut DbConnection, seq: i64) -> StoreResult<Option<Event>> {
    Ok(with_workspace()
        .filter(events::seq.eq(seq))
        .select(Event::as_select())
        .get_result(conn)
        .optional()?)
}

/// Up to `limit` events `endpoint` is due to receive after its cursor and up to `head`: in
/// reach, of its types, oldest first.
fn due_events(
    conn: &mut DbConnection,
    endpoint: &WebhookEndpoint,
    head: i64,
    limit: usize,
) -> StoreResult<Vec<Event>> {
    let mut due = with_workspace()
        .filter(events::seq.gt(endpoint.cursor_seq))
        .filter(events::seq.le(head))
        .into_boxed();
    match &endpoint.workspace_id {
        Some(workspace_id) => due = due.filter(events::workspace_id.eq(workspace_id.clone())),
        None if !endpoint.workspaces.is_empty() => {
            due = due.filter(events::workspace_id.eq_any(endpoint.workspaces.clone()));
        }
        None => {}
    }
    if !endpoint.event_types.is_empty() {
        due = due.filter(events::event_type.eq_any(endpoint.event_types.clone()));
    }
    Ok(due
        .order(events::seq.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(Event::as_select())
        .load(conn)?)
}

/// Claims one endpoint inside the claiming transaction: its batch, or `None` when it has nothing
/// to send (its cursor then moves past the events it does not take) or another worker leased it
/// first.
fn claim_endpoint(
    conn: &mut DbConnection,
    keys: &DataKeys,
    id: &str,
    now: Timestamp,
    lease_secs: i64,
    per_batch: usize,
) -> StoreResult<Option<WebhookBatch>> {
    let (endpoint, secret) = webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .get_result(conn)?
        .into_domain()?;
    let secret = keys.open(super::webhooks::secret_place(id), &secret)?;
    let resends: Vec<(String, i64)> = webhook_resends::table
        .filter(webhook_resends::endpoint_id.eq(id))
        .order(webhook_resends::created_at.asc())
        .limit(i64::try_from(per_batch).unwrap_or(i64::MAX))
        .select((webhook_resends::id, webhook_resends::event_seq))
        .load(conn)?;
    let mut deliveries = Vec::with_capacity(per_batch);
    for (resend_id, seq) in resends {
        match load_event(conn, seq)? {
            Some(event) => deliveries.push(PendingDelivery {
                event,
                resend_id: Some(resend_id),
            }),
            // Pruned since it was requested: nothing left to resend.
            None => {
                diesel::delete(webhook_resends::table.find(&resend_id)).execute(conn)?;
            }
        }
    }
    let mut caught_up_to = None;
    let room = per_batch.saturating_sub(deliveries.len());
    if room > 0 {
        // The newest position first, then the events up to it (see the module docs).
        let head: Option<i64> = events::table
            .select(diesel::dsl::max(events::seq))
            .get_result(conn)?;
        if let Some(head) = head.filter(|head| *head > endpoint.cursor_seq) {
            let events = due_events(conn, &endpoint, head, room)?;
            if events.len() < room {
                caught_up_to = Some(head);
            }
            deliveries.extend(events.into_iter().map(|event| PendingDelivery {
                event,
                resend_id: None,
            }));
        }
    }
    if deliveries.is_empty() {
        if let Some(head) = caught_up_to {
            diesel::update(
                webhook_endpoints::table
                    .find(id)
                    .filter(webhook_endpoints::cursor_seq.lt(head)),
            )
            .set(webhook_endpoints::cursor_seq.eq(head))
            .execute(conn)?;
        }
        return Ok(None);
    }
    let lease_until = now.plus_seconds(lease_secs).as_micros();
    let leased = diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::lease_until.le(now.as_micros())),
    )
    .set(webhook_endpoints::lease_until.eq(lease_until))
    .execute(conn)?;
    if leased == 0 {
        return Ok(None);
    }
    Ok(Some(WebhookBatch {
        endpoint,
        secret,
        deliveries,
        lease_until,
        caught_up_to,
    }))
}

/// Rows of the delivery log per multi-row INSERT: 11 values each.
const INSERT_CHUNK: usize = 100;

/// Writes one delivery-log row per attempt made, several per statement.
fn log_attempts(
    conn: &mut DbConnection,
    batch: &WebhookBatch,
    attempts: &[i32],
    outcomes: &[DeliveryOutcome],
    now: i64,
) -> StoreResult<()> {
    let rows: Vec<_> = batch
        .deliveries
        .iter()
        .zip(outcomes)
        .zip(attempts)
        .map(|((delivery, outcome), attempt)| {
            (
                webhook_deliveries::id.eq(uuid::Uuid::now_v7().to_string()),
                webhook_deliveries::endpoint_id.eq(&batch.endpoint.id),
                webhook_deliveries::workspace_id.eq(&batch.endpoint.workspace_id),
                webhook_deliveries::event_id.eq(&delivery.event.id),
                webhook_deliveries::event_seq.eq(delivery.event.seq),
                webhook_deliveries::attempt.eq(*attempt),
                webhook_deliveries::status_code.eq(outcome.status_code.map(i32::from)),
                webhook_deliveries::duration_ms.eq(outcome.duration_ms),
                webhook_deliveries::error.eq(&outcome.error),
                webhook_deliveries::resend.eq(delivery.resend_id.is_some()),
                webhook_deliveries::delivered_at.eq(now),
            )
        })
        .collect();
    // Multi-row inserts run on the backend's own connection (diesel's multi-backend connection
    // has no batch insert).
    for chunk in rows.chunks(INSERT_CHUNK) {
        let insert = diesel::insert_into(webhook_deliveries::table).values(chunk);
        match conn {
            DbConnection::Sqlite(inner) => insert.execute(inner)?,
            DbConnection::Postgres(inner) => insert.execute(inner)?,
        };
    }
    Ok(())
}

impl Store {
    /// Claims the batches of up to `endpoints` endpoints with something due, in one transaction:
    /// for each, up to `per_batch` deliveries (see [`WebhookBatch`]), leased for `lease_secs`.
    /// None when nothing is due.
    pub fn claim_webhook_batches(
        &self,
        lease_secs: i64,
        endpoints: usize,
        per_batch: usize,
    ) -> StoreResult<Vec<WebhookBatch>> {
        if endpoints == 0 || per_batch == 0 {
            return Ok(Vec::new());
        }
        let now = Timestamp::now();
        // Pending events get their positions first (PostgreSQL), so the check below sees them.
        self.publish_events()?;
        let candidates = self.read(|conn| endpoints_with_work(conn, now.as_micros()))?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|conn| {
            let mut batches = Vec::new();
            for id in lock_due(conn, now.as_micros(), &candidates)? {
                if batches.len() == endpoints {
                    break;
                }
                batches.extend(claim_endpoint(
                    conn,
                    self.data_keys(),
                    &id,
                    now,
                    lease_secs,
                    per_batch,
                )?);
            }
            Ok(batches)
        })
    }

    /// Records a batch's attempts — `outcomes` in the order of its deliveries, up to and
    /// including the first failure — in one transaction: a delivery-log row each, the
    /// acknowledged resends done, the cursor past the acknowledged events, and then the endpoint
    /// released, or after a failure its retry scheduled (or the endpoint disabled, with a
    /// `webhook.disabled` event, when the failure gives up).
    pub fn finish_webhook_batch(
        &self,
        batch: &WebhookBatch,
        outcomes: &[DeliveryOutcome],
    ) -> StoreResult<()> {
        self.finish_webhook_batch_and_claim_next(batch, outcomes, None)
            .map(|_| ())
    }

    /// [`Store::finish_webhook_batch`], and in the same transaction, when every delivery made
    /// was acknowledged and `next` is given, the claim of the endpoint's next batch (as
    /// [`Store::claim_webhook_batches`] would claim it, with `next`'s lease and size): `None`
    /// when it has nothing more due, was disabled or deleted meanwhile, or the batch failed.
    ///
    /// Why together: while a sync writes, each write transaction waits its turn at SQLite's one
    /// writer behind the sync's, and a batch's claim and its outcomes were two such waits for
    /// one batch sent. A worker that goes on with the same endpoint this way pays one.
    pub fn finish_webhook_batch_and_claim_next(
        &self,
        batch: &WebhookBatch,
        outcomes: &[DeliveryOutcome],
        next: Option<NextBatch>,
    ) -> StoreResult<Option<WebhookBatch>> {
        let positions: Vec<(i64, bool)> = batch
            .deliveries
            .iter()
            .map(|delivery| (delivery.event.seq, delivery.resend_id.is_some()))
            .collect();
        let succeeded: Vec<bool> = outcomes.iter().map(DeliveryOutcome::succeeded).collect();
        let settlement = settle(&positions, &succeeded, &batch.endpoint, batch.caught_up_to);
        let next = next.filter(|_| settlement.end == End::Delivered);
        if next.is_some() {
            // Pending events get their positions first (PostgreSQL), as for any claim.
            self.publish_events()?;
        }
        let now = Timestamp::now();
        self.write(|conn| {
            let released = record_batch(conn, batch, outcomes, &settlement, now)?;
            let Some(next) = next.filter(|_| released) else {
                return Ok(None);
            };
            let id = batch.endpoint.id.clone();
            if lock_due(conn, now.as_micros(), std::slice::from_ref(&id))?.is_empty() {
                return Ok(None);
            }
            claim_endpoint(
                conn,
                self.data_keys(),
                &id,
                now,
                next.lease_secs,
                next.per_batch,
            )
        })
    }
}

/// The lease and size of the batch [`Store::finish_webhook_batch_and_claim_next`] claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextBatch {
    pub lease_secs: i64,
    pub per_batch: usize,
}

/// Writes a batch's outcomes as [`Store::finish_webhook_batch`] describes; `true` when the
/// batch's lease was still the endpoint's and it ended with every delivery acknowledged (the
/// endpoint is released and may be claimed again at once).
fn record_batch(
    conn: &mut DbConnection,
    batch: &WebhookBatch,
    outcomes: &[DeliveryOutcome],
    settlement: &Settlement,
    now: Timestamp,
) -> StoreResult<bool> {
    let id = &batch.endpoint.id;
    log_attempts(conn, batch, &settlement.attempts, outcomes, now.as_micros())?;
    let done: Vec<&String> = batch.deliveries[..settlement.delivered]
        .iter()
        .filter_map(|delivery| delivery.resend_id.as_ref())
        .collect();
    if !done.is_empty() {
        diesel::delete(webhook_resends::table.filter(webhook_resends::id.eq_any(done)))
            .execute(conn)?;
    }
    if let Some(to) = settlement.cursor_to {
        diesel::update(
            webhook_endpoints::table
                .find(id)
                .filter(webhook_endpoints::cursor_seq.lt(to)),
        )
        .set(webhook_endpoints::cursor_seq.eq(to))
        .execute(conn)?;
    }
    // The retry state is this claim's to write only while its lease is the current one.
    let leased = webhook_endpoints::table
        .find(id)
        .filter(webhook_endpoints::lease_until.eq(batch.lease_until));
    let written = match settlement.end {
        End::Released => diesel::update(leased)
            .set(webhook_endpoints::lease_until.eq(0))
            .execute(conn)?,
        End::Delivered => diesel::update(leased)
            .set((
                webhook_endpoints::attempts.eq(0),
                webhook_endpoints::consecutive_failures.eq(0),
                webhook_endpoints::next_attempt_at.eq(now.as_micros()),
                webhook_endpoints::lease_until.eq(0),
            ))
            .execute(conn)?,
        End::Failed { attempts, failures } => {
            let failed = outcomes.get(settlement.attempts.len().saturating_sub(1));
            let retry_at = failed
                .and_then(|outcome| outcome.retry_at)
                .unwrap_or(now)
                .as_micros();
            let written = diesel::update(leased)
                .set((
                    webhook_endpoints::attempts.eq(attempts),
                    webhook_endpoints::consecutive_failures.eq(failures),
                    webhook_endpoints::next_attempt_at.eq(retry_at),
                    webhook_endpoints::lease_until.eq(0),
                ))
                .execute(conn)?;
            if let Some(outcome) = failed.filter(|outcome| written > 0 && outcome.give_up) {
                disable_endpoint(conn, &batch.endpoint, failures, outcome)?;
            }
            written
        }
    };
    if written == 0 {
        tracing::warn!(
            endpoint = %id,
            "a webhook batch finished after its lease passed to another worker; its \
             deliveries are logged and the cursor kept its furthest position"
        );
    }
    Ok(written > 0 && settlement.end == End::Delivered)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn endpoint(cursor_seq: i64, attempts: i32, consecutive_failures: i32) -> WebhookEndpoint {
        WebhookEndpoint {
            id: "e".into(),
            workspace_id: None,
            workspaces: Vec::new(),
            url: "https://hooks.example.com/in".into(),
            event_types: Vec::new(),
            enabled: true,
            disabled_reason: None,
            cursor_seq,
            attempts,
            consecutive_failures,
            next_attempt_at: 0,
            created_at: 0,
        }
    }

    fn check(
        deliveries: &[(i64, bool)],
        succeeded: &[bool],
        (cursor, attempts, failures): (i32, i32, i32),
        caught_up_to: Option<i64>,
        expected: (Vec<i32>, usize, Option<i64>, End),
    ) {
        let settled = settle(
            deliveries,
            succeeded,
            &endpoint(i64::from(cursor), attempts, failures),
            caught_up_to,
        );
        let (attempts, delivered, cursor_to, end) = expected;
        assert_eq!(
            settled,
            Settlement {
                attempts,
                delivered,
                cursor_to,
                end
            },
            "{deliveries:?} {succeeded:?}"
        );
    }

    const OK: bool = true;
    const FAIL: bool = false;

    #[test]
    fn a_delivered_batch_moves_the_cursor_to_its_last_event_or_where_it_caught_up() {
        let three = [(11, false), (12, false), (14, false)];
        check(
            &three,
            &[OK, OK, OK],
            (10, 0, 0),
            None,
            (vec![1, 1, 1], 3, Some(14), End::Delivered),
        );
        // Everything due up to 20 was in the batch: the cursor passes events of other types.
        check(
            &three,
            &[OK, OK, OK],
            (10, 0, 0),
            Some(20),
            (vec![1, 1, 1], 3, Some(20), End::Delivered),
        );
        // A retry that now succeeds: its attempt number continues the endpoint's count.
        check(
            &three,
            &[OK, OK, OK],
            (10, 4, 4),
            None,
            (vec![5, 1, 1], 3, Some(14), End::Delivered),
        );
    }

    #[test]
    fn a_failure_mid_batch_keeps_the_delivered_prefix_and_retries_from_the_failed_event() {
        let three = [(11, false), (12, false), (14, false)];
        let failed_first = End::Failed {
            attempts: 1,
            failures: 1,
        };
        check(
            &three,
            &[OK, FAIL],
            (10, 0, 0),
            Some(20),
            (vec![1, 1], 1, Some(11), failed_first),
        );
        check(
            &three,
            &[OK, OK, FAIL],
            (10, 0, 0),
            None,
            (vec![1, 1, 1], 2, Some(12), failed_first),
        );
        // The first delivery fails again: the run of failures grows, the cursor stays.
        let again = End::Failed {
            attempts: 3,
            failures: 7,
        };
        check(
            &three,
            &[FAIL],
            (10, 2, 6),
            Some(20),
            (vec![3], 0, None, again),
        );
        // Outcomes after a failure are not the worker's (it stops): they are ignored.
        check(
            &three,
            &[FAIL, OK, OK],
            (10, 0, 0),
            None,
            (vec![1], 0, None, failed_first),
        );
    }

    #[test]
    fn resends_do_not_move_the_cursor_and_the_cursor_never_moves_back() {
        let resend_then_event = [(3, true), (11, false)];
        check(
            &resend_then_event,
            &[OK, OK],
            (10, 0, 0),
            None,
            (vec![1, 1], 2, Some(11), End::Delivered),
        );
        check(
            &resend_then_event,
            &[OK, FAIL],
            (10, 0, 0),
            None,
            (
                vec![1, 1],
                1,
                None,
                End::Failed {
                    attempts: 1,
                    failures: 1,
                },
            ),
        );
        check(
            &[(3, true)],
            &[OK],
            (10, 0, 0),
            None,
            (vec![1], 1, None, End::Delivered),
        );
        // Another worker's batch moved the cursor further already (this one's lease ran out).
        check(
            &[(11, false)],
            &[OK],
            (15, 0, 0),
            None,
            (vec![1], 1, None, End::Delivered),
        );
    }

    #[test]
    fn a_batch_with_no_attempt_only_releases_its_lease() {
        check(
            &[(11, false)],
            &[],
            (10, 2, 2),
            Some(20),
            (vec![], 0, None, End::Released),
        );
    }
}
