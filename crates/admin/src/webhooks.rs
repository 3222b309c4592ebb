//! `/api/v1/admin/webhooks`: endpoints that receive the directory events, their delivery log,
//! re-enabling and resending. An endpoint subscribes to event types of the catalogue
//! (`roster_store::EVENT_TYPES`, docs/events.md) or to all of them; a misspelt type is refused,
//! since it would silently never match. The signing secret is shown once, at creation. Every route asks
//! the policy first (`manage webhooks` for changes), before any URL is checked or resolved.

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_store::{DeliveryRecord, Store, WebhookEndpoint};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation, Success};
use crate::AdminSettings;

fn endpoint_json(endpoint: &WebhookEndpoint) -> Value {
    json!({
        "id": endpoint.id,
        "url": endpoint.url,
        "eventTypes": endpoint.event_types,
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason,
        "consecutiveFailures": endpoint.consecutive_failures,
        "createdAt": roster_store::domain::Timestamp::from_micros(endpoint.created_at).to_rfc3339(),
    })
}

fn delivery_json(delivery: &DeliveryRecord) -> Value {
    json!({
        "id": delivery.id,
        "eventId": delivery.event_id,
        "attempt": delivery.attempt,
        "statusCode": delivery.status_code,
        "durationMs": delivery.duration_ms,
        "error": delivery.error,
        "resend": delivery.resend,
        "at": roster_store::domain::Timestamp::from_micros(delivery.delivered_at).to_rfc3339(),
    })
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
    let permit =
        roster_store::blocking(move || require(&check, &principal, Action::ManageWebhooks)).await?;
    let body = body.into_inner();
    let unknown = roster_store::unknown_event_types(&body.event_types);
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
    let url = body.url.clone();
    web::block(move || outbound.policy().check_url(&url))
        .await?
        .map_err(|reason| AdminError::validation(format!("url: {reason}")))?;
    let secret =
        roster_webhooks::generate_secret().map_err(|err| AdminError::internal(err.to_string()))?;
    let stored_secret = secret.clone();
    let endpoint = roster_store::blocking(move || {
        store.create_webhook(
            permit.actor(),
            permit.workspace_id(),
            &body.url,
            &body.event_types,
            &stored_secret,
        )
    })
    .await?;
    let mut created = endpoint_json(&endpoint);
    created["secret"] = json!(secret);
    Ok(HttpResponse::Created().json(created))
}

/// `GET /api/v1/admin/webhooks/event-types`: the event types an endpoint may subscribe to (the
/// catalogue of docs/events.md), for the console's checklist.
pub async fn event_types(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    roster_store::blocking(move || require_read(&store, &principal).map(|_| ())).await?;
    Ok(HttpResponse::Ok().json(json!({ "eventTypes": roster_store::EVENT_TYPES })))
}

/// `GET /api/v1/admin/webhooks`.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let endpoints = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.list_webhooks(permit.workspace_id())?)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "webhooks": endpoints.iter().map(endpoint_json).collect::<Vec<_>>() })))
}

/// `DELETE /api/v1/admin/webhooks/{id}`.
pub async fn delete(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageWebhooks)?;
        Ok::<_, AdminError>(store.delete_webhook(permit.actor(), permit.workspace_id(), &id)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/admin/webhooks/{id}/enable`: resumes a disabled endpoint where it stopped.
pub async fn enable(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let endpoint = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageWebhooks)?;
        Ok::<_, AdminError>(store.enable_webhook(permit.actor(), permit.workspace_id(), &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(endpoint_json(&endpoint)))
}

/// `GET /api/v1/admin/webhooks/{id}/deliveries`: the latest attempts, newest first.
pub async fn deliveries(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let log = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.webhook_deliveries(permit.workspace_id(), &id, 200)?)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "deliveries": log.iter().map(delivery_json).collect::<Vec<_>>() })))
}

/// The body of `POST /webhooks/{id}/resend`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resend {
    event_id: String,
}

/// `POST /api/v1/admin/webhooks/{id}/resend`: delivers an event again, ahead of the queue.
pub async fn resend(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
    body: web::Json<Resend>,
) -> Result<HttpResponse, AdminError> {
    let event_id = body.into_inner().event_id;
    roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageWebhooks)?;
        Ok::<_, AdminError>(store.resend_webhook_event(permit.workspace_id(), &id, &event_id)?)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(json!({ "status": "queued" })))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation {
        method: "get",
        path: "/webhooks",
        id: "listWebhooks",
        summary: "List webhook endpoints",
        query: None,
        body: None,
        success: Success::Json(200, schema::<serde_json::Value>),
    },
    Operation {
        method: "get",
        path: "/webhooks/event-types",
        id: "listWebhookEventTypes",
        summary: "The event types an endpoint may subscribe to (docs/events.md's catalogue)",
        query: None,
        body: None,
        success: Success::Json(200, schema::<serde_json::Value>),
    },
    Operation {
        method: "post",
        path: "/webhooks",
        id: "createWebhook",
        summary:
            "Register a webhook endpoint (secret shown once; an unknown event type is refused)",
        query: None,
        body: Some(schema::<CreateWebhook>),
        success: Success::Json(201, schema::<serde_json::Value>),
    },
    Operation {
        method: "delete",
        path: "/webhooks/{id}",
        id: "deleteWebhook",
        summary: "Delete a webhook endpoint",
        query: None,
        body: None,
        success: Success::NoContent,
    },
    Operation {
        method: "post",
        path: "/webhooks/{id}/enable",
        id: "enableWebhook",
        summary: "Re-enable a disabled endpoint",
        query: None,
        body: None,
        success: Success::Json(200, schema::<serde_json::Value>),
    },
    Operation {
        method: "get",
        path: "/webhooks/{id}/deliveries",
        id: "listWebhookDeliveries",
        summary: "Delivery log of an endpoint",
        query: None,
        body: None,
        success: Success::Json(200, schema::<serde_json::Value>),
    },
    Operation {
        method: "post",
        path: "/webhooks/{id}/resend",
        id: "resendWebhookEvent",
        summary: "Deliver an event again",
        query: None,
        body: Some(schema::<Resend>),
        success: Success::Json(202, schema::<serde_json::Value>),
    },
];
