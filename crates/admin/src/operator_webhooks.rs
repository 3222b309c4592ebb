//! The operator's webhook endpoints (`/api/v1/operator/webhooks`): the SaaS backend registers
//! endpoints of the deployment that receive every workspace's events (or those of the workspaces
//! it lists), `workspace.deleted` included, which no workspace's endpoint can receive.
//!
//! One implementation, two entry points: the handlers are [`crate::webhooks`]'s, for an
//! [`Operator`] instead of a workspace admin, over the same store operations with the deployment
//! as the endpoints' scope; the worker delivers them as it delivers a workspace's (the same
//! signing, retries, disabling and order per endpoint). Only creation differs, by the
//! `workspaces` filter. Only the operator key gets in (a workspace's admin API key is a 403), and
//! every write is audited at deployment level as the operator key.

use actix_web::{web, HttpResponse};
use roster_store::domain::{Actor, WorkspaceId};
use roster_store::{Store, StoreError, WebhookScope};
use serde::Deserialize;
use serde_json::json;

use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::operator::{lookup_workspace, Operator};
use crate::webhooks::{self, WebhookOwner};
use crate::AdminSettings;

impl WebhookOwner for Operator {
    fn read_scope(self, _: &Store) -> Result<WebhookScope, AdminError> {
        Ok(WebhookScope::Deployment)
    }

    fn write_scope(self, _: &Store) -> Result<(Actor, WebhookScope), AdminError> {
        Ok((self.actor(), WebhookScope::Deployment))
    }
}

/// Mounts the routes on the operator API's scope.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::get().to(webhooks::list::<Operator>))
        .route("/webhooks", web::post().to(create))
        .route(
            "/webhooks/event-types",
            web::get().to(webhooks::event_types::<Operator>),
        )
        .route("/webhooks/{id}", web::get().to(webhooks::get::<Operator>))
        .route(
            "/webhooks/{id}",
            web::delete().to(webhooks::delete::<Operator>),
        )
        .route(
            "/webhooks/{id}/enable",
            web::post().to(webhooks::enable::<Operator>),
        )
        .route(
            "/webhooks/{id}/deliveries",
            web::get().to(webhooks::deliveries::<Operator>),
        )
        .route(
            "/webhooks/{id}/resend",
            web::post().to(webhooks::resend::<Operator>),
        );
}

/// The body of `POST /api/v1/operator/webhooks`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDeploymentWebhook {
    url: String,
    /// Event types to deliver (docs/events.md's catalogue); empty or absent: every type.
    #[serde(default)]
    event_types: Vec<String>,
    /// Workspaces (ids or slugs) whose events to deliver; empty or absent: every workspace's,
    /// those created later included.
    #[serde(default)]
    workspaces: Vec<String>,
}

/// `POST /api/v1/operator/webhooks`: 201 with the endpoint and its secret (shown once). A
/// workspace that does not exist, an unknown event type or a refused URL is a 400, and nothing
/// is written.
pub async fn create(
    operator: Operator,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    body: web::Json<CreateDeploymentWebhook>,
) -> Result<HttpResponse, AdminError> {
    let CreateDeploymentWebhook {
        url,
        event_types,
        workspaces,
    } = body.into_inner();
    let lookup = store.clone();
    let workspaces =
        roster_store::blocking(move || resolve_workspaces(&lookup, &workspaces)).await?;
    let created = webhooks::register(
        store,
        &settings,
        operator.actor(),
        WebhookScope::Deployment,
        url,
        event_types,
        workspaces,
    )
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// The workspaces named (by id or slug), each once in the order given; a 400 naming those that
/// do not exist.
fn resolve_workspaces(store: &Store, named: &[String]) -> Result<Vec<WorkspaceId>, AdminError> {
    let mut found: Vec<WorkspaceId> = Vec::new();
    let mut unknown: Vec<&str> = Vec::new();
    for name in named {
        match lookup_workspace(store, name) {
            Ok(workspace) if !found.contains(&workspace.id) => found.push(workspace.id),
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => unknown.push(name),
            Err(err) => return Err(err.into()),
        }
    }
    if !unknown.is_empty() {
        return Err(AdminError::validation(format!(
            "workspaces: no workspace {}",
            unknown
                .iter()
                .map(|name| format!("{name:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_detail(json!({ "field": "workspaces", "unknown": unknown })));
    }
    Ok(found)
}

/// This module's operations, relative to `/api/v1/operator`, for the OpenAPI document.
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/webhooks",
        "listDeploymentWebhooks",
        "The operator's webhook endpoints (every workspace's events, or those of the workspaces listed)",
    )
    .answers(200, schema::<webhooks::WebhookList>),
    Operation::get(
        "/webhooks/event-types",
        "listDeploymentWebhookEventTypes",
        "The event types an endpoint may subscribe to (docs/events.md's catalogue)",
    )
    .answers(200, schema::<webhooks::EventTypes>),
    Operation::post(
        "/webhooks",
        "createDeploymentWebhook",
        "Register an operator webhook endpoint (secret shown once; an unknown event type or workspace is refused)",
    )
    .body(schema::<CreateDeploymentWebhook>)
    .answers(201, schema::<webhooks::CreatedWebhook>),
    Operation::get(
        "/webhooks/{id}",
        "getDeploymentWebhook",
        "One operator webhook endpoint",
    )
    .answers(200, schema::<webhooks::WebhookView>),
    Operation::delete(
        "/webhooks/{id}",
        "deleteDeploymentWebhook",
        "Delete an operator webhook endpoint",
    ),
    Operation::post(
        "/webhooks/{id}/enable",
        "enableDeploymentWebhook",
        "Re-enable a disabled operator endpoint",
    )
    .answers(200, schema::<webhooks::WebhookView>),
    Operation::get(
        "/webhooks/{id}/deliveries",
        "listDeploymentWebhookDeliveries",
        "Delivery log of an operator endpoint",
    )
    .answers(200, schema::<webhooks::DeliveryLog>),
    Operation::post(
        "/webhooks/{id}/resend",
        "resendDeploymentWebhookEvent",
        "Deliver an event again to an operator endpoint",
    )
    .body(schema::<webhooks::Resend>)
    .answers(202, schema::<webhooks::Queued>),
];
