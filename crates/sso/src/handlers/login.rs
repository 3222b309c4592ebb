//! `GET /sso/{workspace}/login`: picks the connection (by name, or by the email's domain), binds
//! a pending login to this browser and sends the browser to the IdP. `prompt=login` asks the IdP
//! to authenticate the user again (SAML `ForceAuthn`, OIDC `prompt=login`): the OpenID Provider
//! sends it for a product's `prompt=login` or exceeded `max_age`. `GET /sso/{workspace}/test/{id}`
//! starts a test sign-in the same way.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::domain::{
    Connection, ConnectionId, ConnectionKind, ConnectionStatus, LoginFailure, Timestamp, Workspace,
};
use roster_store::{SsoRequest, StoreError, TestSignIn};
use serde::Deserialize;

use crate::browser::{self, binding_cookie, is_safe_return_to, new_binding, sha256_hex};
use crate::config::{self, ProtocolConfig, SamlConfig};
use crate::flow::{Attempt, LoginError, SsoState};
use crate::saml::{self, ForceAuthn};
use crate::test_sign_in::TestFlow;

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
    let start = Start {
        workspace,
        connection,
        protocol,
        return_to,
        force,
        test: None,
    };
    send_to_idp(state, &req, start).await
}

/// `GET /sso/{workspace}/test/{test}`: starts a test sign-in (docs/sso.md "Test sign-in") as
/// [`start`] starts a login — the same request to the IdP, the same browser binding — once,
/// recording the pending login as the test's. A connection is tested before it is activated:
/// a draft with IdP settings is accepted.
pub async fn start_test(
    state: web::Data<SsoState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, LoginError> {
    let ((slug, test_id), found) = (path.into_inner(), state.clone());
    let force = query.force();
    let (workspace, connection, protocol, test) =
        roster_store::blocking(move || choose_test(&found, &slug, &test_id)).await?;
    let start = Start {
        workspace,
        connection,
        protocol,
        return_to: crate::test_sign_in::console_location(&test.id),
        force,
        test: Some(test),
    };
    send_to_idp(state, &req, start).await
}

/// A login (or test sign-in) about to go to the IdP.
struct Start {
    workspace: Workspace,
    connection: Connection,
    protocol: ProtocolConfig,
    return_to: String,
    force: ForceAuthn,
    test: Option<TestSignIn>,
}

/// Records the pending login bound to this browser and sends the browser to the IdP.
async fn send_to_idp(
    state: web::Data<SsoState>,
    req: &HttpRequest,
    start: Start,
) -> Result<HttpResponse, LoginError> {
    let Start {
        workspace,
        connection,
        protocol,
        return_to,
        force,
        test,
    } = start;
    let binding = match browser::binding(req) {
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
        let planned = match plan {
            Plan::Oidc(started) => started
                .map(|started| {
                    pending.id = sha256_hex(&started.state);
                    pending.nonce = Some(started.nonce);
                    pending.pkce_verifier = Some(started.pkce_verifier);
                    ToIdp::Redirect(started.url)
                })
                .map_err(|err| (err.failure, err.detail())),
            Plan::Saml(saml_config) => {
                saml_request(&state, &connection, &saml_config, &mut pending, force)
                    .map_err(|err| (err.failure(), err.detail()))
            }
        };
        match (test, planned) {
            (None, Ok(to_idp)) => {
                state.store.begin_sso_request(&pending)?;
                Ok(Ok(to_idp))
            }
            (None, Err((failure, detail))) => {
                Err(attempt.refuse(&state.store, failure, detail, None))
            }
            (Some(test), Ok(to_idp)) => {
                match state
                    .store
                    .start_test_sign_in(workspace.id, &test.id, &pending)?
                {
                    Ok(()) => Ok(Ok(to_idp)),
                    Err(_) => Err(LoginError::plain(LoginFailure::UnknownRequest)),
                }
            }
            // The IdP cannot be asked (an OIDC discovery that fails): the test's report says so,
            // and the browser goes straight to it.
            (Some(test), Err((failure, detail))) => {
                let flow = TestFlow {
                    test,
                    workspace: &workspace,
                    connection: &connection,
                };
                flow.refuse(&state, failure, detail, None).map(Err)
            }
        }
    })
    .await?;
    let to_idp = match to_idp {
        Ok(to_idp) => to_idp,
        Err(landing) => return Ok(landing.respond()),
    };
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

/// The workspace, the connection and its protocol settings of the test sign-in `test_id`, when
/// it may start: unknown, started, completed and expired tests are refused alike
/// (`unknown_request`), as is a connection without IdP settings (`connection_draft`).
fn choose_test(
    state: &SsoState,
    slug: &str,
    test_id: &str,
) -> Result<(Workspace, Connection, ProtocolConfig, TestSignIn), LoginError> {
    let workspace = match state.store.workspace_by_slug(slug) {
        Ok(workspace) => workspace,
        Err(StoreError::NotFound { .. }) => {
            return Err(LoginError::plain(LoginFailure::UnknownRequest))
        }
        Err(err) => return Err(err.into()),
    };
    let test = state
        .store
        .startable_test_sign_in(workspace.id, test_id)?
        .map_err(|_| LoginError::plain(LoginFailure::UnknownRequest))?;
    let connection_id: ConnectionId = test
        .connection_id
        .parse()
        .map_err(|_| LoginError::plain(LoginFailure::ConnectionUnavailable))?;
    let connection = state.store.connection(workspace.id, connection_id)?;
    if !connection.status.serves_sp_metadata() {
        return Err(LoginError::plain(LoginFailure::ConnectionUnavailable));
    }
    if !crate::test_sign_in::has_idp_settings(&connection) {
        return Err(LoginError::plain(LoginFailure::ConnectionDraft));
    }
    let protocol = ProtocolConfig::of(&connection)
        .ok_or_else(|| LoginError::plain(LoginFailure::ConnectionMisconfigured))?;
    Ok((workspace, connection, protocol, test))
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
    let ask = saml::authn_ask(&saml_config.authn, force);
    let keys = if saml_config.signs_requests(&idp) {
        let keys = crate::sp_keys::connection_keys(&state.store, connection)
            .map_err(|_| saml::SamlError::SigningKeyUnavailable)?;
        keys.signing_key()
            .ok_or(saml::SamlError::SigningKeyUnavailable)?;
        keys
    } else {
        saml::SpKeys::default()
    };
    let signer = keys.signing_key();
    match idp.sso_redirect_url {
        Some(_) => {
            saml::authn_request_url(&idp, &sp, &pending.id, None, &ask, signer).map(ToIdp::Redirect)
        }
        None => saml::authn_request_post_form(&idp, &sp, &pending.id, None, &ask, signer)
            .map(ToIdp::PostForm),
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
