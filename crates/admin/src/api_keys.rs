//! `/api/v1/admin/api-keys`: the workspace's admin API keys, listed without their secret (id,
//! name, hint, dates) and revoked one by one — a leaked key is refused from its next request
//! on. Keys are created by the operator (`roster api-key create`), not here. Revoking asks the
//! policy (`manage API keys`) and is audited as `api_key.revoked`.

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_store::domain::TokenId;
use roster_store::{KeyInfo, Store};
use serde::Serialize;

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::parse_id;

/// An API key as listed: never the key.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub hint: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<&KeyInfo> for ApiKeyView {
    fn from(key: &KeyInfo) -> Self {
        ApiKeyView {
            id: key.id.to_string(),
            name: key.name.clone(),
            hint: key.hint.clone(),
            created_at: key.created_at.to_rfc3339(),
            last_used_at: key.last_used_at.map(|at| at.to_rfc3339()),
        }
    }
}

/// The answer of `GET /api-keys`, oldest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKeyView>,
}

/// `GET /api-keys`: `{"apiKeys": [{id, name, hint, createdAt, lastUsedAt}]}`, oldest first.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let keys = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.list_api_keys(permit.workspace_id())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ApiKeyList {
        api_keys: keys.iter().map(ApiKeyView::from).collect(),
    }))
}

/// `DELETE /api-keys/{id}`: the key stops working at once (204).
pub async fn revoke(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let key_id: TokenId = parse_id(&id, "API key")?;
    roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageApiKeys)?;
        Ok::<_, AdminError>(store.revoke_api_key(permit.actor(), permit.workspace_id(), key_id)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/api-keys",
        "listApiKeys",
        "The workspace's API keys: id, name, hint and dates (never the key)",
    )
    .answers(200, schema::<ApiKeyList>),
    Operation::delete(
        "/api-keys/{id}",
        "revokeApiKey",
        "Revoke an API key: it is refused from its next request on",
    ),
];
