//! The session routes: who am I, sign out, and the small landing page. (The keys that verify
//! session tokens are published by `roster-provider` at `/.well-known/jwks.json`, in one JWKS
//! with the provider's own: see `Sessions::jwks`.)

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::domain::LoginFailure;

use crate::browser::check_request_origin;
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

/// Whether the request carries its session only as `Authorization: Bearer` (no session cookie):
/// a client's own request, since a page of another site cannot add that header.
fn bearer_only(req: &HttpRequest) -> bool {
    req.cookie(SESSION_COOKIE).is_none()
        && req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer "))
}

/// A page of the session routes: never cached, never framed (the confirmation carries the
/// sign-out button).
fn session_page(status: StatusCode, html: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, pages::SESSION_PAGE_CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .content_type("text/html; charset=utf-8")
        .body(html)
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
    let result = roster_store::blocking(move || -> Result<_, SessionError> {
        let (_, workspace, user) = sessions.verify(&token)?;
        Ok(store.user_profile(&workspace, &user)?)
    })
    .await;
    match result {
        Ok(profile) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(profile),
        Err(SessionError::Store(err)) => unavailable(&SessionError::Store(err)),
        Err(SessionError::Key(err)) => unavailable(&SessionError::Key(err)),
        Err(_) => unauthorized("the session is invalid or has ended"),
    }
}

/// `GET /logout`: asks for confirmation; its button posts `/logout`. Changes nothing, so a page
/// that embeds the URL (an image, a link prefetch) signs nobody out.
pub async fn confirm_logout() -> HttpResponse {
    session_page(StatusCode::OK, pages::confirm_sign_out())
}

/// `POST /logout`: ends the session (server-side too) and clears the cookie. A request with the
/// session cookie must come from Roster's own origin (`browser::check_same_origin`), else it is
/// refused with a 403 page and nothing changes; a request that carries its token only as
/// `Authorization: Bearer` needs no such proof.
pub async fn logout(state: web::Data<SsoState>, req: HttpRequest) -> HttpResponse {
    if !bearer_only(&req) {
        if let Err(refusal) = check_request_origin(&req, &state.public_url) {
            tracing::info!(
                reason = LoginFailure::CrossOrigin.code(),
                header = refusal.header,
                got = %refusal.got,
                "sign-out refused"
            );
            return session_page(
                StatusCode::FORBIDDEN,
                pages::sign_out_refused(
                    "The sign-out request came from a page of another site, so you are still \
                     signed in. To sign out, use the button below.",
                    LoginFailure::CrossOrigin.code(),
                ),
            );
        }
    }
    let mut to_idp = None;
    if let Some(token) = token(&req) {
        let sessions = state.sessions.clone();
        let ended = roster_store::blocking(move || -> Result<SessionClaims, SessionError> {
            let claims: SessionClaims = sessions.decode_for_logout(&token)?;
            sessions.revoke(&claims)?;
            Ok(claims)
        })
        .await;
        // A session a SAML login made: the IdP ends its own session too (Single Logout), and
        // its answer brings the browser back to `/`.
        if let Ok(claims) = ended {
            let state_ = state.clone();
            to_idp = roster_store::blocking(move || {
                super::slo::idp_logout_redirect(&state_, &claims.sid, "/")
            })
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "cannot start SAML Single Logout; signed out of Roster only");
                None
            });
        }
    }
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(expired_session_cookie(state.secure_cookies()));
    match to_idp {
        Some((location, binding)) => response
            .insert_header((header::LOCATION, location))
            .cookie(binding)
            .finish(),
        None => response.insert_header((header::LOCATION, "/")).finish(),
    }
}

/// `GET /`: "signed in as …", the default `return_to`.
pub async fn landing(state: web::Data<SsoState>, req: HttpRequest) -> HttpResponse {
    let sessions = state.sessions.clone();
    let who = match token(&req) {
        Some(token) => roster_store::blocking(move || sessions.verify(&token))
            .await
            .ok()
            .map(|(_, workspace, user)| (user.user_name.to_string(), workspace.slug.to_string())),
        None => None,
    };
    session_page(
        StatusCode::OK,
        pages::signed_in(
            who.as_ref().map(|(u, _)| u.as_str()),
            who.as_ref().map(|(_, w)| w.as_str()),
        ),
    )
}
