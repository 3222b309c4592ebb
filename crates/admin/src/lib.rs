//! Admin REST API (`/api/v1/admin`) and the web console (`/admin`) for workspace admins.
//!
//! **Architecture invariant:** the console and the API only ask the one policy function
//! (`roster_mapping::policy::allowed`) what an admin may do; they never decide it themselves.
//! Every error is `{code, message, detail}` JSON ([`error::AdminError`]), framework errors and
//! unknown routes included.

pub mod auth;
mod connections;
mod console;
mod directory;
pub mod error;
mod events;
mod login_events;
mod migration;
pub mod openapi;
/// Local passwords live in the domain crate (SSO enforcement and password login need them too).
pub use roster_store::domain::password;
mod scim_admin;
mod webhooks;

use actix_web::{web, HttpResponse};

use error::AdminError;

/// What the admin API needs from the operator's configuration.
#[derive(Debug, Clone, Default)]
pub struct AdminSettings {
    /// The outbound HTTP client: its policy checks webhook URLs, and it fetches IdP metadata.
    pub outbound: roster_outbound::Client,
    /// The external base URL (the SCIM base URL derives from it).
    pub public_url: String,
}

pub use console::configure_console;

/// Mounts the admin API on the `/api/v1/admin` scope the server gives. Expects a
/// `web::Data<Store>` registered by the server; `oidc` is the relying party whose discovery
/// validates and tests OIDC connections (the SSO routes' own, so their caches agree).
pub fn configure_api(
    cfg: &mut web::ServiceConfig,
    settings: AdminSettings,
    oidc: roster_sso::oidc::OidcRp,
) {
    cfg.app_data(web::Data::new(settings))
        .app_data(web::Data::new(oidc))
        .app_data(
            web::JsonConfig::default()
                .limit(64 * 1024)
                .error_handler(|err, _| {
                    AdminError::validation(format!("invalid JSON body: {err}")).into()
                }),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|err, _| AdminError::not_found(err.to_string()).into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|err, _| AdminError::validation(err.to_string()).into()),
        )
        .route("/events", web::get().to(events::feed))
        .route("/users", web::get().to(directory::list_users))
        .route("/users", web::post().to(directory::invite))
        .route("/users/{id}/disable", web::post().to(directory::disable))
        .route("/users/{id}/enable", web::post().to(directory::enable))
        .route("/groups", web::get().to(directory::list_groups))
        .route(
            "/groups/{id}/members",
            web::post().to(directory::add_member),
        )
        .route(
            "/groups/{id}/members/{user}",
            web::delete().to(directory::remove_member),
        )
        .route("/connections", web::get().to(directory::list_connections))
        .route("/connections", web::post().to(connections::create))
        .route("/connections/{id}", web::get().to(connections::get))
        .route("/connections/{id}", web::delete().to(connections::revoke))
        .route(
            "/connections/{id}/settings",
            web::put().to(connections::update_settings),
        )
        .route("/connections/{id}/test", web::post().to(connections::test))
        .route("/scim/migration-plan", web::get().to(migration::endpoint))
        .route("/connections/{id}/scim", web::put().to(directory::set_scim))
        .route(
            "/sso-enforcement",
            web::put().to(directory::set_sso_enforcement),
        )
        .route(
            "/connections/{id}/tokens",
            web::get().to(directory::list_tokens),
        )
        .route(
            "/connections/{id}/tokens",
            web::post().to(directory::create_token),
        )
        .route(
            "/connections/{id}/tokens/{token}",
            web::delete().to(directory::revoke_token),
        )
        .route(
            "/provisioning-log",
            web::get().to(directory::provisioning_log),
        )
        .route("/audit", web::get().to(directory::audit))
        .route("/session", web::get().to(auth::session))
        .route("/login-events", web::get().to(login_events::list))
        .route("/webhooks", web::get().to(webhooks::list))
        .route("/webhooks", web::post().to(webhooks::create))
        .route("/webhooks/{id}", web::delete().to(webhooks::delete))
        .route("/webhooks/{id}/enable", web::post().to(webhooks::enable))
        .route(
            "/webhooks/{id}/deliveries",
            web::get().to(webhooks::deliveries),
        )
        .route("/webhooks/{id}/resend", web::post().to(webhooks::resend))
        .route("/scim", web::get().to(scim_admin::status))
        .route(
            "/scim/connections/{id}",
            web::delete().to(scim_admin::revoke_connection),
        )
        .route(
            "/scim/group-mappings",
            web::get().to(scim_admin::list_mappings),
        )
        .route(
            "/scim/group-mappings",
            web::post().to(scim_admin::create_mapping),
        )
        .route(
            "/scim/group-mappings/{id}",
            web::delete().to(scim_admin::delete_mapping),
        )
        .default_service(web::to(unknown_route));
}

async fn unknown_route(req: actix_web::HttpRequest) -> Result<HttpResponse, AdminError> {
    Err(AdminError::not_found(format!(
        "no admin endpoint {} {}",
        req.method(),
        req.path()
    )))
}
