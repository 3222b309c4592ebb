//! Bearer-token authentication: the `ScimClient` extractor resolves `Authorization: Bearer ...`
//! to the workspace and connection the token belongs to, or refuses the request with SCIM Error
//! JSON (401 for a missing/unknown/revoked/expired token, 403 when SCIM is off for its
//! connection). The token itself is never logged.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use roster_store::{ScimPrincipal, ScimScope, Store};

use crate::error::ScimError;
use crate::respond::RequestLog;

/// An authenticated SCIM client and the request it is making.
#[derive(Debug, Clone)]
pub struct ScimClient {
    pub principal: ScimPrincipal,
    /// What the provisioning log records of this request (a write logs it in its transaction).
    pub request: RequestLog,
}

impl ScimClient {
    /// The workspace's custom attributes and their SCIM sources at this connection.
    pub fn attributes(&self) -> &[roster_store::AttributeMapping] {
        &self.principal.connection.attributes
    }

    pub fn scope(&self) -> ScimScope {
        ScimScope {
            workspace_id: self.principal.connection.workspace_id,
            connection_id: self.principal.connection.id,
        }
    }

    pub fn actor(&self) -> roster_domain::Actor {
        roster_domain::Actor::Scim {
            connection_id: self.principal.connection.id.to_string(),
            token_id: self.principal.token_id.to_string(),
        }
    }
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION)?;
    let value = header.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
        Some(token.trim().to_owned())
    } else {
        None
    }
}

impl FromRequest for ScimClient {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(client) = req.extensions().get::<ScimClient>() {
                return Ok(client.clone());
            }
            let Some(token) = bearer_token(&req) else {
                return Err(ScimError::unauthorized(
                    "missing bearer token: send Authorization: Bearer <SCIM token>",
                ));
            };
            let Some(store) = req.app_data::<web::Data<Store>>().cloned() else {
                return Err(ScimError::new(500, None, "internal error"));
            };
            let request = req
                .extensions()
                .get::<RequestLog>()
                .cloned()
                .unwrap_or_else(|| RequestLog {
                    started: std::time::Instant::now(),
                    request_id: String::new(),
                    method: req.method().to_string(),
                    path: req.path().to_owned(),
                    query: None,
                });
            // A token accepted within the last second needs no database read, nor a pool thread.
            let principal = match store.recently_authenticated_scim_token(&token) {
                Some(answer) => answer?,
                None => {
                    roster_store::offload::point_read(&store, move |store| {
                        store.authenticate_scim_token(&token)
                    })
                    .await?
                }
            };
            if principal.last_used_stale {
                let (store, token_id) = (store.clone(), principal.token_id);
                if let Err(err) =
                    roster_store::blocking(move || store.touch_scim_token(token_id)).await
                {
                    tracing::warn!(error = %err, "could not record the token's last use");
                }
            }
            let client = ScimClient { principal, request };
            // Known from here on, so even a refused request is logged for the connection's admins.
            req.extensions_mut().insert(client.clone());
            if let Some(limiter) = req.app_data::<web::Data<crate::rate_limit::RateLimiter>>() {
                if let Err(wait) =
                    limiter.check(client.principal.connection.id, std::time::Instant::now())
                {
                    return Err(ScimError::too_many_requests(wait));
                }
            }
            Ok(client)
        })
    }
}
