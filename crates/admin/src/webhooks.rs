//! `/api/v1/admin/webhooks`: endpoints that receive the directory events, their delivery log,
//! re-enabling and resending. An endpoint subscribes to event types of the catalogue
//! (`roster_store::EVENT_TYPES`, docs/events.md) or to all of them; a misspelt type is refused,
//! since it would silently never match. The signing secret is shown once, at creation. Every route asks
//! the policy first (`manage webhooks` for changes), before any URL is checked or resolved.
//!
//! The same handlers serve the operator's endpoints at `/api/v1/operator/webhooks`
//! ([`crate::operator_webhooks`]): a [`WebhookOwner`] says whose endpoints a request reaches.

use actix_web::{web, FromRequest, HttpResponse};
use roster_policy::admin::Action;
use roster_store::domain::{Actor, Timestamp, WorkspaceId};
use roster_store::{DeliveryRecord, NewWebhook, Store, WebhookEndpoint, WebhookScope};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::AdminSettings;

/// A webhook endpoint (never its secret, except once in [`CreatedWebhook`]).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    /// The event types it receives; empty: every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why Roster disabled it (too many failed deliveries), when it did.
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i32,
    pub created_at: String,
    /// The operator's endpoints only: the ids of the workspaces whose events it receives;
    /// empty: every workspace's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<Vec<String>>,
}

impl From<&WebhookEndpoint> for WebhookView {
    fn from(endpoint: &WebhookEndpoint) -> Self {
        WebhookView {
            id: endpoint.id.clone(),
            url: endpoint.url.clone(),
            event_types: endpoint.event_types.clone(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            consecutive_failures: endpoint.consecutive_failures,
            created_at: Timestamp::from_micros(endpoint.created_at).to_rfc3339(),
            workspaces: endpoint
                .workspace_id
                .is_none()
                .then(|| endpoint.workspaces.clone()),
        }
    }
}

/// An endpoint just registered, with its signing secret: shown this once.
#[derive(Serialize, schemars::JsonSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub endpoint: WebhookView,
    /// The secret that signs every delivery (docs/events.md says how to check it).
    pub secret: String,
}

/// The answer of `GET /webhooks`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// The answer of `GET /webhooks/event-types`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypes {
    pub event_types: &'static [&'static str],
}

/// One delivery attempt of an event to an endpoint.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub attempt: i32,
    /// The endpoint's HTTP status; null when no answer came.
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// Whether an admin asked for this delivery.
    pub resend: bool,
    pub at: String,
}

impl From<&DeliveryRecord> for DeliveryView {
    fn from(delivery: &DeliveryRecord) -> Self {
        DeliveryView {
            id: delivery.id.clone(),
            event_id: delivery.event_id.clone(),
            attempt: delivery.attempt,
            status_code: delivery.status_code,
            duration_ms: delivery.duration_ms,
            error: delivery.error.clone(),
            resend: delivery.resend,
            at: Timestamp::from_micros(delivery.delivered_at).to_rfc3339(),
        }
    }
}

/// The answer of `GET /webhooks/{id}/deliveries`, newest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DeliveryLog {
    pub deliveries: Vec<DeliveryView>,
}

/// The answer of `POST /webhooks/{id}/resend`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Queued {
    /// Always `queued`: the delivery happens ahead of the queue, not in this request.
    pub status: &'static str,
}

/// Who manages webhook endpoints, and which: a workspace admin its workspace's (the policy
/// decides, per request), the operator the deployment's ([`crate::operator_webhooks`]). The
/// handlers below serve both entry points, `/api/v1/admin/webhooks` and
/// `/api/v1/operator/webhooks`.
pub(crate) trait WebhookOwner: FromRequest + Send + 'static {
    /// The endpoints the caller may read.
    fn read_scope(self, store: &Store) -> Result<WebhookScope, AdminError>;
    /// The endpoints the caller may change, and who the audit trail names.
    fn write_scope(self, store: &Store) -> Result<(Actor, WebhookScope), AdminError>;
}

impl WebhookOwner for Principal {
    fn read_scope(self, store: &Store) -> Result<WebhookScope, AdminError> {
        Ok(require_read(store, &self)?.workspace_id().into())
    }

    fn write_scope(self, store: &Store) -> Result<(Actor, WebhookScope), AdminError> {
        let permit = require(store, &self, Action::ManageWebhooks)?;
        Ok((permit.actor().clone(), permit.workspace_id().into()))
    }
}

/// The body of `POST /webhooks`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    #[serde(default)]
    event_types: Vec<String>,
}

/// `POST /api/v1/admin/webhooks`: 201 with the endpoint and its secret (shown once).
pub async fn create(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    body: web::Json<CreateWebhook>,
) -> Result<HttpResponse, AdminError> {
    let check = store.clone();
    let (actor, scope) = roster_store::blocking(move || principal.write_scope(&check)).await?;
    let CreateWebhook { url, event_types } = body.into_inner();
    let created = register(store, &settings, actor, scope, url, event_types, Vec::new()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Registers an endpoint of `scope` for `actor`, who may: refuses an event type outside the
/// catalogue (it would never match) and a URL the outbound policy refuses, before anything is
/// written; generates the secret.
pub(crate) async fn register(
    store: web::Data<Store>,
    settings: &AdminSettings,
    actor: Actor,
    scope: WebhookScope,
    url: String,
    event_types: Vec<String>,
    workspaces: Vec<WorkspaceId>,
) -> Result<CreatedWebhook, AdminError> {
    let unknown = roster_store::unknown_event_types(&event_types);
    if !unknown.is_empty() {
        return Err(AdminError::validation(format!(
            "eventTypes: unknown event type{} {}; the event types are {}",
            if unknown.len() == 1 { "" } else { "s" },
            unknown
                .iter()
                .map(|t| format!("{t:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            roster_store::EVENT_TYPES.join(", ")
        ))
        .with_detail(json!({
            "field": "eventTypes",
            "unknown": unknown,
            "valid": roster_store::EVENT_TYPES,
        })));
    }
    let outbound = settings.outbound.clone();
    let checked = url.clone();
    web::block(move || outbound.policy().check_url(&checked))
        .await?
        .map_err(|reason| AdminError::validation(format!("url: {reason}")))?;
    let secret =
        roster_webhooks::generate_secret().map_err(|err| AdminError::internal(err.to_string()))?;
    let stored_secret = secret.clone();
    let endpoint = roster_store::blocking(move || {
        store.create_webhook(
            &actor,
            scope,
            NewWebhook {
                url: &url,
                event_types: &event_types,
                workspaces: &workspaces,
                secret: &stored_secret,
            },
        )
    })
    .await?;
    Ok(CreatedWebhook {
        endpoint: WebhookView::from(&endpoint),
        secret,
    })
}

/// `GET /webhooks/event-types`: the event types an endpoint may subscribe to (the catalogue of
/// docs/events.md), for the console's checklist.
pub async fn event_types<O: WebhookOwner>(
    owner: O,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    roster_store::blocking(move || owner.read_scope(&store).map(|_| ())).await?;
    Ok(HttpResponse::Ok().json(EventTypes {
        event_types: roster_store::EVENT_TYPES,
    }))
}

/// `GET /webhooks`.
pub async fn list<O: WebhookOwner>(
    owner: O,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let endpoints = roster_store::blocking(move || {
        let scope = owner.read_scope(&store)?;
        Ok::<_, AdminError>(store.list_webhooks(scope)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        webhooks: endpoints.iter().map(WebhookView::from).collect(),
    }))
}

/// `GET /webhooks/{id}`.
pub async fn get<O: WebhookOwner>(
    owner: O,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let endpoint = roster_store::blocking(move || {
        let scope = owner.read_scope(&store)?;
        Ok::<_, AdminError>(store.webhook(scope, &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(&endpoint)))
}

/// `DELETE /webhooks/{id}`.
pub async fn delete<O: WebhookOwner>(
    owner: O,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    roster_store::blocking(move || {
        let (actor, scope) = owner.write_scope(&store)?;
        Ok::<_, AdminError>(store.delete_webhook(&actor, scope, &id)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /webhooks/{id}/enable`: resumes a disabled endpoint where it stopped.
pub async fn enable<O: WebhookOwner>(
    owner: O,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let endpoint = roster_store::blocking(move || {
        let (actor, scope) = owner.write_scope(&store)?;
        Ok::<_, AdminError>(store.enable_webhook(&actor, scope, &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(&endpoint)))
}

/// `GET /webhooks/{id}/deliveries`: the latest attempts, newest first.
pub async fn deliveries<O: WebhookOwner>(
    owner: O,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let log = roster_store::blocking(move || {
        let scope = owner.read_scope(&store)?;
        Ok::<_, AdminError>(store.webhook_deliveries(scope, &id, 200)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryLog {
        deliveries: log.iter().map(DeliveryView::from).collect(),
    }))
}

/// The body of `POST /webhooks/{id}/resend`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resend {
    event_id: String,
}

/// `POST /webhooks/{id}/resend`: delivers an event again, ahead of the queue.
pub async fn resend<O: WebhookOwner>(
    owner: O,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
    body: web::Json<Resend>,
) -> Result<HttpResponse, AdminError> {
    let event_id = body.into_inner().event_id;
    roster_store::blocking(move || {
        let (_, scope) = owner.write_scope(&store)?;
        Ok::<_, AdminError>(store.resend_webhook_event(scope, &id, &event_id)?)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(Queued { status: "queued" }))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get("/webhooks", "listWebhooks", "List webhook endpoints")
        .answers(200, schema::<WebhookList>),
    Operation::get(
        "/webhooks/event-types",
        "listWebhookEventTypes",
        "The event types an endpoint may subscribe to (docs/events.md's catalogue)",
    )
    .answers(200, schema::<EventTypes>),
    Operation::post(
        "/webhooks",
        "createWebhook",
        "Register a webhook endpoint (secret shown once; an unknown event type is refused)",
    )
    .body(schema::<CreateWebhook>)
    .answers(201, schema::<CreatedWebhook>),
    Operation::get("/webhooks/{id}", "getWebhook", "One webhook endpoint")
        .answers(200, schema::<WebhookView>),
    Operation::delete(
        "/webhooks/{id}",
        "deleteWebhook",
        "Delete a webhook endpoint",
    ),
    Operation::post(
        "/webhooks/{id}/enable",
        "enableWebhook",
        "Re-enable a disabled endpoint",
    )
    .answers(200, schema::<WebhookView>),
    Operation::get(
        "/webhooks/{id}/deliveries",
        "listWebhookDeliveries",
        "Delivery log of an endpoint",
    )
    .answers(200, schema::<DeliveryLog>),
    Operation::post(
        "/webhooks/{id}/resend",
        "resendWebhookEvent",
        "Deliver an event again",
    )
    .body(schema::<Resend>)
    .answers(202, schema::<Queued>),
];
