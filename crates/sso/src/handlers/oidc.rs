//! `GET /sso/oidc/{connection}/callback`: the OP's redirect back with a code (or an error).

use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::domain::{Connection, ConnectionKind, LoginFailure, Workspace};
use roster_store::SsoRequest;
use serde::Deserialize;

use crate::browser::{self, sha256_hex};
use crate::config::{self, ProtocolConfig};
use crate::flow::{Attempt, LoginError, SignedIn, SsoState};
use crate::oidc::OidcConfig;

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// RFC 9207: the issuer that sent this response.
    iss: Option<String>,
}

pub async fn callback(
    state: web::Data<SsoState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, LoginError> {
    let binding_hash = browser::binding(&req).map(|b| sha256_hex(&b));
    let (id, query, found) = (path.into_inner(), query.into_inner(), state.clone());
    let Callback {
        workspace,
        connection,
        oidc,
        pending,
        code,
    } = roster_store::blocking(move || accept(&found, &id, &query, binding_hash)).await?;
    let redirect_uri = config::redirect_uri(&state.public_url, &connection);
    let claims = state
        .oidc
        .finish(
            connection.id,
            &oidc,
            &redirect_uri,
            &code,
            pending.nonce.as_deref().unwrap_or_default(),
            pending.pkce_verifier.as_deref().unwrap_or_default(),
        )
        .await;
    roster_store::blocking(move || {
        let attempt = Attempt {
            workspace: &workspace,
            connection: &connection,
            protocol: "oidc",
        };
        let claims =
            claims.map_err(|err| attempt.refuse(&state.store, err.failure, err.detail(), None))?;
        attempt.complete(&state, &claims, &pending.return_to, None)
    })
    .await
    .map(SignedIn::redirect)
}

/// A callback whose state, browser binding and issuer checked out: what the code exchange needs.
struct Callback {
    workspace: Workspace,
    connection: Connection,
    oidc: OidcConfig,
    pending: SsoRequest,
    code: String,
}

/// Checks the callback for the connection `id` against its pending login (consumed here).
fn accept(
    state: &SsoState,
    id: &str,
    query: &CallbackQuery,
    binding_hash: Option<String>,
) -> Result<Callback, LoginError> {
    let (workspace, connection) = super::login_connection(state, id, ConnectionKind::Oidc)?;
    let attempt = Attempt {
        workspace: &workspace,
        connection: &connection,
        protocol: "oidc",
    };
    let Some(ProtocolConfig::Oidc(oidc)) = ProtocolConfig::of(&connection) else {
        return Err(attempt.refuse(
            &state.store,
            LoginFailure::ConnectionMisconfigured,
            serde_json::json!({ "reason": "protocol_config_unreadable" }),
            None,
        ));
    };
    let refuse = |failure: LoginFailure, detail: serde_json::Value| {
        attempt.refuse(&state.store, failure, detail, None)
    };

    // Mix-up defence (O12): an `iss` that is not this connection's issuer is refused.
    if let Some(iss) = &query.iss {
        if iss != &oidc.issuer {
            return Err(refuse(
                LoginFailure::InvalidResponse,
                serde_json::json!({ "reason": "issuer_mismatch", "want": oidc.issuer, "got": iss }),
            ));
        }
    }
    let pending = match (&query.state, &binding_hash) {
        (Some(oauth_state), Some(hash)) => {
            state
                .store
                .take_sso_request(connection.id, &sha256_hex(oauth_state), hash)?
        }
        _ => None,
    };
    if let Some(error) = &query.error {
        return Err(refuse(
            LoginFailure::IdpError,
            serde_json::json!({ "reason": "op_error", "error": error, "description": query.error_description }),
        ));
    }
    let Some(pending) = pending else {
        return Err(refuse(
            LoginFailure::UnknownRequest,
            serde_json::json!({
                "reason": if query.state.is_none() { "state_missing" } else if binding_hash.is_none() { "browser_binding_missing" } else { "state_unknown" },
            }),
        ));
    };
    let Some(code) = query.code.clone() else {
        return Err(refuse(
            LoginFailure::InvalidResponse,
            serde_json::json!({ "reason": "code_missing" }),
        ));
    };
    Ok(Callback {
        workspace,
        connection,
        oidc,
        pending,
        code,
    })
}
