//! `POST /login/password`: the one non-SSO login (local passwords, as `roster admin create`
//! issues them). It exists for workspaces without an IdP and for break-glass access.
//!
//! The checks, in order:
//! 1. The form must come from Roster's own origin (`browser::check_same_origin`): a page of
//!    another site could otherwise sign a visitor into an account of the attacker's (login CSRF).
//!    Refused with 403 `cross_origin`, recorded, nothing else done.
//! 2. `return_to` must be a same-origin path.
//! 3. Failed attempts are counted per account and per client address (`throttle.rs`); a locked
//!    attempt is answered 429 `too_many_attempts` with `Retry-After`, before any password work.
//! 4. When the workspace enforces SSO the answer is 403 `sso_required` for every user name,
//!    existing or not, decided before the password is read: no Argon2 run, the same queries and the
//!    same page whatever was typed, so the form cannot be used to test a password.
//! 5. Otherwise Argon2 decides. Unknown users and wrong passwords get the same answer (and the same
//!    Argon2 work, against a dummy hash), so user names cannot be probed.

use std::time::Duration;

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::domain::password::verify_password;
use roster_store::domain::{LoginFailure, User, Workspace};
use roster_store::{NewLoginEvent, StoreError};
use serde::Deserialize;

use crate::browser::{check_request_origin, is_safe_return_to, CrossOrigin};
use crate::flow::{issue_session, LoginError, SsoState, PASSWORD_LOGIN};
use crate::throttle::LoginThrottle;

/// A real Argon2 hash to verify against when the user does not exist (or has no password), so
/// every refusal costs the same.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        roster_store::domain::password::hash_password("not-a-password").unwrap_or_default()
    })
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    workspace: String,
    user_name: String,
    password: String,
    return_to: Option<String>,
}

enum Outcome {
    Accepted(Workspace, User),
    Refused(Workspace, Option<User>, LoginFailure),
}

pub async fn login(
    state: web::Data<SsoState>,
    req: HttpRequest,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, LoginError> {
    let form = form.into_inner();
    if let Err(refusal) = check_request_origin(&req, &state.public_url) {
        return Err(cross_origin(&state, form, refusal).await);
    }
    let return_to = form.return_to.clone().unwrap_or_else(|| "/".to_owned());
    if !is_safe_return_to(&return_to) {
        return Err(LoginError::plain(LoginFailure::BadReturnTo));
    }
    // The TCP peer: behind a reverse proxy, the proxy (see docs/security.md).
    let address = req.peer_addr().map(|peer| peer.ip());
    let throttle = state.password_throttle.clone();
    if let Some(wait) = throttle.locked(&form.workspace, &form.user_name, address) {
        throttle.count_throttled();
        return Err(locked(&state, form, wait).await);
    }
    let (workspace_slug, user_name) = (form.workspace.clone(), form.user_name.clone());
    let record_failure = || throttle.record_failure(&workspace_slug, &user_name, address);
    let store = state.store.clone();
    let counter = throttle.clone();
    let outcome = roster_store::blocking(move || decide(&store, &counter, &form)).await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(StoreError::NotFound { .. }) => {
            record_failure();
            return Err(LoginError::plain(LoginFailure::InvalidCredentials));
        }
        Err(err) => return Err(err.into()),
    };
    match &outcome {
        Outcome::Refused(_, _, LoginFailure::InvalidCredentials) => record_failure(),
        Outcome::Accepted(..) => throttle.record_success(&workspace_slug, &user_name),
        Outcome::Refused(..) => {}
    }
    let cookie = roster_store::blocking(move || finish(&state, outcome)).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, return_to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish())
}

/// Steps 4 and 5: the workspace (an unknown one is `StoreError::NotFound`), then SSO
/// enforcement, then the password.
fn decide(
    store: &roster_store::Store,
    throttle: &LoginThrottle,
    form: &PasswordForm,
) -> Result<Outcome, StoreError> {
    let workspace = store.workspace_by_slug(&form.workspace)?;
    let user = match store.user_by_user_name(workspace.id, &form.user_name) {
        Ok(user) => Some(user),
        Err(StoreError::NotFound { .. }) => None,
        Err(err) => return Err(err),
    };
    if workspace.sso_enforced {
        // Before the password hash is read or the password looked at: the answer cannot depend
        // on either, and costs no Argon2 run.
        return Ok(Outcome::Refused(workspace, user, LoginFailure::SsoRequired));
    }
    let hash = match &user {
        Some(user) => store.password_hash(workspace.id, user.id)?,
        None => None,
    };
    throttle.count_verification();
    let matches =
        verify_password(&form.password, hash.as_deref().unwrap_or(dummy_hash())) && hash.is_some();
    Ok(match user {
        Some(user) if matches && !user.lifecycle.is_active() => {
            Outcome::Refused(workspace, Some(user), LoginFailure::UserInactive)
        }
        Some(user) if matches => Outcome::Accepted(workspace, user),
        user => Outcome::Refused(workspace, user, LoginFailure::InvalidCredentials),
    })
}

/// Records the attempt and, when it was accepted, opens the session (its cookie).
fn finish(state: &SsoState, outcome: Outcome) -> Result<Cookie<'static>, LoginError> {
    match outcome {
        Outcome::Refused(workspace, user, failure) => {
            let event_id = state.store.record_login_event(NewLoginEvent {
                workspace_id: workspace.id,
                connection_id: None,
                user_id: user.as_ref().map(|u| u.id),
                protocol: "password",
                failure: Some(failure),
                detail: serde_json::json!({}),
                subject: None,
                email: user.and_then(|u| u.email.map(|e| e.to_string())),
            })?;
            Err(LoginError::recorded(failure, Some(event_id)))
        }
        Outcome::Accepted(workspace, user) => {
            let cookie = issue_session(
                state,
                &workspace,
                &user,
                PASSWORD_LOGIN,
                crate::authn_context::password(),
            )?;
            state.store.record_login_event(NewLoginEvent {
                workspace_id: workspace.id,
                connection_id: None,
                user_id: Some(user.id),
                protocol: "password",
                failure: None,
                detail: serde_json::json!({}),
                subject: None,
                email: user.email.map(|e| e.to_string()),
            })?;
            Ok(cookie)
        }
    }
}

/// Refuses a locked attempt without verifying any password, recording it as a login event of
/// the workspace when there is one.
async fn locked(state: &SsoState, form: PasswordForm, wait: Duration) -> LoginError {
    let retry_after = wait.as_secs().saturating_add(1);
    let detail = serde_json::json!({ "retry_after_seconds": retry_after });
    let event_id = record_refusal(state, form, LoginFailure::TooManyAttempts, detail).await;
    tracing::info!(reason = "too_many_attempts", "password login refused");
    LoginError::Refused {
        failure: LoginFailure::TooManyAttempts,
        event_id,
        retry_after: Some(retry_after),
    }
}

/// Refuses a form posted from another origin, before any other check, recording it as a login
/// event of the workspace when there is one (an admin sees which origin sent it).
async fn cross_origin(state: &SsoState, form: PasswordForm, refusal: CrossOrigin) -> LoginError {
    tracing::info!(
        reason = "cross_origin",
        header = refusal.header,
        got = %refusal.got,
        "password login refused"
    );
    let failure = LoginFailure::CrossOrigin;
    let event_id = record_refusal(state, form, failure, refusal.detail()).await;
    LoginError::recorded(failure, event_id)
}

/// Records a refusal decided without the password as a login event of the form's workspace;
/// the event id, or `None` when there is no such workspace or the event cannot be written.
async fn record_refusal(
    state: &SsoState,
    form: PasswordForm,
    failure: LoginFailure,
    detail: serde_json::Value,
) -> Option<String> {
    let store = state.store.clone();
    roster_store::blocking(move || -> Result<Option<String>, StoreError> {
        let workspace = match store.workspace_by_slug(&form.workspace) {
            Ok(workspace) => workspace,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        let user = store.user_by_user_name(workspace.id, &form.user_name).ok();
        store
            .record_login_event(NewLoginEvent {
                workspace_id: workspace.id,
                connection_id: None,
                user_id: user.as_ref().map(|u| u.id),
                protocol: "password",
                failure: Some(failure),
                detail,
                subject: None,
                email: user.and_then(|u| u.email.map(|e| e.to_string())),
            })
            .map(Some)
    })
    .await
    .map_err(|err| tracing::error!(error = %err, "cannot record a login event"))
    .ok()
    .flatten()
}
