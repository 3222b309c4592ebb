//! `GET /sso/{workspace}/login`: picks the connection (by name, or by the email's domain), binds
//! a pending login to this browser and sends the browser to the IdP. `prompt=login` asks the IdP
//! to authenticate the user again (SAML `ForceAuthn`, OIDC `prompt=login`): the OpenID Provider
//! sends it for a product's `prompt=login` or exceeded `max_age`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::domain::{
    Connection, ConnectionKind, ConnectionStatus, LoginFailure, Timestamp, Workspace,
};
use roster_store::{SsoRequest, StoreError};
use serde::Deserialize;

use crate::browser::{self, binding_cookie, is_safe_return_to, new_binding, sha256_hex};
use crate::config::{self, ProtocolConfig, SamlConfig};
use crate::flow::{Attempt, LoginError, SsoState};
use crate::saml::{self, ForceAuthn};

/// How long a started login may take at the IdP.
const PENDING_SECONDS: i64 = 10 * 60;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    connection: Option<String>,
    email: Option<String>,
    return_to: Option<String>,
    prompt: Option<String>,
}

impl LoginQuery {
    fn force(&self) -> ForceAuthn {
        ForceAuthn(self.prompt.as_deref() == Some("login"))
    }
}

pub async fn start(
    state: web::Data<SsoState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, LoginError> {
    let (slug, query, found) = (path.into_inner(), query.into_inner(), state.clone());
    let force = query.force();
    let (workspace, connection, protocol, return_to) =
        roster_store::blocking(move || choose(&found, &slug, &query)).await?;
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
    let plan = match protocol {
        ProtocolConfig::Oidc(oidc) => {
            let redirect_uri = config::redirect_uri(&state.public_url, &connection);
            Plan::Oidc(
                state
                    .oidc
                    .start(connection.id, &oidc, &redirect_uri, force)
                    .await,
            )
        }
        ProtocolConfig::Saml(saml_config) => Plan::Saml(saml_config),
    };
    let secure = state.secure_cookies();
    let to_idp = roster_store::blocking(move || {
        let attempt = Attempt {
            workspace: &workspace,
            connection: &connection,
            protocol: connection.kind.as_str(),
        };
        let refuse = |failure, detail| attempt.refuse(&state.store, failure, detail, None);
        let to_idp = match plan {
            Plan::Oidc(started) => {
                let started = started.map_err(|err| refuse(err.failure, err.detail()))?;
                pending.id = sha256_hex(&started.state);
                pending.nonce = Some(started.nonce);
                pending.pkce_verifier = Some(started.pkce_verifier);
                ToIdp::Redirect(started.url)
            }
            Plan::Saml(saml_config) => {
                saml_request(&state, &connection, &saml_config, &mut pending, force)
                    .map_err(|err| refuse(err.failure(), err.detail()))?
            }
        };
        state.store.begin_sso_request(&pending)?;
        Ok::<_, LoginError>(to_idp)
    })
    .await?;
    let mut response = match &to_idp {
        ToIdp::Redirect(_) => HttpResponse::Found(),
        ToIdp::PostForm(_) => HttpResponse::Ok(),
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(binding_cookie(binding, secure));
    Ok(match to_idp {
        ToIdp::Redirect(location) => response
            .insert_header((header::LOCATION, location))
            .finish(),
        ToIdp::PostForm(form) => response.content_type("text/html; charset=utf-8").body(form),
    })
}

/// The protocol's first step: the OIDC authorization request (made), or SAML's settings.
enum Plan {
    Oidc(Result<crate::oidc::AuthorizationStart, crate::oidc::OidcError>),
    Saml(SamlConfig),
}

/// How the browser goes to the IdP: a redirect, or a self-posting form (SAML HTTP-POST binding).
enum ToIdp {
    Redirect(String),
    PostForm(String),
}

/// The workspace, the login connection and its protocol settings, and the checked `return_to`.
fn choose(
    state: &SsoState,
    slug: &str,
    query: &LoginQuery,
) -> Result<(Workspace, Connection, ProtocolConfig, String), LoginError> {
    let workspace = match state.store.workspace_by_slug(slug) {
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
    let connection = pick_connection(state, &workspace, query)?;
    match connection.status.login_refusal() {
        None => {}
        Some(LoginFailure::ConnectionDraft) => {
            return Err(super::refuse_draft(state, &workspace, &connection))
        }
        Some(failure) => return Err(LoginError::plain(failure)),
    }
    let Some(protocol) = ProtocolConfig::of(&connection) else {
        let attempt = Attempt {
            workspace: &workspace,
            connection: &connection,
            protocol: connection.kind.as_str(),
        };
        return Err(attempt.refuse(
            &state.store,
            LoginFailure::ConnectionMisconfigured,
            serde_json::json!({ "reason": "protocol_config_unreadable" }),
            None,
        ));
    };
    Ok((workspace, connection, protocol, return_to))
}

/// A SAML AuthnRequest for `pending` (whose id it sets), by redirect or by form.
fn saml_request(
    state: &SsoState,
    connection: &Connection,
    saml_config: &SamlConfig,
    pending: &mut SsoRequest,
    force: ForceAuthn,
) -> Result<ToIdp, saml::SamlError> {
    let idp = saml_config.idp()?;
    let sp = config::sp_settings(&state.public_url, connection);
    pending.id = saml::new_request_id()?;
    match idp.sso_redirect_url {
        Some(_) => {
            saml::authn_request_url(&idp, &sp, &pending.id, None, force).map(ToIdp::Redirect)
        }
        None => {
            saml::authn_request_post_form(&idp, &sp, &pending.id, None, force).map(ToIdp::PostForm)
        }
    }
}

/// The login connection named in the query, or the one authoritative for the email's domain
/// (an active one before a draft). A draft is picked so that its refusal can say why.
fn pick_connection(
    state: &SsoState,
    workspace: &Workspace,
    query: &LoginQuery,
) -> Result<Connection, LoginError> {
    let usable = |c: &Connection| {
        c.kind != ConnectionKind::Scim
            && matches!(c.status, ConnectionStatus::Active | ConnectionStatus::Draft)
    };
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
        .filter(|c| usable(c) && c.domains.iter().any(|d| d.as_str() == domain))
        .min_by_key(|c| c.status != ConnectionStatus::Active)
        .ok_or_else(|| LoginError::plain(LoginFailure::NoConnectionForDomain))
}
