//! `GET /sso/{workspace}/login`: picks the connection (by name, or by the email's domain), binds
//! a pending login to this browser and sends the browser to the IdP.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::domain::{
    Connection, ConnectionKind, ConnectionStatus, LoginFailure, Timestamp, Workspace,
};
use roster_store::{SsoRequest, StoreError};
use serde::Deserialize;

use crate::browser::{self, binding_cookie, is_safe_return_to, new_binding, sha256_hex};
use crate::config::{self, ProtocolConfig};
use crate::flow::{Attempt, LoginError, SsoState};
use crate::saml;

/// How long a started login may take at the IdP.
const PENDING_SECONDS: i64 = 10 * 60;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    connection: Option<String>,
    email: Option<String>,
    return_to: Option<String>,
}

pub async fn start(
    state: web::Data<SsoState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, LoginError> {
    let workspace = match state.store.workspace_by_slug(&path.into_inner()) {
        Ok(workspace) => workspace,
        Err(StoreError::NotFound { .. }) => {
            return Err(LoginError::plain(LoginFailure::ConnectionUnavailable))
        }
        Err(err) => return Err(err.into()),
    };
    let return_to = query.return_to.clone().unwrap_or_else(|| "/".to_owned());
    if !is_safe_return_to(&return_to) {
        return Err(LoginError::plain(LoginFailure::BadReturnTo));
    }
    let connection = pick_connection(&state, &workspace, &query)?;
    let attempt = Attempt {
        workspace: &workspace,
        connection: &connection,
        protocol: connection.kind.as_str(),
    };
    let Some(protocol) = ProtocolConfig::of(&connection) else {
        return Err(attempt.refuse(
            &state.store,
            LoginFailure::ConnectionMisconfigured,
            serde_json::json!({ "reason": "protocol_config_unreadable" }),
            None,
        ));
    };

    let binding = match browser::binding(&req) {
        Some(existing) => existing,
        None => new_binding().map_err(|_| LoginError::unavailable())?,
    };
    let now = Timestamp::now();
    let mut pending = SsoRequest {
        id: String::new(),
        workspace_id: workspace.id.to_string(),
        connection_id: connection.id.to_string(),
        browser_hash: sha256_hex(&binding),
        nonce: None,
        pkce_verifier: None,
        return_to,
        created_at: now.as_micros(),
        expires_at: now.plus_seconds(PENDING_SECONDS).as_micros(),
    };
    let location = match protocol {
        ProtocolConfig::Oidc(oidc) => {
            let redirect_uri = config::redirect_uri(&state.public_url, &connection);
            let started = state
                .oidc
                .start(connection.id, &oidc, &redirect_uri)
                .await
                .map_err(|err| attempt.refuse(&state.store, err.failure, err.detail(), None))?;
            pending.id = sha256_hex(&started.state);
            pending.nonce = Some(started.nonce);
            pending.pkce_verifier = Some(started.pkce_verifier);
            started.url
        }
        ProtocolConfig::Saml(saml_config) => {
            let idp = saml_config
                .idp()
                .map_err(|err| attempt.refuse(&state.store, err.failure(), err.detail(), None))?;
            let sp = config::sp_settings(&state.public_url, &connection);
            pending.id = saml::new_request_id()
                .map_err(|err| attempt.refuse(&state.store, err.failure(), err.detail(), None))?;
            if idp.sso_redirect_url.is_none() {
                state.store.begin_sso_request(&pending)?;
                let form =
                    saml::authn_request_post_form(&idp, &sp, &pending.id, None).map_err(|err| {
                        attempt.refuse(&state.store, err.failure(), err.detail(), None)
                    })?;
                return Ok(HttpResponse::Ok()
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .cookie(binding_cookie(binding, state.secure_cookies()))
                    .content_type("text/html; charset=utf-8")
                    .body(form));
            }
            saml::authn_request_url(&idp, &sp, &pending.id, None)
                .map_err(|err| attempt.refuse(&state.store, err.failure(), err.detail(), None))?
        }
    };
    state.store.begin_sso_request(&pending)?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(binding_cookie(binding, state.secure_cookies()))
        .finish())
}

/// The login connection named in the query, or the one authoritative for the email's domain.
fn pick_connection(
    state: &SsoState,
    workspace: &Workspace,
    query: &LoginQuery,
) -> Result<Connection, LoginError> {
    let usable =
        |c: &Connection| c.kind != ConnectionKind::Scim && c.status == ConnectionStatus::Active;
    if let Some(name) = &query.connection {
        return match state.store.connection_by_name(workspace.id, name) {
            Ok(connection) if usable(&connection) => Ok(connection),
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                Err(LoginError::plain(LoginFailure::ConnectionUnavailable))
            }
            Err(err) => Err(err.into()),
        };
    }
    let domain = query
        .email
        .as_deref()
        .and_then(|email| email.rsplit_once('@'))
        .map(|(_, domain)| domain.trim().to_lowercase())
        .ok_or_else(|| LoginError::plain(LoginFailure::NoConnectionForDomain))?;
    state
        .store
        .list_connections(workspace.id)?
        .into_iter()
        .filter(|c| usable(c))
        .find(|c| c.domains.iter().any(|d| d.as_str() == domain))
        .ok_or_else(|| LoginError::plain(LoginFailure::NoConnectionForDomain))
}
