//! `POST /login/password`: the one non-SSO login (local passwords, as `roster admin create`
//! issues them). It exists for workspaces without an IdP and for break-glass access; when the
//! workspace enforces SSO it is refused with `sso_required`, whatever the password.
//!
//! Unknown users and wrong passwords get the same answer (and the same Argon2 work), so user
//! names cannot be probed.

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use roster_store::domain::password::verify_password;
use roster_store::domain::{LoginFailure, User, Workspace};
use roster_store::{NewLoginEvent, StoreError};
use serde::Deserialize;

use crate::browser::is_safe_return_to;
use crate::flow::{blocking, issue_session, LoginError, SsoState};

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
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, LoginError> {
    let form = form.into_inner();
    let return_to = form.return_to.clone().unwrap_or_else(|| "/".to_owned());
    if !is_safe_return_to(&return_to) {
        return Err(LoginError::plain(LoginFailure::BadReturnTo));
    }
    let store = state.store.clone();
    let outcome = web::block(move || -> Result<Outcome, StoreError> {
        let workspace = store.workspace_by_slug(&form.workspace)?;
        let user = match store.user_by_user_name(workspace.id, &form.user_name) {
            Ok(user) => Some(user),
            Err(StoreError::NotFound { .. }) => None,
            Err(err) => return Err(err),
        };
        let hash = match &user {
            Some(user) => store.password_hash(workspace.id, user.id)?,
            None => None,
        };
        let matches = verify_password(&form.password, hash.as_deref().unwrap_or(dummy_hash()))
            && hash.is_some();
        Ok(match user {
            Some(user) if matches && workspace.sso_enforced => {
                Outcome::Refused(workspace, Some(user), LoginFailure::SsoRequired)
            }
            Some(user) if matches && !user.lifecycle.is_active() => {
                Outcome::Refused(workspace, Some(user), LoginFailure::UserInactive)
            }
            Some(user) if matches => Outcome::Accepted(workspace, user),
            user => Outcome::Refused(workspace, user, LoginFailure::InvalidCredentials),
        })
    })
    .await
    .map_err(|_| LoginError::unavailable())?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(StoreError::NotFound { .. }) => {
            return Err(LoginError::plain(LoginFailure::InvalidCredentials))
        }
        Err(err) => return Err(err.into()),
    };
    let cookie = blocking(move || finish(&state, outcome)).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, return_to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish())
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
            Err(LoginError {
                failure: Some(failure),
                event_id: Some(event_id),
                unavailable: false,
            })
        }
        Outcome::Accepted(workspace, user) => {
            let cookie = issue_session(state, &workspace, &user, "password")?;
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
