//! Answers a product's authorization request with a signed-in user: the part of
//! `/oauth2/authorize` that needs the store and the Roster session.
//!
//! The provider does not log anyone in itself: the workspace's own SAML or OIDC connection does,
//! through the browser login of `roster-sso` (JIT, SCIM-managed users, SSO enforcement, the
//! login log — everything a login on Roster's own host gets). The provider is a product of
//! that login living on Roster's host:
//!
//! 1. [`authorize`] validates the request ([`crate::authorize::validate`]), finds the workspace
//!    (`workspace=`, `connection=`, or the domain of `login_hint`; with none of them the
//!    email-first page asks for the address), and asks [`crate::authorize::decide_login`]
//!    whether the browser's live Roster session for that workspace answers.
//! 2. If it does, the code is issued at once. Otherwise the request is stored
//!    (`oauth_auth_requests`), bound to this browser by a cookie only Roster's `/oauth2` paths
//!    receive, and the browser goes to `/sso/{workspace}/login` (with `prompt=login` when the
//!    IdP must authenticate again) with `return_to` pointing at [`resume`].
//! 3. [`resume`] consumes the stored request — once, and only in the browser that made it —
//!    checks that the session the login just opened is for the request's workspace (and
//!    connection), and fresh enough when a fresh login was asked for, then issues the code.
//!
//! A code is issued with its grant in one transaction (`Store::issue_authorization_code`); the
//! grant records what the ID token states (user, workspace, connection, `sid`, `auth_time`,
//! `amr`), bound to the Roster session so that signing out of it ends the product's grant.

use roster_sso::session::SessionClaims;
use roster_store::domain::{
    Actor, Connection, ConnectionId, ConnectionKind, ConnectionStatus, Timestamp, Workspace,
};
use roster_store::{
    CodeBinding, NewOAuthGrant, OAuthAuthRequest, StoreError, AUTH_REQUEST_TTL_SECONDS,
};
use sha2::{Digest, Sha256};

use crate::authorize::{
    self, code_location, decide_login, session_may_answer, AuthorizationRequest,
    AuthorizeErrorCode, AuthorizeParams, LoginDecision,
};
use crate::{ProviderError, ProviderState};

/// The authorization endpoint.
pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
/// The path the upstream login returns to.
pub const RESUME_PATH: &str = "/oauth2/authorize/resume";
/// The cookie that binds a stored request to the browser that made it. Only `/oauth2` paths
/// receive it.
pub const REQUEST_COOKIE: &str = "roster_authorize";

/// What the browser is answered.
#[derive(Debug)]
pub enum Answer {
    /// 302 to this location: the app's redirect URI with a code or an error.
    ToApp(String),
    /// The email-first page: these parameters as hidden fields, an email field, and a message
    /// when the previous address found no workspace.
    AskEmail {
        params: Box<AuthorizeParams>,
        message: Option<String>,
    },
    /// 302 to Roster's login for the workspace, setting the request's binding cookie.
    ToLogin { location: String, binding: String },
}

/// Where the user signs in: a workspace, and the connection when one is known. Only a
/// connection the request named (`connection=`) is `pinned`: then only a session through it
/// answers. One found by the email's domain is where the IdP login goes, but any session of
/// the workspace answers.
struct Target {
    workspace: Workspace,
    connection: Option<Connection>,
    pinned: bool,
}

/// The workspace lookup's outcome.
enum Found {
    Target(Box<Target>),
    /// No way to tell yet: ask for the email address (with a reason, after a miss).
    AskEmail(Option<String>),
}

/// `/oauth2/authorize` at `now`, for a browser holding `session_token` (its Roster session
/// cookie, if any).
pub fn authorize(
    state: &ProviderState,
    params: AuthorizeParams,
    session_token: Option<&str>,
    now: Timestamp,
) -> Result<Answer, ProviderError> {
    let app = match params.client_id.as_deref() {
        Some(client_id) => match state.store.oauth_app(client_id) {
            Ok(app) => Some(app),
            Err(StoreError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        },
        None => None,
    };
    let request = authorize::validate(&params, app.as_ref(), state.issuer())?;
    let target = match find_target(state, &request)? {
        Found::Target(target) => *target,
        Found::AskEmail(_) if request.prompt.none => {
            return Ok(Answer::ToApp(
                request
                    .error(
                        AuthorizeErrorCode::LoginRequired,
                        "no workspace named; prompt=none forbids asking the user",
                        state.issuer(),
                    )
                    .location(),
            ))
        }
        Found::AskEmail(message) => {
            return Ok(Answer::AskEmail {
                params: Box::new(params),
                message,
            })
        }
    };
    let pending = pending_request(&request, &target, now);
    let session = session_token.and_then(|token| live_session(state, token));
    let session = session.filter(|claims| session_may_answer(&pending, claims, false).is_ok());
    let auth_time = session.as_ref().map(|claims| seconds(claims.iat));
    match (
        decide_login(&request, auth_time, now, state.issuer()),
        session,
    ) {
        (LoginDecision::Refuse(redirect), _) => Ok(Answer::ToApp(redirect.location())),
        (LoginDecision::Session, Some(claims)) => {
            issue_code(state, &pending, &claims, now).map(Answer::ToApp)
        }
        // `Session` is decided only with a session; without one, the IdP asks.
        (LoginDecision::Session, None) => to_login(state, &request, target, pending, false),
        (LoginDecision::Upstream { force }, _) => to_login(state, &request, target, pending, force),
    }
}

/// The upstream login's way back: consumes the request of `handle` (if this browser, holding
/// `binding`, made it) and issues its code for the session the login opened.
pub fn resume(
    state: &ProviderState,
    handle: &str,
    binding: Option<&str>,
    session_token: Option<&str>,
    now: Timestamp,
) -> Result<String, ProviderError> {
    let binding = binding.ok_or(ProviderError::AuthorizationExpired)?;
    let request = state
        .store
        .take_oauth_auth_request(&sha256_hex(handle), &sha256_hex(binding), now)?
        .ok_or(ProviderError::AuthorizationExpired)?;
    let refuse = |error: AuthorizeErrorCode, description: &'static str| {
        Ok(authorize::ErrorRedirect {
            redirect_uri: request.redirect_uri.clone(),
            error,
            description,
            state: request.state.clone(),
            issuer: state.issuer().to_owned(),
        }
        .location())
    };
    let Some(claims) = session_token.and_then(|token| live_session(state, token)) else {
        return refuse(
            AuthorizeErrorCode::LoginRequired,
            "the sign-in at the identity provider did not complete",
        );
    };
    if let Err(description) = session_may_answer(&request, &claims, true) {
        return refuse(AuthorizeErrorCode::AccessDenied, description);
    }
    issue_code(state, &request, &claims, now)
}

/// The workspace (and connection) the request names, or the one the domain of `login_hint`
/// belongs to.
fn find_target(
    state: &ProviderState,
    request: &AuthorizationRequest,
) -> Result<Found, ProviderError> {
    let unknown = |description: &'static str| {
        ProviderError::Redirect(Box::new(request.error(
            AuthorizeErrorCode::InvalidRequest,
            description,
            state.issuer(),
        )))
    };
    let store = &state.store;
    if let Some(id) = &request.connection {
        let connection = id
            .parse::<ConnectionId>()
            .ok()
            .map(|id| store.connection_by_id(id))
            .transpose()
            .or_else(not_found_as_none)?
            .filter(usable_for_login)
            .ok_or_else(|| unknown("connection names no active sign-in connection"))?;
        let workspace = store.workspace(connection.workspace_id)?;
        if request
            .workspace
            .as_deref()
            .is_some_and(|slug| slug != workspace.slug.as_str())
        {
            return Err(unknown("connection is not a connection of that workspace"));
        }
        return Ok(Found::Target(Box::new(Target {
            workspace,
            connection: Some(connection),
            pinned: true,
        })));
    }
    let domain = request.login_hint.as_deref().and_then(email_domain);
    if let Some(slug) = &request.workspace {
        let workspace = match store.workspace_by_slug(slug) {
            Ok(workspace) => workspace,
            Err(StoreError::NotFound { .. }) => return Err(unknown("no workspace has that slug")),
            Err(err) => return Err(err.into()),
        };
        let connection = match &domain {
            Some(domain) => store
                .list_connections(workspace.id)?
                .into_iter()
                .filter(usable_for_login)
                .find(|c| c.domains.iter().any(|d| d.as_str() == domain)),
            None => None,
        };
        return Ok(Found::Target(Box::new(Target {
            workspace,
            connection,
            pinned: false,
        })));
    }
    let Some(domain) = domain else {
        return Ok(Found::AskEmail(request.login_hint.as_ref().map(|_| {
            "That is not an email address. Enter the address you use at work.".to_owned()
        })));
    };
    let mut connections: Vec<Connection> = store
        .connections_for_domain(&domain)?
        .into_iter()
        .filter(usable_for_login)
        .collect();
    let first = connections.first().map(|c| c.workspace_id);
    if connections.iter().any(|c| Some(c.workspace_id) != first) {
        return Ok(Found::AskEmail(Some(format!(
            "Several workspaces sign in people at {domain}. Use the sign-in link of your \
             workspace."
        ))));
    }
    let Some(connection) = connections.drain(..).next() else {
        return Ok(Found::AskEmail(Some(format!(
            "No workspace signs in people at {domain}. Check the address, or use the sign-in \
             link of your workspace."
        ))));
    };
    let workspace = store.workspace(connection.workspace_id)?;
    Ok(Found::Target(Box::new(Target {
        workspace,
        connection: Some(connection),
        pinned: false,
    })))
}

fn not_found_as_none(err: StoreError) -> Result<Option<Connection>, StoreError> {
    match err {
        StoreError::NotFound { .. } => Ok(None),
        other => Err(other),
    }
}

/// A connection people sign in through: active, and not provisioning-only.
fn usable_for_login(connection: &Connection) -> bool {
    connection.kind != ConnectionKind::Scim && connection.status == ConnectionStatus::Active
}

/// The lower-case domain of an email address.
fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    let domain = domain.trim().to_lowercase();
    (!local.is_empty() && domain.contains('.') && !domain.contains(char::is_whitespace))
        .then_some(domain)
}

/// The request as it is stored while the user is at the IdP.
fn pending_request(
    request: &AuthorizationRequest,
    target: &Target,
    now: Timestamp,
) -> OAuthAuthRequest {
    OAuthAuthRequest {
        id: String::new(),
        browser_hash: String::new(),
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope(),
        state: request.state.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        prompt: request.prompt.as_param(),
        max_age: request.max_age,
        login_hint: request.login_hint.clone(),
        workspace_id: Some(target.workspace.id.to_string()),
        connection_id: target
            .connection
            .as_ref()
            .filter(|_| target.pinned)
            .map(|c| c.id.to_string()),
        upstream_request_id: None,
        created_at: now.as_micros(),
        expires_at: now.plus_seconds(AUTH_REQUEST_TTL_SECONDS).as_micros(),
        consumed_at: None,
    }
}

/// Stores the request and sends the browser to the workspace's login.
fn to_login(
    state: &ProviderState,
    request: &AuthorizationRequest,
    target: Target,
    mut pending: OAuthAuthRequest,
    force: bool,
) -> Result<Answer, ProviderError> {
    let store = &state.store;
    let connection = match target.connection {
        Some(connection) => connection,
        None => {
            let mut usable: Vec<Connection> = store
                .list_connections(target.workspace.id)?
                .into_iter()
                .filter(usable_for_login)
                .collect();
            match usable.len() {
                0 => {
                    return Err(ProviderError::Redirect(Box::new(request.error(
                        AuthorizeErrorCode::AccessDenied,
                        "the workspace has no active single sign-on connection",
                        state.issuer(),
                    ))))
                }
                1 => usable.remove(0),
                // Several IdPs: the email's domain picks one.
                _ => {
                    let mut params = AuthorizeParams::from(request);
                    params.workspace = Some(target.workspace.slug.to_string());
                    return Ok(Answer::AskEmail {
                        params: Box::new(params),
                        message: None,
                    });
                }
            }
        }
    };
    let handle = random_hex()?;
    let binding = random_hex()?;
    pending.id = sha256_hex(&handle);
    pending.browser_hash = sha256_hex(&binding);
    store.begin_oauth_auth_request(&pending)?;
    let return_to = format!("{RESUME_PATH}?request={handle}");
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("connection", connection.name.as_str());
    query.append_pair("return_to", &return_to);
    if force {
        query.append_pair("prompt", "login");
    }
    Ok(Answer::ToLogin {
        location: format!(
            "/sso/{}/login?{}",
            url::form_urlencoded::byte_serialize(target.workspace.slug.as_str().as_bytes())
                .collect::<String>(),
            query.finish()
        ),
        binding,
    })
}

/// The claims of a live Roster session token; `None` for anything else (expired, signed out,
/// the user deactivated or their epoch moved).
fn live_session(state: &ProviderState, token: &str) -> Option<SessionClaims> {
    state
        .sessions
        .verify(token)
        .ok()
        .map(|(claims, _, _)| claims)
}

/// Issues the code of `request` for the user of `claims` and returns the app's redirect.
fn issue_code(
    state: &ProviderState,
    request: &OAuthAuthRequest,
    claims: &SessionClaims,
    now: Timestamp,
) -> Result<String, ProviderError> {
    let corrupt = |what: &str| ProviderError::Store(StoreError::Corrupt(format!("session {what}")));
    let password = claims.cid == roster_sso::flow::PASSWORD_LOGIN;
    let grant = NewOAuthGrant {
        client_id: request.client_id.clone(),
        workspace_id: claims.wid.parse().map_err(|_| corrupt("workspace"))?,
        user_id: claims.sub.parse().map_err(|_| corrupt("subject"))?,
        connection_id: (!password).then(|| claims.cid.clone()),
        session_id: Some(claims.sid.clone()),
        sid: crate::tokens::app_sid(&claims.sid, &request.client_id),
        scope: request.scope.clone(),
        offline: request
            .scope
            .split(' ')
            .any(|scope| scope == "offline_access"),
        auth_time: seconds(claims.iat),
        // What the session says of how the user authenticated; a session signed before Roster
        // kept it says nothing, and then the way in (password or an IdP) is all there is.
        amr: if claims.amr.is_empty() {
            vec![if password { "pwd" } else { "fed" }.to_owned()]
        } else {
            claims.amr.clone()
        },
        acr: claims.acr.clone(),
    };
    let binding = CodeBinding {
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
    };
    let actor = Actor::Login {
        connection_id: claims.cid.clone(),
    };
    let (_, code) = state
        .store
        .issue_authorization_code(&actor, &grant, &binding, now)?;
    Ok(code_location(
        &request.redirect_uri,
        code.expose(),
        request.state.as_deref(),
        state.issuer(),
    ))
}

fn seconds(unix_seconds: i64) -> Timestamp {
    Timestamp::from_micros(unix_seconds.saturating_mul(1_000_000))
}

fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// 256 random bits in hex: a request handle or a browser binding.
fn random_hex() -> Result<String, ProviderError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|_| ProviderError::Key("the system random source failed".to_owned()))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_domains_are_found_only_in_addresses() {
        for (email, domain) in [
            ("ada@Example.COM", Some("example.com")),
            (" ada@example.com ", Some("example.com")),
            ("a@b@example.com", Some("example.com")),
            ("@example.com", None),
            ("ada", None),
            ("ada@localhost", None),
            ("ada@exa mple.com", None),
        ] {
            assert_eq!(email_domain(email).as_deref(), domain, "{email}");
        }
    }
}
