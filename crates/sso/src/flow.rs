//! The part of a login both protocols share: record the attempt, resolve the user (JIT), open
//! the session, and turn any refusal into the HTML page of the browser-login contract.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use roster_store::domain::{Connection, LoginClaims, LoginFailure, Workspace};
use roster_store::{JitError, NewLoginEvent, OneTimeAssertion, Store, StoreError};

use crate::authn_context::SessionAuthn;
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

/// Why a login did not complete: refused (the browser gets the page naming the reason), or
/// Roster could not answer. An enum, so a refusal always has its reason and an outage never has
/// one.
#[derive(Debug)]
pub enum LoginError {
    Refused {
        failure: LoginFailure,
        /// The refusal's login event, when one could be recorded (shown on the page).
        event_id: Option<String>,
        /// Seconds to wait before trying again (`too_many_attempts`), sent as `Retry-After`.
        retry_after: Option<u64>,
    },
    /// Infrastructure trouble (database, randomness, a worker): 503, not a refusal.
    Unavailable,
}

impl LoginError {
    /// Infrastructure trouble (database, randomness, a worker): 503, not a refusal.
    pub fn unavailable() -> Self {
        Self::Unavailable
    }

    /// A refusal with no login event.
    pub fn plain(failure: LoginFailure) -> Self {
        Self::recorded(failure, None)
    }

    /// A refusal whose login event is `event_id`.
    pub fn recorded(failure: LoginFailure, event_id: Option<String>) -> Self {
        Self::Refused {
            failure,
            event_id,
            retry_after: None,
        }
    }

    /// The refusal's reason; `None` for an outage.
    pub fn failure(&self) -> Option<LoginFailure> {
        match self {
            Self::Refused { failure, .. } => Some(*failure),
            Self::Unavailable => None,
        }
    }
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused { failure, .. } => write!(f, "login refused: {}", failure.code()),
            Self::Unavailable => write!(f, "login unavailable"),
        }
    }
}

impl From<StoreError> for LoginError {
    fn from(err: StoreError) -> Self {
        match err {
            // What a login looks up by the URL — the workspace, the connection — is gone.
            StoreError::NotFound { .. } => LoginError::plain(LoginFailure::ConnectionUnavailable),
            // A login's writes are the store's own (a login event, a JIT user whose conflicts
            // come back as `JitError`, a session): any other store error is Roster's trouble,
            // not the person's, so the page says "try again" and the log says what happened.
            StoreError::Conflict { .. }
            | StoreError::Invalid(_)
            | StoreError::PreconditionFailed { .. }
            | StoreError::InvalidFilter(_)
            | StoreError::Unauthorized
            | StoreError::Forbidden { .. }
            | StoreError::Unavailable(_)
            | StoreError::Corrupt(_)
            | StoreError::DataKey(_)
            | StoreError::Migration(_)
            | StoreError::Database(_) => {
                tracing::error!(error = %err, "SSO: store error");
                LoginError::unavailable()
            }
        }
    }
}

/// The HTTP status of a refusal: the browser-login contract's (docs/sso.md).
fn refusal_status(failure: LoginFailure) -> StatusCode {
    match failure {
        LoginFailure::ConnectionUnavailable => StatusCode::NOT_FOUND,
        LoginFailure::UserInactive
        | LoginFailure::EmailConflict
        | LoginFailure::EmailDomainNotAllowed
        | LoginFailure::EmailUnverified
        | LoginFailure::CrossOrigin
        | LoginFailure::UserNameConflict
        | LoginFailure::SsoRequired => StatusCode::FORBIDDEN,
        LoginFailure::InvalidCredentials => StatusCode::UNAUTHORIZED,
        LoginFailure::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        LoginFailure::ConnectionMisconfigured
        | LoginFailure::ConnectionDraft
        | LoginFailure::NoConnectionForDomain
        | LoginFailure::BadReturnTo
        | LoginFailure::UnknownRequest
        | LoginFailure::IdpError
        | LoginFailure::InvalidResponse
        | LoginFailure::Replay
        | LoginFailure::IdpUnreachable
        | LoginFailure::MissingClaims => StatusCode::BAD_REQUEST,
    }
}

impl ResponseError for LoginError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Refused { failure, .. } => refusal_status(*failure),
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("text/html; charset=utf-8");
        let page = match self {
            Self::Refused {
                failure,
                event_id,
                retry_after,
            } => {
                if let Some(seconds) = retry_after {
                    response.insert_header((header::RETRY_AFTER, seconds.to_string()));
                }
                pages::login_refused(failure.explanation(), failure.code(), event_id.as_deref())
            }
            Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "5"));
                pages::login_refused(
                    "Sign-in is temporarily unavailable. Please try again in a moment.",
                    "unavailable",
                    None,
                )
            }
        };
        response.body(page)
    }
}

/// A completed login: the session cookie and where the browser goes next.
#[derive(Debug)]
pub struct SignedIn {
    pub cookie: Cookie<'static>,
    pub location: String,
    /// The new session's id and expiry (Unix seconds), for Single Logout's records.
    pub session_id: String,
    pub expires_at_unix: i64,
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

/// Where an answer from the IdP leads: a signed-in browser, or (a test sign-in) back to the
/// console with no session.
#[derive(Debug)]
pub enum Landing {
    SignedIn(SignedIn),
    /// A test sign-in's report is stored: `303` to the console's view of it, no cookie.
    Tested {
        location: String,
    },
}

impl Landing {
    pub fn respond(self) -> HttpResponse {
        match self {
            Landing::SignedIn(signed_in) => signed_in.redirect(),
            Landing::Tested { location } => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish(),
        }
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
        LoginError::recorded(failure, event_id)
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
        authn: SessionAuthn,
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
                detail: success_detail(claims, outcome),
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
                // A replay the store caught (a second POST racing this one) is told as the
                // check before it tells it (`SamlError::AssertionReplayed`), want/got included.
                let detail = match (failure, assertion) {
                    (LoginFailure::Replay, Some(assertion)) => {
                        crate::saml::SamlError::AssertionReplayed {
                            assertion_id: assertion.assertion_id.to_owned(),
                        }
                        .detail()
                    }
                    _ => detail,
                };
                return Err(self.refuse(&state.store, failure, detail, Some(claims)));
            }
            Err(JitError::Store(err)) => return Err(err.into()),
        };
        let (cookie, session) = issue_session_with_claims(
            state,
            self.workspace,
            &outcome.user,
            &self.connection.id.to_string(),
            authn,
        )?;
        Ok(SignedIn {
            cookie,
            location: return_to.to_owned(),
            session_id: session.sid,
            expires_at_unix: session.exp,
        })
    }
}

/// The login log's facts of a successful login: whether it created or linked the user, the
/// groups it carried, and the custom attribute values it carried and could not write (each with
/// its source and why), when there are any.
fn success_detail(claims: &LoginClaims, outcome: &roster_store::JitOutcome) -> serde_json::Value {
    let mut detail = serde_json::json!({
        "created": outcome.created,
        "linked": outcome.linked,
        "groups": match &claims.groups {
            roster_store::domain::GroupsClaim::Unknown => serde_json::json!("unknown"),
            roster_store::domain::GroupsClaim::Known(values) => serde_json::json!(values),
        },
    });
    if !outcome.warnings.is_empty() {
        detail["attribute_warnings"] = outcome
            .warnings
            .iter()
            .map(|warning| {
                serde_json::json!({
                    "attribute": warning.attribute,
                    "source": warning.source,
                    "reason": warning.reason,
                })
            })
            .collect();
    }
    detail
}

/// The `login_via` (session `cid`) of a local password login.
pub const PASSWORD_LOGIN: &str = "password";

/// Signs a session for `user` (with its current effective roles) and returns its cookie;
/// `login_via` is the connection id, or [`PASSWORD_LOGIN`]; `authn` is how the user
/// authenticated (kept on the session for the apps' `acr`/`amr`).
pub fn issue_session(
    state: &SsoState,
    workspace: &Workspace,
    user: &roster_store::domain::User,
    login_via: &str,
    authn: SessionAuthn,
) -> Result<Cookie<'static>, LoginError> {
    issue_session_with_claims(state, workspace, user, login_via, authn).map(|(cookie, _)| cookie)
}

/// [`issue_session`], with the new session's claims.
pub fn issue_session_with_claims(
    state: &SsoState,
    workspace: &Workspace,
    user: &roster_store::domain::User,
    login_via: &str,
    authn: SessionAuthn,
) -> Result<(Cookie<'static>, crate::session::SessionClaims), LoginError> {
    let roles = state
        .store
        .effective_roles(workspace, user.id)?
        .roles
        .iter()
        .map(ToString::to_string)
        .collect();
    let (token, claims) = state
        .sessions
        .issue_with(workspace, user, roles, login_via, authn)
        .map_err(|err| {
            tracing::error!(error = %err, "cannot sign a session");
            LoginError::unavailable()
        })?;
    Ok((
        session_cookie(
            token,
            state.secure_cookies(),
            state.sessions.options().ttl_seconds,
        ),
        claims,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/sso.md's login-log table is the status table: a row's first parenthesised status
    /// code is what the browser gets, and a row without one is a 400.
    #[test]
    fn each_refusal_answers_the_status_docs_sso_md_gives_it() {
        let guide = include_str!("../../../docs/sso.md");
        let mut checked = Vec::new();
        for row in guide.lines().filter(|line| line.starts_with("| `")) {
            let Some((codes, when)) = row.trim_matches('|').split_once(" | ") else {
                continue;
            };
            let status = when
                .match_indices('(')
                .find_map(|(at, _)| when.get(at + 1..at + 4)?.parse::<u16>().ok())
                .unwrap_or(400);
            for code in codes.split(", ").map(|code| code.trim().trim_matches('`')) {
                let Some(failure) = LoginFailure::parse(code) else {
                    continue;
                };
                assert_eq!(
                    refusal_status(failure).as_u16(),
                    status,
                    "{code}: docs/sso.md says {status}"
                );
                checked.push(failure);
            }
        }
        for failure in LoginFailure::ALL {
            assert!(
                checked.contains(failure),
                "{} is missing from docs/sso.md's login-log table",
                failure.code()
            );
        }
    }
}
