//! Webhook endpoints and their delivery state.
//!
//! Each endpoint keeps a cursor into the events outbox: the last event it acknowledged. The
//! worker claims a due endpoint with a lease (a conditional update, plus `FOR UPDATE SKIP LOCKED`
//! on PostgreSQL so replicas do not queue on each other), delivers the next event after the
//! cursor (or a requested resend first), and records the outcome: success moves the cursor, a
//! failure schedules a retry, and a run of failures disables the endpoint with an event saying
//! so. A crash mid-delivery leaves the lease to expire and the same event to be delivered again
//! (at least once, same `webhook-id`).

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use roster_domain::{Action, Actor, NewAuditEvent, Timestamp, WorkspaceId};
use serde_json::{json, Value};

use super::events::{record_event, Event, NewEvent};
use super::{from_json_list, record_audit, to_json_list};
use crate::schema::{events, webhook_deliveries, webhook_endpoints, webhook_resends};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// A webhook endpoint (its secret is not part of it: see [`Claim`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub workspace_id: String,
    pub url: String,
    /// Event types delivered; empty means all.
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// The position of the last acknowledged event.
    pub cursor_seq: i64,
    pub attempts: i32,
    pub consecutive_failures: i32,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

/// What one endpoint still has to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookBacklog {
    pub endpoint_id: String,
    pub workspace_id: String,
    pub enabled: bool,
    /// Events after its cursor that it subscribes to, plus pending resends.
    pub pending: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
struct EndpointRow {
    id: String,
    workspace_id: String,
    url: String,
    event_types: String,
    secret: String,
    enabled: bool,
    disabled_reason: Option<String>,
    cursor_seq: i64,
    attempts: i32,
    consecutive_failures: i32,
    next_attempt_at: i64,
    created_at: i64,
}

impl EndpointRow {
    fn into_domain(self) -> StoreResult<(WebhookEndpoint, String)> {
        Ok((
            WebhookEndpoint {
                event_types: from_json_list("webhook_endpoints", &self.event_types)?,
                id: self.id,
                workspace_id: self.workspace_id,
                url: self.url,
                enabled: self.enabled,
                disabled_reason: self.disabled_reason,
                cursor_seq: self.cursor_seq,
                attempts: self.attempts,
                consecutive_failures: self.consecutive_failures,
                next_attempt_at: self.next_attempt_at,
                created_at: self.created_at,
            },
            self.secret,
        ))
    }
}

/// One attempt as logged.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRecord {
    pub id: String,
    pub endpoint_id: String,
    pub workspace_id: String,
    pub event_id: String,
    pub event_seq: i64,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub resend: bool,
    pub delivered_at: i64,
}

/// Work the worker claimed: deliver `event` to `endpoint`, signed with `secret`.
#[derive(Debug, Clone)]
pub struct Claim {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
    pub event: Event,
    /// Set when this is a requested resend rather than the next event in order.
    pub resend_id: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    pub status_code: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// When to try again after a failure; `None` after a success.
    pub retry_at: Option<Timestamp>,
    /// Stop retrying (a run of failures reached the retry policy's limit): a webhook endpoint is
    /// disabled, a back-channel logout abandoned.
    pub give_up: bool,
}

impl DeliveryOutcome {
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s)) && self.error.is_none()
    }
}

fn endpoint_json(endpoint: &WebhookEndpoint) -> Value {
    json!({
        "id": endpoint.id,
        "url": endpoint.url,
        "eventTypes": endpoint.event_types,
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason,
    })
}

fn find_endpoint(
    conn: &mut DbConnection,
    workspace_id: &str,
    id: &str,
) -> StoreResult<(WebhookEndpoint, String)> {
    webhook_endpoints::table
        .filter(webhook_endpoints::workspace_id.eq(workspace_id))
        .filter(webhook_endpoints::id.eq(id))
        .select(EndpointRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(StoreError::NotFound {
            what: "webhook endpoint",
        })?
        .into_domain()
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// The id of one due, unleased endpoint, if any.
fn due_endpoint(conn: &mut DbConnection, now: i64) -> StoreResult<Option<String>> {
    match conn {
        DbConnection::Postgres(inner) => Ok(diesel::sql_query(
            "SELECT id FROM webhook_endpoints WHERE enabled AND next_attempt_at <= $1 AND lease_until <= $1 \
             ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .bind::<BigInt, _>(now)
        .get_result::<IdRow>(inner)
        .optional()?
        .map(|row| row.id)),
        DbConnection::Sqlite(_) => Ok(webhook_endpoints::table
            .filter(webhook_endpoints::enabled.eq(true))
            .filter(webhook_endpoints::next_attempt_at.le(now))
            .filter(webhook_endpoints::lease_until.le(now))
            .order(webhook_endpoints::next_attempt_at.asc())
            .select(webhook_endpoints::id)
            .first(conn)
            .optional()?),
    }
}

impl Store {
    /// Registers an endpoint; it receives events from now on. The caller generated `secret`
    /// (shown to the admin once) and checked the URL.
    pub fn create_webhook(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        url: &str,
        event_types: &[String],
        secret: &str,
    ) -> StoreResult<WebhookEndpoint> {
        let id = uuid::Uuid::now_v7().to_string();
        // The endpoint starts after every event committed so far, published or not.
        self.publish_events()?;
        self.write(|conn| {
            let head: Option<i64> = events::table
                .filter(events::workspace_id.eq(workspace_id.to_string()))
                .select(diesel::dsl::max(events::seq))
                .first(conn)?;
            let now = Timestamp::now().as_micros();
            diesel::insert_into(webhook_endpoints::table)
                .values((
                    webhook_endpoints::id.eq(&id),
                    webhook_endpoints::workspace_id.eq(workspace_id.to_string()),
                    webhook_endpoints::url.eq(url),
                    webhook_endpoints::event_types.eq(to_json_list(event_types)),
                    webhook_endpoints::secret.eq(secret),
                    webhook_endpoints::cursor_seq.eq(head.unwrap_or(0)),
                    webhook_endpoints::next_attempt_at.eq(now),
                    webhook_endpoints::created_at.eq(now),
                ))
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("webhook.created"),
                    target_kind: "webhook",
                    target_id: id.clone(),
                    detail: json!({ "url": url, "eventTypes": event_types }).to_string(),
                },
            )?;
            Ok(find_endpoint(conn, &workspace_id.to_string(), &id)?.0)
        })
    }

    pub fn list_webhooks(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<WebhookEndpoint>> {
        self.read(|conn| {
            webhook_endpoints::table
                .filter(webhook_endpoints::workspace_id.eq(workspace_id.to_string()))
                .order(webhook_endpoints::created_at.asc())
                .select(EndpointRow::as_select())
                .load(conn)?
                .into_iter()
                .map(|row| row.into_domain().map(|(endpoint, _)| endpoint))
                .collect()
        })
    }

    pub fn webhook(&self, workspace_id: WorkspaceId, id: &str) -> StoreResult<WebhookEndpoint> {
        self.read(|conn| Ok(find_endpoint(conn, &workspace_id.to_string(), id)?.0))
    }

    pub fn delete_webhook(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: &str,
    ) -> StoreResult<()> {
        self.write(|conn| {
            find_endpoint(conn, &workspace_id.to_string(), id)?;
            diesel::delete(webhook_endpoints::table.find(id)).execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("webhook.deleted"),
                    target_kind: "webhook",
                    target_id: id.to_owned(),
                    detail: "{}".to_owned(),
                },
            )
        })
    }

    /// Re-enables a disabled endpoint; delivery resumes where it stopped.
    pub fn enable_webhook(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: &str,
    ) -> StoreResult<WebhookEndpoint> {
        self.write(|conn| {
            find_endpoint(conn, &workspace_id.to_string(), id)?;
            diesel::update(webhook_endpoints::table.find(id))
                .set((
                    webhook_endpoints::enabled.eq(true),
                    webhook_endpoints::disabled_reason.eq(None::<String>),
                    webhook_endpoints::consecutive_failures.eq(0),
                    webhook_endpoints::attempts.eq(0),
                    webhook_endpoints::next_attempt_at.eq(Timestamp::now().as_micros()),
                ))
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("webhook.enabled"),
                    target_kind: "webhook",
                    target_id: id.to_owned(),
                    detail: "{}".to_owned(),
                },
            )?;
            Ok(find_endpoint(conn, &workspace_id.to_string(), id)?.0)
        })
    }

    /// Asks for an event to be delivered again (ahead of the endpoint's next event).
    pub fn resend_webhook_event(
        &self,
        workspace_id: WorkspaceId,
        endpoint_id: &str,
        event_id: &str,
    ) -> StoreResult<()> {
        self.write(|conn| {
            find_endpoint(conn, &workspace_id.to_string(), endpoint_id)?;
            let seq: i64 = events::table
                .filter(events::workspace_id.eq(workspace_id.to_string()))
                .filter(events::id.eq(event_id))
                .select(events::seq)
                .get_result(conn)
                .optional()?
                .ok_or(StoreError::NotFound { what: "event" })?;
            diesel::insert_into(webhook_resends::table)
                .values((
                    webhook_resends::id.eq(uuid::Uuid::now_v7().to_string()),
                    webhook_resends::endpoint_id.eq(endpoint_id),
                    webhook_resends::event_seq.eq(seq),
                    webhook_resends::created_at.eq(Timestamp::now().as_micros()),
                ))
                .execute(conn)?;
            diesel::update(webhook_endpoints::table.find(endpoint_id))
                .set(webhook_endpoints::next_attempt_at.eq(Timestamp::now().as_micros()))
                .execute(conn)?;
            Ok(())
        })
    }

    /// An endpoint's delivery log, newest first.
    pub fn webhook_deliveries(
        &self,
        workspace_id: WorkspaceId,
        endpoint_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        self.read(|conn| {
            find_endpoint(conn, &workspace_id.to_string(), endpoint_id)?;
            Ok(webhook_deliveries::table
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
                .order(webhook_deliveries::delivered_at.desc())
                .limit(limit)
                .select(DeliveryRecord::as_select())
                .load(conn)?)
        })
    }

    /// Every endpoint's backlog, for `/metrics`: the events after its cursor that it subscribes
    /// to, plus the resends it has pending. Events not yet published (PostgreSQL's outbox) are
    /// not counted: they have no position yet. Reads only.
    pub fn webhook_backlogs(&self) -> StoreResult<Vec<WebhookBacklog>> {
        self.read(|conn| {
            let rows: Vec<EndpointRow> = webhook_endpoints::table
                .order(webhook_endpoints::id.asc())
                .select(EndpointRow::as_select())
                .load(conn)?;
            let mut backlogs = Vec::with_capacity(rows.len());
            for row in rows {
                let (endpoint, _) = row.into_domain()?;
                let mut after_cursor = events::table
                    .filter(events::workspace_id.eq(&endpoint.workspace_id))
                    .filter(events::seq.gt(endpoint.cursor_seq))
                    .into_boxed();
                if !endpoint.event_types.is_empty() {
                    after_cursor = after_cursor
                        .filter(events::event_type.eq_any(endpoint.event_types.clone()));
                }
                let events_pending: i64 = after_cursor.count().get_result(conn)?;
                let resends_pending: i64 = webhook_resends::table
                    .filter(webhook_resends::endpoint_id.eq(&endpoint.id))
                    .count()
                    .get_result(conn)?;
                backlogs.push(WebhookBacklog {
                    endpoint_id: endpoint.id,
                    workspace_id: endpoint.workspace_id,
                    enabled: endpoint.enabled,
                    pending: events_pending + resends_pending,
                });
            }
            Ok(backlogs)
        })
    }

    /// Claims the next delivery due, for `lease_secs`; `None` when nothing is due.
    pub fn claim_webhook_delivery(&self, lease_secs: i64) -> StoreResult<Option<Claim>> {
        let now = Timestamp::now();
        // A read first, so an idle worker never takes the write lock.
        let anything_due: i64 = self.read(|conn| {
            Ok(webhook_endpoints::table
                .filter(webhook_endpoints::enabled.eq(true))
                .filter(webhook_endpoints::next_attempt_at.le(now.as_micros()))
                .filter(webhook_endpoints::lease_until.le(now.as_micros()))
                .count()
                .get_result(conn)?)
        })?;
        if anything_due == 0 {
            return Ok(None);
        }
        self.publish_events()?;
        self.write(|conn| {
            let Some(id) = due_endpoint(conn, now.as_micros())? else {
                return Ok(None);
            };
            let claimed = diesel::update(
                webhook_endpoints::table
                    .filter(webhook_endpoints::id.eq(&id))
                    .filter(webhook_endpoints::lease_until.le(now.as_micros())),
            )
            .set(webhook_endpoints::lease_until.eq(now.plus_seconds(lease_secs).as_micros()))
            .execute(conn)?;
            if claimed == 0 {
                return Ok(None);
            }
            let row: EndpointRow = webhook_endpoints::table
                .find(&id)
                .select(EndpointRow::as_select())
                .get_result(conn)?;
            let (endpoint, secret) = row.into_domain()?;
            let resend: Option<(String, i64)> = webhook_resends::table
                .filter(webhook_resends::endpoint_id.eq(&id))
                .order(webhook_resends::created_at.asc())
                .select((webhook_resends::id, webhook_resends::event_seq))
                .first(conn)
                .optional()?;
            let (event, resend_id) = match resend {
                Some((resend_id, seq)) => {
                    let event = events::table
                        .find(seq)
                        .select(Event::as_select())
                        .get_result(conn)
                        .optional()?;
                    if event.is_none() {
                        diesel::delete(webhook_resends::table.find(&resend_id)).execute(conn)?;
                    }
                    (event, Some(resend_id))
                }
                None => {
                    let mut next = events::table
                        .filter(events::workspace_id.eq(&endpoint.workspace_id))
                        .filter(events::seq.gt(endpoint.cursor_seq))
                        .into_boxed();
                    if !endpoint.event_types.is_empty() {
                        next = next.filter(events::event_type.eq_any(endpoint.event_types.clone()));
                    }
                    (
                        next.order(events::seq.asc())
                            .select(Event::as_select())
                            .first(conn)
                            .optional()?,
                        None,
                    )
                }
            };
            let Some(event) = event else {
                // Nothing to send: release, and look again shortly.
                diesel::update(webhook_endpoints::table.find(&id))
                    .set((
                        webhook_endpoints::lease_until.eq(0),
                        webhook_endpoints::next_attempt_at.eq(now.plus_seconds(1).as_micros()),
                    ))
                    .execute(conn)?;
                return Ok(None);
            };
            Ok(Some(Claim {
                endpoint,
                secret,
                event,
                resend_id,
            }))
        })
    }

    /// Records an attempt and moves the endpoint on: success advances its cursor (or completes the
    /// resend), failure schedules the retry or disables the endpoint (with a `webhook.disabled`
    /// event).
    pub fn finish_webhook_delivery(
        &self,
        claim: &Claim,
        outcome: &DeliveryOutcome,
    ) -> StoreResult<()> {
        let now = Timestamp::now();
        self.write(|conn| {
            let attempt = claim.endpoint.attempts + 1;
            diesel::insert_into(webhook_deliveries::table)
                .values((
                    webhook_deliveries::id.eq(uuid::Uuid::now_v7().to_string()),
                    webhook_deliveries::endpoint_id.eq(&claim.endpoint.id),
                    webhook_deliveries::workspace_id.eq(&claim.endpoint.workspace_id),
                    webhook_deliveries::event_id.eq(&claim.event.id),
                    webhook_deliveries::event_seq.eq(claim.event.seq),
                    webhook_deliveries::attempt.eq(attempt),
                    webhook_deliveries::status_code.eq(outcome.status_code.map(i32::from)),
                    webhook_deliveries::duration_ms.eq(outcome.duration_ms),
                    webhook_deliveries::error.eq(&outcome.error),
                    webhook_deliveries::resend.eq(claim.resend_id.is_some()),
                    webhook_deliveries::delivered_at.eq(now.as_micros()),
                ))
                .execute(conn)?;
            let endpoint = webhook_endpoints::table.find(&claim.endpoint.id);
            if outcome.succeeded() {
                match &claim.resend_id {
                    Some(resend_id) => {
                        diesel::delete(webhook_resends::table.find(resend_id)).execute(conn)?;
                    }
                    None => {
                        diesel::update(endpoint)
                            .set(webhook_endpoints::cursor_seq.eq(claim.event.seq))
                            .execute(conn)?;
                    }
                }
                diesel::update(endpoint)
                    .set((
                        webhook_endpoints::attempts.eq(0),
                        webhook_endpoints::consecutive_failures.eq(0),
                        webhook_endpoints::next_attempt_at.eq(now.as_micros()),
                        webhook_endpoints::lease_until.eq(0),
                    ))
                    .execute(conn)?;
                return Ok(());
            }
            let retry_at = outcome.retry_at.unwrap_or(now).as_micros();
            diesel::update(endpoint)
                .set((
                    webhook_endpoints::attempts.eq(attempt),
                    webhook_endpoints::consecutive_failures
                        .eq(webhook_endpoints::consecutive_failures + 1),
                    webhook_endpoints::next_attempt_at.eq(retry_at),
                    webhook_endpoints::lease_until.eq(0),
                ))
                .execute(conn)?;
            if outcome.give_up {
                let reason = format!(
                    "disabled after {} consecutive failed deliveries (last: {})",
                    claim.endpoint.consecutive_failures + 1,
                    outcome
                        .error
                        .clone()
                        .or(outcome.status_code.map(|s| format!("HTTP {s}")))
                        .unwrap_or_default()
                );
                diesel::update(endpoint)
                    .set((
                        webhook_endpoints::enabled.eq(false),
                        webhook_endpoints::disabled_reason.eq(&reason),
                    ))
                    .execute(conn)?;
                let workspace_id: WorkspaceId = claim
                    .endpoint
                    .workspace_id
                    .parse()
                    .map_err(super::corrupt("webhook_endpoints"))?;
                let (disabled, _) =
                    find_endpoint(conn, &claim.endpoint.workspace_id, &claim.endpoint.id)?;
                record_event(
                    conn,
                    NewEvent {
                        workspace_id,
                        event_type: "webhook.disabled",
                        actor: &Actor::System,
                        resource_kind: "webhook",
                        resource_id: claim.endpoint.id.clone(),
                        resource: endpoint_json(&disabled),
                        changed: Some(vec!["enabled".to_owned()]),
                    },
                )?;
            }
            Ok(())
        })
    }
}
