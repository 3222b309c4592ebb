//! The session routes: who am I, sign out, and the small landing page. (The keys that verify
//! session tokens are published by `roster-provider` at `/.well-known/jwks.json`, in one JWKS
//! with the provider's own: see `Sessions::jwks`.)

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::flow::{expired_session_cookie, SsoState};
use crate::pages;
use crate::session::{SessionClaims, SessionError, SESSION_COOKIE};

/// The session token of a request: the cookie, or an `Authorization: Bearer` header.
fn token(req: &HttpRequest) -> Option<String> {
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        return Some(cookie.value().to_owned());
    }
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

fn unauthorized(message: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "code": "unauthorized", "message": message, "detail": null }))
}

fn unavailable(err: &SessionError) -> HttpResponse {
    tracing::error!(error = %err, "session check failed");
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "5"))
        .json(serde_json::json!({ "code": "unavailable", "message": "try again shortly", "detail": null }))
}

/// `GET /api/v1/me`: the signed-in user with its groups and effective roles.
pub async fn me(state: web::Data<SsoState>, req: HttpRequest) -> HttpResponse {
    let Some(token) = token(&req) else {
        return unauthorized("no session");
    };
    let store = state.store.clone();
    let sessions = state.sessions.clone();
    let result = web::block(move || -> Result<_, SessionError> {
        let (_, workspace, user) = sessions.verify(&token)?;
        Ok(store.user_profile(&workspace, &user)?)
    })
    .await;
    match result {
        Ok(Ok(profile)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(profile),
        Ok(Err(SessionError::Store(err))) => unavailable(&SessionError::Store(err)),
        Ok(Err(SessionError::Key(err))) => unavailable(&SessionError::Key(err)),
        Ok(Err(_)) => unauthorized("the session is invalid or has ended"),
        Err(_) => unavailable(&SessionError::Key("worker".to_owned())),
    }
}

/// `POST|GET /logout`: ends the session (server-side too) and clears the cookie.
pub async fn logout(state: web::Data<SsoState>, req: HttpRequest) -> HttpResponse {
    if let Some(token) = token(&req) {
        let sessions = state.sessions.clone();
        let _ = web::block(move || -> Result<(), SessionError> {
            let claims: SessionClaims = sessions.decode_for_logout(&token)?;
            sessions.revoke(&claims)
        })
        .await;
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(expired_session_cookie(state.secure_cookies()))
        .finish()
}

/// `GET /`: "signed in as …", the default `return_to`.
pub async fn landing(state: web::Data<SsoState>, req: HttpRequest) -> HttpResponse {
    let sessions = state.sessions.clone();
    let who = match token(&req) {
        Some(token) => web::block(move || sessions.verify(&token))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|(_, workspace, user)| (user.user_name.to_string(), workspace.slug.to_string())),
        None => None,
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(pages::signed_in(
            who.as_ref().map(|(u, _)| u.as_str()),
            who.as_ref().map(|(_, w)| w.as_str()),
        ))
}
