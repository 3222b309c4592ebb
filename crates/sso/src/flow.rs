//! The part of a login both protocols share: record the attempt, resolve the user (JIT), open
//! the session, and turn any refusal into the HTML page of the browser-login contract.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse, ResponseError};
use roster_store::domain::{Connection, LoginClaims, LoginFailure, Workspace};
use roster_store::{JitError, NewLoginEvent, OneTimeAssertion, Store, StoreError};

use crate::pages;
use crate::session::{SessionError, SessionOptions, Sessions, SESSION_COOKIE};
use crate::throttle::{LoginThrottle, ThrottleLimits};

/// What every SSO handler needs: the store, the session signer, the OIDC client and settings.
#[derive(Clone, Debug)]
pub struct SsoState {
    pub store: Store,
    pub sessions: Sessions,
    pub oidc: crate::oidc::OidcRp,
    /// `server.public_url`, without a trailing slash.
    pub public_url: String,
    /// Failed password logins of this replica.
    pub password_throttle: std::sync::Arc<LoginThrottle>,
}

impl SsoState {
    /// `outbound` makes the OIDC relying party's requests (discovery, JWKS, token, userinfo).
    pub fn new(
        store: Store,
        public_url: &str,
        options: SessionOptions,
        outbound: roster_outbound::Client,
    ) -> Result<Self, SessionError> {
        let public_url = public_url.trim_end_matches('/').to_owned();
        let sessions = Sessions::new(store.clone(), public_url.clone(), options)?;
        let oidc = crate::oidc::OidcRp::new(outbound);
        Ok(Self {
            store,
            sessions,
            oidc,
            public_url,
            password_throttle: std::sync::Arc::new(LoginThrottle::new(ThrottleLimits::default())),
        })
    }

    /// Replaces the default password-login limits.
    pub fn with_password_limits(mut self, limits: ThrottleLimits) -> Self {
        self.password_throttle = std::sync::Arc::new(LoginThrottle::new(limits));
        self
    }

    /// Cookies are `Secure` exactly when Roster is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// A refused login: its reason and the id of its login event (when one could be recorded).
#[derive(Debug)]
pub struct LoginError {
    pub failure: Option<LoginFailure>,
    pub event_id: Option<String>,
    /// Set for infrastructure failures (database down): answered 503, not a refusal.
    pub unavailable: bool,
    /// Seconds to wait before trying again (`too_many_attempts`), sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl LoginError {
    /// Infrastructure trouble (database, randomness, a worker): 503, not a refusal.
    pub fn unavailable() -> Self {
        Self {
            failure: None,
            event_id: None,
            unavailable: true,
            retry_after: None,
        }
    }

    pub fn plain(failure: LoginFailure) -> Self {
        Self {
            failure: Some(failure),
            event_id: None,
            unavailable: false,
            retry_after: None,
        }
    }
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.failure {
            Some(failure) => write!(f, "login refused: {}", failure.code()),
            None => write!(f, "login unavailable"),
        }
    }
}

impl From<StoreError> for LoginError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { .. } => LoginError::plain(LoginFailure::ConnectionUnavailable),
            other => {
                tracing::error!(error = %other, "SSO: store error");
                LoginError::unavailable()
            }
        }
    }
}

impl ResponseError for LoginError {
    fn status_code(&self) -> StatusCode {
        if self.unavailable {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match self.failure {
            Some(LoginFailure::ConnectionUnavailable) => StatusCode::NOT_FOUND,
            Some(
                LoginFailure::UserInactive
                | LoginFailure::EmailConflict
                | LoginFailure::EmailDomainNotAllowed
                | LoginFailure::EmailUnverified
                | LoginFailure::CrossOrigin
                | LoginFailure::UserNameConflict
                | LoginFailure::SsoRequired,
            ) => StatusCode::FORBIDDEN,
            Some(LoginFailure::InvalidCredentials) => StatusCode::UNAUTHORIZED,
            Some(LoginFailure::TooManyAttempts) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (explanation, code) = match self.failure {
            Some(failure) => (failure.explanation(), failure.code()),
            None => (
                "Sign-in is temporarily unavailable. Please try again in a moment.",
                "unavailable",
            ),
        };
        let mut response = HttpResponse::build(self.status_code());
        if self.unavailable {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("text/html; charset=utf-8")
            .body(pages::login_refused(
                explanation,
                code,
                self.event_id.as_deref(),
            ))
    }
}

/// Runs a login's blocking work — store calls, XML signature checks — on actix's blocking thread
/// pool, so the worker that serves requests never waits on the database. A pool failure is 503.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LoginError> + Send + 'static,
) -> Result<T, LoginError> {
    web::block(work)
        .await
        .map_err(|_| LoginError::unavailable())?
}

/// A completed login: the session cookie and where the browser goes next.
#[derive(Debug)]
pub struct SignedIn {
    pub cookie: Cookie<'static>,
    pub location: String,
}

impl SignedIn {
    /// The redirect that sets the session.
    pub fn redirect(self) -> HttpResponse {
        HttpResponse::Found()
            .insert_header((header::LOCATION, self.location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(self.cookie)
            .finish()
    }
}

/// Who is logging in where: enough to record an attempt.
pub struct Attempt<'a> {
    pub workspace: &'a Workspace,
    pub connection: &'a Connection,
    pub protocol: &'static str,
}

impl Attempt<'_> {
    /// Records a refusal and returns the error page for it.
    pub fn refuse(
        &self,
        store: &Store,
        failure: LoginFailure,
        detail: serde_json::Value,
        claims: Option<&LoginClaims>,
    ) -> LoginError {
        tracing::info!(
            connection = %self.connection.id,
            reason = failure.code(),
            "SSO login refused"
        );
        let event_id = store
            .record_login_event(NewLoginEvent {
                workspace_id: self.workspace.id,
                connection_id: Some(self.connection.id),
                user_id: None,
                protocol: self.protocol,
                failure: Some(failure),
                detail,
                subject: claims.map(|c| c.subject.clone()),
                email: claims.and_then(|c| c.email.clone()),
            })
            .map_err(|err| tracing::error!(error = %err, "cannot record a login event"))
            .ok();
        LoginError {
            failure: Some(failure),
            event_id,
            unavailable: false,
            retry_after: None,
        }
    }

    /// Resolves verified claims to a user and opens a session that goes to `return_to`. The
    /// SAML assertion (if any) is consumed, the user resolved and the login recorded in one
    /// transaction (`Store::sign_in`); a refused assertion is consumed all the same.
    pub fn complete(
        &self,
        state: &SsoState,
        claims: &LoginClaims,
        return_to: &str,
        assertion: Option<OneTimeAssertion<'_>>,
    ) -> Result<SignedIn, LoginError> {
        let signed_in = state.store.sign_in(
            self.workspace,
            self.connection,
            claims,
            assertion,
            |outcome| NewLoginEvent {
                workspace_id: self.workspace.id,
                connection_id: Some(self.connection.id),
                user_id: Some(outcome.user.id),
                protocol: self.protocol,
                failure: None,
                detail: serde_json::json!({
                    "created": outcome.created,
                    "linked": outcome.linked,
                    "groups": match &claims.groups {
                        roster_store::domain::GroupsClaim::Unknown => serde_json::json!("unknown"),
                        roster_store::domain::GroupsClaim::Known(values) => {
                            serde_json::json!(values)
                        }
                    },
                }),
                subject: Some(claims.subject.clone()),
                email: claims.email.clone(),
            },
        );
        let outcome = match signed_in {
            Ok((outcome, _)) => outcome,
            Err(JitError::Refused {
                failure, detail, ..
            }) => {
                if let Some(assertion) = assertion.filter(|_| failure != LoginFailure::Replay) {
                    state.store.consume_assertion(
                        self.connection.id,
                        assertion.assertion_id,
                        assertion.valid_until,
                    )?;
                }
                return Err(self.refuse(&state.store, failure, detail, Some(claims)));
            }
            Err(JitError::Store(err)) => return Err(err.into()),
        };
        let cookie = issue_session(
            state,
            self.workspace,
            &outcome.user,
            &self.connection.id.to_string(),
        )?;
        Ok(SignedIn {
            cookie,
            location: return_to.to_owned(),
        })
    }
}

/// The `login_via` (session `cid`) of a local password login.
pub const PASSWORD_LOGIN: &str = "password";

/// Signs a session for `user` (with its current effective roles) and returns its cookie;
/// `login_via` is the connection id, or [`PASSWORD_LOGIN`].
pub fn issue_session(
    state: &SsoState,
    workspace: &Workspace,
    user: &roster_store::domain::User,
    login_via: &str,
) -> Result<Cookie<'static>, LoginError> {
    let roles = state
        .store
        .effective_roles(workspace, user.id)?
        .roles
        .iter()
        .map(ToString::to_string)
        .collect();
    let (token, _) = state
        .sessions
        .issue(workspace, user, roles, login_via)
        .map_err(|err| {
            tracing::error!(error = %err, "cannot sign a session");
            LoginError::unavailable()
        })?;
    Ok(session_cookie(
        token,
        state.secure_cookies(),
        state.sessions.options().ttl_seconds,
    ))
}

/// The session cookie, kept by the browser as long as the token lasts.
pub fn session_cookie(token: String, secure: bool, max_age_seconds: i64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_seconds))
        .finish()
}

/// A cookie that deletes the session cookie.
pub fn expired_session_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = session_cookie(String::new(), secure, 0);
    cookie.make_removal();
    cookie
}
