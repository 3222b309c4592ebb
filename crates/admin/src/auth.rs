//! Admin authentication: `Authorization: Bearer <API key>` resolves to the workspace the key
//! acts for as an admin. (Console sessions join with the console.) The key is never logged.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use roster_store::domain::{Actor, WorkspaceId};
use roster_store::Store;

use crate::error::AdminError;

/// An authenticated workspace admin.
#[derive(Debug, Clone, Copy)]
pub struct AdminPrincipal {
    pub workspace_id: WorkspaceId,
    pub key_id: roster_store::domain::TokenId,
}

impl AdminPrincipal {
    pub fn actor(&self) -> Actor {
        Actor::Admin {
            id: format!("api_key:{}", self.key_id),
        }
    }

    /// The actor as the policy sees it: an admin whose session did not come from SSO.
    pub fn policy_actor(&self) -> roster_mapping::policy::Actor {
        roster_mapping::policy::Actor {
            is_admin: true,
            signed_in_with_sso: false,
        }
    }
}

impl FromRequest for AdminPrincipal {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, token)| {
                scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
            })
            .map(|(_, token)| token.trim().to_owned());
        let store = req.app_data::<web::Data<Store>>().cloned();
        Box::pin(async move {
            let token = header
                .ok_or_else(|| AdminError::unauthorized("send Authorization: Bearer <API key>"))?;
            let store = store.ok_or_else(|| AdminError::new(500, "internal", "internal error"))?;
            let principal = web::block(move || store.authenticate_api_key(&token)).await??;
            Ok(AdminPrincipal {
                workspace_id: principal.workspace_id,
                key_id: principal.key_id,
            })
        })
    }
}
