//! SCIM bearer tokens of a connection: listed without their secrets, created (the secret shown
//! once, with the SCIM base URL to paste into the IdP), revoked at once.

use actix_web::{web, HttpResponse};
use roster_policy::admin::{Action, Target};
use roster_store::domain::{ConnectionId, Timestamp};
use roster_store::{ScimTokenInfo, Store};
use serde::{Deserialize, Serialize};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::parse_id;
use crate::AdminSettings;

/// A SCIM token as listed: never its secret.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// The first characters of the token, to tell tokens apart.
    pub hint: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl From<&ScimTokenInfo> for TokenView {
    fn from(token: &ScimTokenInfo) -> Self {
        TokenView {
            id: token.id.to_string(),
            name: token.name.clone(),
            hint: token.hint.clone(),
            created_at: token.created_at.to_rfc3339(),
            expires_at: token.expires_at.map(|at| at.to_rfc3339()),
            last_used_at: token.last_used_at.map(|at| at.to_rfc3339()),
        }
    }
}

/// The answer of `GET /connections/{id}/tokens`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// A token just created: the only answer that ever carries its secret.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    pub id: String,
    pub name: String,
    /// The bearer token, shown this once.
    pub token: String,
    /// The base URL to paste into the IdP with the token.
    pub scim_base_url: String,
    pub expires_at: Option<String>,
}

/// `GET /connections/{id}/tokens`: the tokens (never their secrets).
pub async fn list_tokens(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let tokens = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        store.connection(permit.workspace_id(), id)?;
        Ok::<_, AdminError>(store.list_scim_tokens(permit.workspace_id(), id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(TokenList {
        tokens: tokens.iter().map(TokenView::from).collect(),
    }))
}

/// The body of `POST /connections/{id}/tokens`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewToken {
    name: Option<String>,
    expires_in_days: Option<u32>,
}

/// `POST /connections/{id}/tokens`: a new SCIM token, shown once with the base URL to paste.
pub async fn create_token(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    id: web::Path<crate::params::IdPath>,
    body: web::Json<NewToken>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let body = body.into_inner();
    let name = body.name.unwrap_or_else(|| "console".to_owned());
    if name.trim().is_empty() || name.len() > 100 {
        return Err(AdminError::validation("name must have 1 to 100 characters"));
    }
    let expires_at = roster_store::domain::token_expiry(Timestamp::now(), body.expires_in_days)
        .map_err(|err| AdminError::validation(format!("expiresInDays: {err}")))?;
    let (info, secret) = roster_store::blocking(move || {
        let read = require_read(&store, &principal)?;
        let connection = store.connection(read.workspace_id(), id)?;
        let permit =
            read.require_for_connection(Action::CreateScimToken, Target::Workspace, &connection)?;
        Ok::<_, AdminError>(store.create_scim_token(
            permit.actor(),
            permit.workspace_id(),
            id,
            &name,
            expires_at,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(CreatedToken {
        id: info.id.to_string(),
        name: info.name,
        token: secret.expose().to_owned(),
        scim_base_url: format!("{}/scim/v2", settings.public_url),
        expires_at: info.expires_at.map(|at| at.to_rfc3339()),
    }))
}

/// `DELETE /connections/{id}/tokens/{tokenId}`: requests with it are refused from now on.
pub async fn revoke_token(
    principal: Principal,
    store: web::Data<Store>,
    path: web::Path<crate::params::TokenPath>,
) -> Result<HttpResponse, AdminError> {
    let crate::params::TokenPath { id, token } = path.into_inner();
    let connection_id: ConnectionId = parse_id(&id, "connection")?;
    let token_id = parse_id(&token, "token")?;
    roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::RevokeScimToken)?;
        // The token must be the named connection's, not only the workspace's.
        let tokens = store.list_scim_tokens(permit.workspace_id(), connection_id)?;
        if !tokens.iter().any(|t| t.id == token_id) {
            return Err(AdminError::not_found("SCIM token not found"));
        }
        Ok::<_, AdminError>(store.revoke_scim_token(
            permit.actor(),
            permit.workspace_id(),
            token_id,
        )?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/connections/{id}/tokens",
        "listScimTokens",
        "SCIM tokens of a connection (never the secrets)",
    )
    .answers(200, schema::<TokenList>),
    Operation::post(
        "/connections/{id}/tokens",
        "createScimToken",
        "Generate a SCIM token (shown once)",
    )
    .body(schema::<NewToken>)
    .answers(201, schema::<CreatedToken>),
    Operation::delete(
        "/connections/{id}/tokens/{token}",
        "revokeScimToken",
        "Revoke a SCIM token",
    ),
];
