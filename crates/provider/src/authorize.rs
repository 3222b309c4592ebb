//! The authorization endpoint's rules (`/oauth2/authorize`), independent of HTTP.
//!
//! RFC 6749 §4.1.2.1 splits authorization errors in two: while the app and its redirect URI are
//! not established, the browser must not be sent anywhere (an open redirector otherwise), so the
//! answer is a page; once they are, every other error goes back to the app at that URI, with the
//! request's `state` and Roster's `iss` (RFC 9207, so a client talking to several providers can
//! tell who answered: the mix-up defence of RFC 9700 §4.4).
//!
//! [`validate`] applies the rules in that order: app, redirect URI (byte-exact,
//! [`find_registered`]), then the request itself — `response_type=code` only, `openid` scope,
//! no request objects (Discovery says so), bounded `state`/`nonce`, a consistent `prompt`, and
//! PKCE (RFC 7636): S256 only (a missing method means `plain`, which is refused, never assumed to
//! be S256), required for public apps, honoured for any app that sends it. [`decide_login`] then
//! says whether a live Roster session can answer, the upstream IdP must be asked (again, for
//! `prompt=login` and an exceeded `max_age`), or, with `prompt=none`, the app hears
//! `login_required`.

use roster_sso::session::SessionClaims;
use roster_store::domain::Timestamp;
use roster_store::{OAuthApp, OAuthAuthRequest};
use serde::Deserialize;

use crate::discovery::SCOPES_SUPPORTED;
use crate::redirect_uri::find_registered;
use crate::ProviderError;

/// The longest `state` or `nonce` accepted. Clients put signed blobs in them, so generously more
/// than the 512 bytes some providers shipped (and broke clients with); a longer one is an
/// `invalid_request` at the redirect URI.
pub const MAX_STATE_BYTES: usize = 4096;
/// The longest `login_hint`, `workspace` or `connection` accepted.
const MAX_HINT_BYTES: usize = 512;
/// An S256 challenge: base64url (no padding) of a SHA-256 digest.
const S256_CHALLENGE_LENGTH: usize = 43;

/// The parameters of an authorization request, as received (query or form). Parameters Roster
/// does not use (`display`, `ui_locales`, `claims_locales`, `acr_values`, `id_token_hint`,
/// `claims`, anything unknown) are ignored, as OpenID Connect Core asks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    /// Roster's own parameter: the workspace by slug.
    pub workspace: Option<String>,
    /// Roster's own parameter: the upstream connection by id.
    pub connection: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// What `prompt` asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: answer without any interaction, or fail with `login_required`.
    pub none: bool,
    /// `login`: authenticate again at the IdP even with a live session.
    pub login: bool,
}

impl Prompt {
    /// The values as a `prompt` parameter (`None` when neither was asked).
    pub fn as_param(self) -> Option<String> {
        match (self.none, self.login) {
            (false, false) => None,
            (true, false) => Some("none".to_owned()),
            (false, true) => Some("login".to_owned()),
            // `validate` refuses this combination; kept whole if it ever came here.
            (true, true) => Some("none login".to_owned()),
        }
    }
}

/// A valid authorization request, ready for the login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    /// The redirect URI as the app sent it (it matched a registered one).
    pub redirect_uri: String,
    /// The recognised scopes asked for, in the order of `scopes_supported`.
    pub scopes: Vec<&'static str>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 PKCE challenge, when the app sent one.
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub workspace: Option<String>,
    pub connection: Option<String>,
}

impl AuthorizationRequest {
    /// The scopes as a space-separated string, as stored and returned.
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }

    /// An error for the app, at its redirect URI.
    pub fn error(
        &self,
        error: AuthorizeErrorCode,
        description: &'static str,
        issuer: &str,
    ) -> ErrorRedirect {
        ErrorRedirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description,
            state: self.state.clone(),
            issuer: issuer.to_owned(),
        }
    }
}

/// Checks an authorization request for `app` (`None`: no `client_id`, or no app with it).
///
/// `UnknownClient` and `UnregisteredRedirectUri` are for a page; every other refusal is a
/// [`ProviderError::Redirect`] to the request's own (registered) redirect URI.
pub fn validate(
    params: &AuthorizeParams,
    app: Option<&OAuthApp>,
    issuer: &str,
) -> Result<AuthorizationRequest, ProviderError> {
    let app = app.ok_or(ProviderError::UnknownClient)?;
    let public = !app.auth_method.is_confidential();
    let redirect_uri = params
        .redirect_uri
        .as_deref()
        .and_then(|presented| {
            find_registered(&app.redirect_uris, presented, public).map(|_| presented)
        })
        .ok_or(ProviderError::UnregisteredRedirectUri)?;
    // From here on the app is known and the redirect URI is its own: errors go back to it.
    let refuse = |error: AuthorizeErrorCode, description: &'static str| {
        ProviderError::Redirect(Box::new(ErrorRedirect {
            redirect_uri: redirect_uri.to_owned(),
            error,
            description,
            state: params.state.clone(),
            issuer: issuer.to_owned(),
        }))
    };
    use AuthorizeErrorCode::*;
    if params.request.is_some() {
        return Err(refuse(
            RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.request_uri.is_some() {
        return Err(refuse(
            RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(refuse(InvalidRequest, "response_type is required")),
        Some(_) => {
            return Err(refuse(
                UnsupportedResponseType,
                "only response_type=code is supported",
            ))
        }
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|mode| mode != "query")
    {
        return Err(refuse(
            InvalidRequest,
            "only response_mode=query is supported",
        ));
    }
    let asked: Vec<&str> = params
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .collect();
    if !asked.contains(&"openid") {
        return Err(refuse(InvalidScope, "the openid scope is required"));
    }
    let scopes: Vec<&'static str> = SCOPES_SUPPORTED
        .iter()
        .copied()
        .filter(|scope| asked.contains(scope))
        .collect();
    let too_long =
        |value: &Option<String>, limit: usize| value.as_ref().is_some_and(|v| v.len() > limit);
    if too_long(&params.state, MAX_STATE_BYTES) {
        return Err(refuse(InvalidRequest, "state is longer than 4096 bytes"));
    }
    if too_long(&params.nonce, MAX_STATE_BYTES) {
        return Err(refuse(InvalidRequest, "nonce is longer than 4096 bytes"));
    }
    if too_long(&params.login_hint, MAX_HINT_BYTES)
        || too_long(&params.workspace, MAX_HINT_BYTES)
        || too_long(&params.connection, MAX_HINT_BYTES)
    {
        return Err(refuse(
            InvalidRequest,
            "login_hint, workspace and connection are at most 512 bytes",
        ));
    }
    let prompts: Vec<&str> = params
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|value| !value.is_empty())
        .collect();
    let prompt = Prompt {
        none: prompts.contains(&"none"),
        login: prompts.contains(&"login"),
    };
    if prompt.none && prompts.len() > 1 {
        return Err(refuse(
            InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(seconds) => Some(i64::from(seconds)),
            Err(_) => {
                return Err(refuse(
                    InvalidRequest,
                    "max_age must be a non-negative number of seconds",
                ))
            }
        },
    };
    let code_challenge = match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (None, None) if public => {
            return Err(refuse(
                InvalidRequest,
                "public apps must use PKCE (code_challenge with code_challenge_method=S256)",
            ))
        }
        (None, None) => None,
        (None, Some(_)) => {
            return Err(refuse(
                InvalidRequest,
                "code_challenge_method without code_challenge",
            ))
        }
        (Some(_), None) => {
            return Err(refuse(
                InvalidRequest,
                "code_challenge_method is required and must be S256 (plain is not supported)",
            ))
        }
        (Some(_), Some(method)) if method != "S256" => {
            return Err(refuse(
                InvalidRequest,
                "code_challenge_method must be S256 (plain is not supported)",
            ))
        }
        (Some(challenge), Some(_)) => {
            let well_formed = challenge.len() == S256_CHALLENGE_LENGTH
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !well_formed {
                return Err(refuse(
                    InvalidRequest,
                    "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
                ));
            }
            Some(challenge.to_owned())
        }
    };
    Ok(AuthorizationRequest {
        client_id: app.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        code_challenge,
        prompt,
        max_age,
        login_hint: params.login_hint.clone(),
        workspace: params.workspace.clone(),
        connection: params.connection.clone(),
    })
}

/// How a valid request gets its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginDecision {
    /// The live Roster session answers, without an IdP round trip.
    Session,
    /// Ask the workspace's IdP; `force` asks it to authenticate again (SAML `ForceAuthn`, OIDC
    /// `prompt=login`) so that `auth_time` moves.
    Upstream { force: bool },
    /// `prompt=none` and no session that may answer: `login_required` at the redirect URI.
    Refuse(ErrorRedirect),
}

/// Decides how `request` is answered at `now`, given when the user of the live Roster session
/// of the request's workspace authenticated (`None`: no such session).
pub fn decide_login(
    request: &AuthorizationRequest,
    session_auth_time: Option<Timestamp>,
    now: Timestamp,
    issuer: &str,
) -> LoginDecision {
    let fresh_enough = |auth_time: Timestamp| {
        request
            .max_age
            .is_none_or(|max_age| auth_time.plus_seconds(max_age) >= now)
    };
    let usable_session = session_auth_time.filter(|auth_time| fresh_enough(*auth_time));
    match (request.prompt, usable_session) {
        (Prompt { none: true, .. }, Some(_)) => LoginDecision::Session,
        (Prompt { none: true, .. }, None) => LoginDecision::Refuse(request.error(
            AuthorizeErrorCode::LoginRequired,
            "no live session for this workspace; prompt=none forbids asking the user",
            issuer,
        )),
        (Prompt { login: true, .. }, _) => LoginDecision::Upstream { force: true },
        (_, Some(_)) => LoginDecision::Session,
        // No session, or one older than `max_age` allows: then the IdP must authenticate again.
        (_, None) => LoginDecision::Upstream {
            force: session_auth_time.is_some(),
        },
    }
}

/// The `error` codes the authorization endpoint sends back to an app (RFC 6749 §4.1.2.1,
/// OpenID Connect Core §3.1.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeErrorCode {
    InvalidRequest,
    UnsupportedResponseType,
    InvalidScope,
    LoginRequired,
    AccessDenied,
    RequestNotSupported,
    RequestUriNotSupported,
}

impl AuthorizeErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizeErrorCode::InvalidRequest => "invalid_request",
            AuthorizeErrorCode::UnsupportedResponseType => "unsupported_response_type",
            AuthorizeErrorCode::InvalidScope => "invalid_scope",
            AuthorizeErrorCode::LoginRequired => "login_required",
            AuthorizeErrorCode::AccessDenied => "access_denied",
            AuthorizeErrorCode::RequestNotSupported => "request_not_supported",
            AuthorizeErrorCode::RequestUriNotSupported => "request_uri_not_supported",
        }
    }
}

/// An authorization error sent back to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// The redirect URI of the request (it matched one the app registered).
    pub redirect_uri: String,
    pub error: AuthorizeErrorCode,
    /// A sentence for the app's developer (`error_description`).
    pub description: &'static str,
    /// The request's `state`, exactly as received.
    pub state: Option<String>,
    /// Roster's issuer identifier (`iss`).
    pub issuer: String,
}

impl ErrorRedirect {
    /// The redirect URI with `error`, `error_description`, `state` (when the request had one)
    /// and `iss` added to its query. Registered URIs have no fragment, so appending is exact.
    pub fn location(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("error", self.error.as_str());
        query.append_pair("error_description", self.description);
        if let Some(state) = &self.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &self.issuer);
        with_query(&self.redirect_uri, &query.finish())
    }
}

/// The successful answer (RFC 6749 §4.1.2, RFC 9207): the redirect URI with `code`, `state`
/// (when the request had one) and `iss`.
pub fn code_location(redirect_uri: &str, code: &str, state: Option<&str>, issuer: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("code", code);
    if let Some(state) = state {
        query.append_pair("state", state);
    }
    query.append_pair("iss", issuer);
    with_query(redirect_uri, &query.finish())
}

/// `uri` with `query` appended to its own query. Registered URIs have no fragment, so appending
/// is exact.
fn with_query(uri: &str, query: &str) -> String {
    let separator = if uri.ends_with(['?', '&']) {
        ""
    } else if uri.contains('?') {
        "&"
    } else {
        "?"
    };
    format!("{uri}{separator}{query}")
}

/// Whether the Roster session of `claims` may answer `request`: it must be a session of the
/// request's workspace, through the request's connection when it names one, and — when the
/// upstream login of a request that demanded a fresh authentication (`prompt=login`,
/// `max_age`) comes back (`resuming`) — one that began after the request did, so an older
/// session in the same browser cannot stand in for the login the product asked for.
pub fn session_may_answer(
    request: &OAuthAuthRequest,
    claims: &SessionClaims,
    resuming: bool,
) -> Result<(), &'static str> {
    if request.workspace_id.as_deref() != Some(claims.wid.as_str()) {
        return Err("the sign-in was for another workspace");
    }
    if request
        .connection_id
        .as_deref()
        .is_some_and(|connection| connection != claims.cid)
    {
        return Err("the sign-in was through another connection");
    }
    let demanded_fresh = request.max_age.is_some()
        || request
            .prompt
            .as_deref()
            .is_some_and(|prompt| prompt.split(' ').any(|value| value == "login"));
    // `iat` is whole seconds: a session opened in the request's second counts as after it.
    if resuming && demanded_fresh && claims.iat < request.created_at.div_euclid(1_000_000) {
        return Err("the identity provider did not authenticate the user again");
    }
    Ok(())
}

impl From<&AuthorizationRequest> for AuthorizeParams {
    /// The parameters that make the same request again (the email-first page's hidden fields).
    fn from(request: &AuthorizationRequest) -> Self {
        AuthorizeParams {
            client_id: Some(request.client_id.clone()),
            redirect_uri: Some(request.redirect_uri.clone()),
            response_type: Some("code".to_owned()),
            scope: Some(request.scope()),
            state: request.state.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            code_challenge_method: request.code_challenge.as_ref().map(|_| "S256".to_owned()),
            prompt: request.prompt.as_param(),
            max_age: request.max_age.map(|seconds| seconds.to_string()),
            login_hint: request.login_hint.clone(),
            workspace: request.workspace.clone(),
            connection: request.connection.clone(),
            ..AuthorizeParams::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use roster_store::{ClientAuthMethod, SigningAlg};

    const ISSUER: &str = "https://roster.example";
    const CALLBACK: &str = "https://app.example/cb";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn app(auth_method: ClientAuthMethod) -> OAuthApp {
        OAuthApp {
            client_id: "client".to_owned(),
            name: "Product".to_owned(),
            auth_method,
            id_token_alg: SigningAlg::Rs256,
            redirect_uris: vec![CALLBACK.to_owned(), "http://127.0.0.1/native".to_owned()],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            secret_hint: None,
            previous_secret_until: None,
            created_at: Timestamp::from_micros(0),
            updated_at: Timestamp::from_micros(0),
        }
    }

    /// A valid request of a confidential app: code flow, openid, a state and a nonce.
    fn params() -> AuthorizeParams {
        AuthorizeParams {
            client_id: Some("client".to_owned()),
            redirect_uri: Some(CALLBACK.to_owned()),
            response_type: Some("code".to_owned()),
            scope: Some("openid email".to_owned()),
            state: Some("xyz".to_owned()),
            nonce: Some("n-0S6_WzA2Mj".to_owned()),
            ..AuthorizeParams::default()
        }
    }

    fn with(change: impl FnOnce(&mut AuthorizeParams)) -> AuthorizeParams {
        let mut params = params();
        change(&mut params);
        params
    }

    /// What the browser gets: a page (by code), a redirect (its error and the whole location),
    /// or a valid request.
    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        Page(&'static str),
        Redirect(&'static str),
        Valid,
    }

    fn outcome(params: &AuthorizeParams, app: Option<&OAuthApp>) -> Outcome {
        match validate(params, app, ISSUER) {
            Ok(_) => Outcome::Valid,
            Err(ProviderError::UnknownClient) => Outcome::Page("unknown_client"),
            Err(ProviderError::UnregisteredRedirectUri) => {
                Outcome::Page("unregistered_redirect_uri")
            }
            Err(ProviderError::Redirect(redirect)) => {
                // OP22: every redirect goes to the request's own URI with its state and our iss.
                let location = redirect.location();
                let expected_uri = params.redirect_uri.as_deref().unwrap_or_default();
                assert!(
                    location.starts_with(&format!("{expected_uri}?")),
                    "{location}"
                );
                assert!(
                    location.ends_with("&iss=https%3A%2F%2Froster.example"),
                    "{location}"
                );
                assert_eq!(redirect.state, params.state, "state echoed exactly");
                Outcome::Redirect(redirect.error.as_str())
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn authorization_requests_are_refused_in_the_right_place() {
        use Outcome::*;
        let confidential = app(ClientAuthMethod::ClientSecretBasic);
        let public = app(ClientAuthMethod::None);
        let long = "x".repeat(10 * 1024);
        let pkce = |p: &mut AuthorizeParams| {
            p.code_challenge = Some(CHALLENGE.to_owned());
            p.code_challenge_method = Some("S256".to_owned());
        };
        let cases: Vec<(&str, AuthorizeParams, &OAuthApp, Outcome)> = vec![
            ("valid", params(), &confidential, Valid),
            (
                "valid without nonce or state",
                with(|p| {
                    p.nonce = None;
                    p.state = None
                }),
                &confidential,
                Valid,
            ),
            ("valid with PKCE", with(pkce), &confidential, Valid),
            ("public with PKCE", with(pkce), &public, Valid),
            (
                "public loopback, any port",
                with(|p| {
                    pkce(p);
                    p.redirect_uri = Some("http://127.0.0.1:49152/native".to_owned())
                }),
                &public,
                Valid,
            ),
            (
                "4 KB state",
                with(|p| p.state = Some("s".repeat(MAX_STATE_BYTES))),
                &confidential,
                Valid,
            ),
            (
                "unknown scopes ignored",
                with(|p| p.scope = Some("email phone openid".to_owned())),
                &confidential,
                Valid,
            ),
            (
                "prompt=login consent",
                with(|p| p.prompt = Some("login consent".to_owned())),
                &confidential,
                Valid,
            ),
            (
                "max_age=0",
                with(|p| p.max_age = Some("0".to_owned())),
                &confidential,
                Valid,
            ),
            // OP02–OP04: the redirect URI decides before anything else, even a bad response_type.
            (
                "no redirect_uri",
                with(|p| p.redirect_uri = None),
                &confidential,
                Page("unregistered_redirect_uri"),
            ),
            (
                "trailing slash",
                with(|p| p.redirect_uri = Some(format!("{CALLBACK}/"))),
                &confidential,
                Page("unregistered_redirect_uri"),
            ),
            (
                "case",
                with(|p| p.redirect_uri = Some("https://APP.example/cb".to_owned())),
                &confidential,
                Page("unregistered_redirect_uri"),
            ),
            (
                "extra query",
                with(|p| p.redirect_uri = Some(format!("{CALLBACK}?next=evil"))),
                &confidential,
                Page("unregistered_redirect_uri"),
            ),
            (
                "userinfo",
                with(|p| p.redirect_uri = Some("https://app.example@evil.example/cb".to_owned())),
                &confidential,
                Page("unregistered_redirect_uri"),
            ),
            (
                "mismatch beats response_type",
                with(|p| {
                    p.redirect_uri = Some("https://evil.example/cb".to_owned());
                    p.response_type = Some("token".to_owned())
                }),
                &confidential,
                Page("unregistered_redirect_uri"),
            ),
            (
                "loopback port, confidential",
                with(|p| p.redirect_uri = Some("http://127.0.0.1:49152/native".to_owned())),
                &confidential,
                Page("unregistered_redirect_uri"),
            ),
            (
                "localhost for 127.0.0.1",
                with(|p| {
                    pkce(p);
                    p.redirect_uri = Some("http://localhost/native".to_owned())
                }),
                &public,
                Page("unregistered_redirect_uri"),
            ),
            // OP06: then the request itself, at the redirect URI.
            (
                "response_type=token",
                with(|p| p.response_type = Some("token".to_owned())),
                &confidential,
                Redirect("unsupported_response_type"),
            ),
            (
                "response_type=code id_token",
                with(|p| p.response_type = Some("code id_token".to_owned())),
                &confidential,
                Redirect("unsupported_response_type"),
            ),
            (
                "no response_type",
                with(|p| p.response_type = None),
                &confidential,
                Redirect("invalid_request"),
            ),
            (
                "prompt=none login",
                with(|p| p.prompt = Some("none login".to_owned())),
                &confidential,
                Redirect("invalid_request"),
            ),
            (
                "response_mode=fragment",
                with(|p| p.response_mode = Some("fragment".to_owned())),
                &confidential,
                Redirect("invalid_request"),
            ),
            (
                "no openid scope",
                with(|p| p.scope = Some("email".to_owned())),
                &confidential,
                Redirect("invalid_scope"),
            ),
            (
                "no scope",
                with(|p| p.scope = None),
                &confidential,
                Redirect("invalid_scope"),
            ),
            (
                "request object",
                with(|p| p.request = Some("eyJ...".to_owned())),
                &confidential,
                Redirect("request_not_supported"),
            ),
            (
                "request_uri",
                with(|p| p.request_uri = Some("https://app.example/r".to_owned())),
                &confidential,
                Redirect("request_uri_not_supported"),
            ),
            (
                "max_age negative",
                with(|p| p.max_age = Some("-1".to_owned())),
                &confidential,
                Redirect("invalid_request"),
            ),
            (
                "max_age not a number",
                with(|p| p.max_age = Some("soon".to_owned())),
                &confidential,
                Redirect("invalid_request"),
            ),
            // OP08: PKCE downgrades.
            (
                "public without PKCE",
                params(),
                &public,
                Redirect("invalid_request"),
            ),
            (
                "challenge without method",
                with(|p| p.code_challenge = Some(CHALLENGE.to_owned())),
                &confidential,
                Redirect("invalid_request"),
            ),
            (
                "challenge without method, public",
                with(|p| p.code_challenge = Some(CHALLENGE.to_owned())),
                &public,
                Redirect("invalid_request"),
            ),
            (
                "plain",
                with(|p| {
                    pkce(p);
                    p.code_challenge_method = Some("plain".to_owned())
                }),
                &public,
                Redirect("invalid_request"),
            ),
            (
                "s256 lowercase",
                with(|p| {
                    pkce(p);
                    p.code_challenge_method = Some("s256".to_owned())
                }),
                &confidential,
                Redirect("invalid_request"),
            ),
            (
                "method without challenge",
                with(|p| p.code_challenge_method = Some("S256".to_owned())),
                &confidential,
                Redirect("invalid_request"),
            ),
            (
                "challenge too short",
                with(|p| {
                    pkce(p);
                    p.code_challenge = Some(CHALLENGE[..42].to_owned())
                }),
                &public,
                Redirect("invalid_request"),
            ),
            (
                "challenge with padding",
                with(|p| {
                    pkce(p);
                    p.code_challenge = Some(format!("{}=", &CHALLENGE[..42]))
                }),
                &public,
                Redirect("invalid_request"),
            ),
            (
                "challenge with +",
                with(|p| {
                    pkce(p);
                    p.code_challenge = Some(format!("{}+", &CHALLENGE[..42]))
                }),
                &public,
                Redirect("invalid_request"),
            ),
            // OP33: oversized values are refused, at the redirect URI.
            (
                "10 KB state",
                with(|p| p.state = Some(long.clone())),
                &confidential,
                Redirect("invalid_request"),
            ),
            (
                "10 KB nonce",
                with(|p| p.nonce = Some(long.clone())),
                &confidential,
                Redirect("invalid_request"),
            ),
            (
                "long login_hint",
                with(|p| p.login_hint = Some(long.clone())),
                &confidential,
                Redirect("invalid_request"),
            ),
        ];
        for (name, params, app, expected) in cases {
            assert_eq!(outcome(&params, Some(app)), expected, "{name}");
        }
        // OP01: no app, whatever else the request says.
        assert_eq!(outcome(&params(), None), Page("unknown_client"));
        assert_eq!(
            outcome(&with(|p| p.client_id = None), None),
            Page("unknown_client")
        );
    }

    #[test]
    fn a_valid_request_keeps_what_the_login_needs() {
        let public = app(ClientAuthMethod::None);
        let params = AuthorizeParams {
            redirect_uri: Some("http://127.0.0.1:49152/native".to_owned()),
            scope: Some("offline_access  attributes groups openid unknown".to_owned()),
            code_challenge: Some(CHALLENGE.to_owned()),
            code_challenge_method: Some("S256".to_owned()),
            prompt: Some("login".to_owned()),
            max_age: Some("300".to_owned()),
            login_hint: Some("ada@acme.test".to_owned()),
            workspace: Some("acme".to_owned()),
            ..params()
        };
        let request = validate(&params, Some(&public), ISSUER).unwrap();
        assert_eq!(
            request,
            AuthorizationRequest {
                client_id: "client".to_owned(),
                redirect_uri: "http://127.0.0.1:49152/native".to_owned(),
                scopes: vec!["openid", "groups", "attributes", "offline_access"],
                state: Some("xyz".to_owned()),
                nonce: Some("n-0S6_WzA2Mj".to_owned()),
                code_challenge: Some(CHALLENGE.to_owned()),
                prompt: Prompt {
                    none: false,
                    login: true
                },
                max_age: Some(300),
                login_hint: Some("ada@acme.test".to_owned()),
                workspace: Some("acme".to_owned()),
                connection: None,
            }
        );
        assert_eq!(request.scope(), "openid groups attributes offline_access");
        // An error later in the flow goes to the URI the app used, port included.
        let error = request.error(AuthorizeErrorCode::LoginRequired, "x", ISSUER);
        assert!(error
            .location()
            .starts_with("http://127.0.0.1:49152/native?error=login_required&"));
    }

    /// OP07 and `prompt`/`max_age`: when a live session answers, when the IdP is asked (again),
    /// and when the app hears `login_required` instead of the user seeing any page.
    #[test]
    fn the_login_decision_follows_prompt_and_max_age() {
        let now = Timestamp::from_micros(1_000_000_000_000_000);
        let minutes_ago = |minutes: i64| Some(now.plus_seconds(-60 * minutes));
        let request = |prompt: &str, max_age: Option<&str>| {
            let params = with(|p| {
                p.prompt = (!prompt.is_empty()).then(|| prompt.to_owned());
                p.max_age = max_age.map(str::to_owned);
            });
            validate(
                &params,
                Some(&app(ClientAuthMethod::ClientSecretBasic)),
                ISSUER,
            )
            .unwrap()
        };
        let login_required = |prompt: &str, max_age: Option<&str>| {
            LoginDecision::Refuse(request(prompt, max_age).error(
                AuthorizeErrorCode::LoginRequired,
                "no live session for this workspace; prompt=none forbids asking the user",
                ISSUER,
            ))
        };
        use LoginDecision::*;
        for (prompt, max_age, session, expected) in [
            ("", None, None, Upstream { force: false }),
            ("", None, minutes_ago(60), Session),
            ("", Some("600"), minutes_ago(5), Session),
            ("", Some("600"), minutes_ago(11), Upstream { force: true }),
            ("", Some("0"), minutes_ago(0), Session),
            ("", Some("0"), minutes_ago(1), Upstream { force: true }),
            ("login", None, None, Upstream { force: true }),
            ("login", None, minutes_ago(1), Upstream { force: true }),
            ("consent", None, minutes_ago(1), Session),
            ("none", None, minutes_ago(60), Session),
            ("none", Some("600"), minutes_ago(5), Session),
            ("none", None, None, login_required("none", None)),
            (
                "none",
                Some("600"),
                minutes_ago(11),
                login_required("none", Some("600")),
            ),
        ] {
            assert_eq!(
                decide_login(&request(prompt, max_age), session, now, ISSUER),
                expected,
                "prompt={prompt:?} max_age={max_age:?} session={session:?}"
            );
        }
    }

    fn redirect(uri: &str, state: Option<&str>) -> ErrorRedirect {
        ErrorRedirect {
            redirect_uri: uri.to_owned(),
            error: AuthorizeErrorCode::InvalidRequest,
            description: "bad & worse",
            state: state.map(str::to_owned),
            issuer: "https://roster.example".to_owned(),
        }
    }

    #[test]
    fn error_redirects_keep_the_registered_query_and_carry_state_and_iss() {
        let tail = "error=invalid_request&error_description=bad+%26+worse";
        let iss = "iss=https%3A%2F%2Froster.example";
        for (uri, state, expected) in [
            (
                "https://app.example/cb",
                Some("a b&c=d"),
                format!("https://app.example/cb?{tail}&state=a+b%26c%3Dd&{iss}"),
            ),
            (
                "https://app.example/cb?tenant=1",
                None,
                format!("https://app.example/cb?tenant=1&{tail}&{iss}"),
            ),
            (
                "https://app.example/cb?",
                None,
                format!("https://app.example/cb?{tail}&{iss}"),
            ),
        ] {
            assert_eq!(redirect(uri, state).location(), expected);
        }
    }

    #[test]
    fn a_session_answers_only_its_workspace_connection_and_freshness() {
        const CREATED: i64 = 1_700_000_000;
        let stored = |connection: Option<&str>, prompt: Option<&str>, max_age: Option<i64>| {
            OAuthAuthRequest {
                id: "h".to_owned(),
                browser_hash: "b".to_owned(),
                client_id: "client".to_owned(),
                redirect_uri: CALLBACK.to_owned(),
                scope: "openid".to_owned(),
                state: None,
                nonce: None,
                code_challenge: None,
                prompt: prompt.map(str::to_owned),
                max_age,
                login_hint: None,
                workspace_id: Some("w1".to_owned()),
                connection_id: connection.map(str::to_owned),
                upstream_request_id: None,
                // Half a second into the request's second.
                created_at: CREATED * 1_000_000 + 500_000,
                expires_at: 0,
                consumed_at: None,
            }
        };
        let session = |wid: &str, cid: &str, iat: i64| SessionClaims {
            iss: ISSUER.to_owned(),
            aud: ISSUER.to_owned(),
            sub: "u1".to_owned(),
            sid: "s1".to_owned(),
            wid: wid.to_owned(),
            workspace: "acme".to_owned(),
            roles: vec![],
            epoch: 0,
            cid: cid.to_owned(),
            iat,
            exp: iat + 3600,
            acr: None,
            amr: vec![],
        };
        let old = CREATED - 600;
        let cases = [
            (
                "same workspace",
                stored(None, None, None),
                session("w1", "c1", old),
                false,
                Ok(()),
            ),
            (
                "another workspace",
                stored(None, None, None),
                session("w2", "c1", CREATED),
                false,
                Err("the sign-in was for another workspace"),
            ),
            (
                "the named connection",
                stored(Some("c1"), None, None),
                session("w1", "c1", old),
                false,
                Ok(()),
            ),
            (
                "another connection",
                stored(Some("c1"), None, None),
                session("w1", "c2", CREATED),
                true,
                Err("the sign-in was through another connection"),
            ),
            (
                "resumed, fresh not demanded",
                stored(Some("c1"), None, None),
                session("w1", "c1", old),
                true,
                Ok(()),
            ),
            (
                "resumed after prompt=login with an old session",
                stored(Some("c1"), Some("login"), None),
                session("w1", "c1", old),
                true,
                Err("the identity provider did not authenticate the user again"),
            ),
            (
                "resumed after max_age with an old session",
                stored(Some("c1"), None, Some(0)),
                session("w1", "c1", CREATED - 1),
                true,
                Err("the identity provider did not authenticate the user again"),
            ),
            (
                "resumed after prompt=login, signed in within the request's second",
                stored(Some("c1"), Some("login"), None),
                session("w1", "c1", CREATED),
                true,
                Ok(()),
            ),
            (
                "resumed after max_age, signed in later",
                stored(Some("c1"), None, Some(0)),
                session("w1", "c1", CREATED + 20),
                true,
                Ok(()),
            ),
        ];
        for (name, request, claims, resuming, expected) in cases {
            assert_eq!(
                session_may_answer(&request, &claims, resuming),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn a_code_goes_back_with_state_and_iss() {
        assert_eq!(
            code_location(CALLBACK, "c0de", Some("a b&c"), ISSUER),
            "https://app.example/cb?code=c0de&state=a+b%26c&iss=https%3A%2F%2Froster.example"
        );
        assert_eq!(
            code_location("https://app.example/cb?x=1", "c", None, ISSUER),
            "https://app.example/cb?x=1&code=c&iss=https%3A%2F%2Froster.example"
        );
    }
}
