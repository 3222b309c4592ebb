//! SAML 2.0 service provider and OpenID Connect relying party with JIT provisioning, mounted at
//! `/sso`, and the session routes at the root.
//!
//! **Architecture invariant:** validation policy (signatures, audience, time, replay) is pure and
//! unit-tested (`saml`, `oidc`, `browser`); handlers only move bytes between the browser, the
//! validator and the store, and every refusal is an HTML page with a reason and a login-event id.

pub mod attributes;
pub mod authn_context;
pub mod browser;
pub mod certificates;
pub mod config;
pub mod flow;
mod handlers;
pub mod oidc;
pub mod pages;
pub mod saml;
pub mod session;
pub mod setup;
pub mod sp_keys;
pub mod test_sign_in;
pub mod throttle;

use actix_web::{web, HttpResponse};

pub use flow::SsoState;
pub use handlers::slo::idp_logout_redirect;

/// The largest form the ACS accepts (`AcsBody`): a 256 KiB response, base64-encoded, plus
/// RelayState.
pub(crate) const ACS_FORM_LIMIT: usize = 400 * 1024;

/// Mounts the SSO endpoints (relative to the `/sso` scope the server gives).
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<SsoState>) {
    cfg.app_data(state)
        .route(
            "/saml/{connection}/acs",
            web::post().to(handlers::saml::acs),
        )
        .route(
            "/saml/{connection}/metadata",
            web::get().to(handlers::saml::metadata),
        )
        .route(
            "/saml/{connection}/slo",
            web::get().to(handlers::slo::redirect),
        )
        .route(
            "/saml/{connection}/slo",
            web::post().to(handlers::slo::post),
        )
        .route(
            "/oidc/{connection}/callback",
            web::get().to(handlers::oidc::callback),
        )
        .route("/{workspace}/login", web::get().to(handlers::login::start))
        .route(
            "/{workspace}/test/{test}",
            web::get().to(handlers::login::start_test),
        );
}

/// Forms answer their errors with the login error page (413 when too large), never the
/// framework's plain-text default.
fn form_config(limit: usize) -> web::FormConfig {
    web::FormConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let too_large = matches!(err, actix_web::error::UrlencodedError::Overflow { .. });
            form_refused(err, too_large)
        })
}

/// The login error page for a form that cannot be read: 413 when it is too large, else 400.
pub(crate) fn form_refused(
    cause: impl std::fmt::Debug + std::fmt::Display + 'static,
    too_large: bool,
) -> actix_web::Error {
    let (status, text) = if too_large {
        (
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "The submitted answer is too large.",
        )
    } else {
        (
            actix_web::http::StatusCode::BAD_REQUEST,
            "The submitted answer could not be read.",
        )
    };
    let body = pages::login_refused(text, "invalid_response", None);
    actix_web::error::InternalError::from_response(
        cause,
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
    )
    .into()
}

/// Mounts the session routes at the root: `/api/v1/me`, `/login/password`, `/logout` (GET: a
/// confirmation page; POST: sign out), `/`. (`roster-provider` publishes the session keys at
/// `/.well-known/jwks.json`.)
pub fn configure_session_routes(cfg: &mut web::ServiceConfig, state: web::Data<SsoState>) {
    cfg.app_data(state)
        .app_data(form_config(16 * 1024))
        .route("/api/v1/me", web::get().to(handlers::session::me))
        .route("/login/password", web::post().to(handlers::password::login))
        .route("/logout", web::post().to(handlers::session::logout))
        .route("/logout", web::get().to(handlers::session::confirm_logout))
        .route("/", web::get().to(handlers::session::landing));
}
