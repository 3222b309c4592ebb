//! Admin REST API (`/api/v1/admin`) and the web console (`/admin`) for workspace admins.
//!
//! **Architecture invariant:** the console and the API only ask the one policy function
//! (`roster_policy::admin::allowed`) who may do what — whether the caller is an admin
//! included; they never decide it themselves. Every route gets at the workspace only through a
//! permit the policy granted ([`auth`]), so a route that skips the policy does not compile.
//! Every error is `{code, message, detail}` JSON ([`error::AdminError`]), framework errors and
//! unknown routes included.

mod api_keys;
mod attribute_mappings;
mod attribute_rules;
mod attributes;
pub mod auth;
mod connections;
mod console;
pub mod domains;
pub mod error;
mod events;
mod groups;
pub mod invitations;
mod link_pages;
mod logs;
mod migration;
pub mod openapi;
pub mod operator;
mod operator_apps;
mod operator_webhooks;
mod params;
mod roles;
mod settings;
pub mod setup_links;
pub mod sp_keys;
mod tokens;
mod users;
/// Local passwords live in the domain crate (SSO enforcement and password login need them too).
pub use roster_store::domain::password;
mod scim_admin;
mod signed_in;
mod test_sign_ins;
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
    /// The resolver that checks domains' TXT records (`dns.nameservers`).
    pub dns: roster_outbound::DnsResolver,
}

pub use console::configure_console;
pub use invitations::configure_invitation_pages;
pub use setup_links::configure_setup_pages;

/// Mounts the admin API on the `/api/v1/admin` scope the server gives. Expects a
/// `web::Data<Store>` registered by the server; `oidc` is the relying party whose discovery
/// validates and tests OIDC connections (the SSO routes' own, so their caches agree).
pub fn configure_api(
    cfg: &mut web::ServiceConfig,
    settings: AdminSettings,
    oidc: roster_sso::oidc::OidcRp,
) {
    shared_data(cfg, settings, oidc);
    cfg.configure(mount_routes)
        .default_service(web::to(unknown_route));
}

/// Mounts the operator API on the `/api/v1/operator` scope the server gives: its own workspace,
/// app ([`operator_apps`]) and webhook ([`operator_webhooks`]) routes, and every route of the admin API again under `/workspaces/{workspace}`, where the
/// operator's key stands for an admin of that workspace ([`operator`]).
pub fn configure_operator(
    cfg: &mut web::ServiceConfig,
    settings: AdminSettings,
    oidc: roster_sso::oidc::OidcRp,
) {
    shared_data(cfg, settings, oidc);
    cfg.route("/apps", web::get().to(operator_apps::list))
        .route("/apps", web::post().to(operator_apps::create))
        .route("/apps/{client_id}", web::get().to(operator_apps::get))
        .route("/apps/{client_id}", web::delete().to(operator_apps::delete))
        .route(
            "/apps/{client_id}/rotate-secret",
            web::post().to(operator_apps::rotate_secret),
        )
        .configure(operator_webhooks::configure)
        .route("/events", web::get().to(operator::events))
        .route("/audit", web::get().to(operator::audit))
        .route("/workspaces", web::get().to(operator::list_workspaces))
        .route("/workspaces", web::post().to(operator::create_workspace))
        .service(
            web::scope("/workspaces/{workspace}")
                .route("", web::get().to(operator::get_workspace))
                .route("", web::patch().to(operator::update_workspace))
                .route("", web::delete().to(operator::delete_workspace))
                .configure(mount_routes)
                .default_service(web::to(unknown_route)),
        )
        .default_service(web::to(unknown_route));
}

/// The configuration both entry points share: settings, the OIDC relying party, and errors of
/// body, path and query extraction in the API's own shape.
fn shared_data(
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
        );
}

/// Where the server mounts the admin API ([`configure_api`]).
pub(crate) const ADMIN_PREFIX: &str = "/api/v1/admin";

/// Declares the route table once: [`ROUTES`] lists it (for the OpenAPI document's test and the
/// test that walks every write route), `mount_routes` mounts it.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path : $area:ident),* $(,)?) => {
        /// Every `(method, path)` of the admin API, relative to `/api/v1/admin`, in mounting
        /// order; methods are lower-case (`get`, `post`, `put`, `delete`).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// The area of each route a setup session may reach (`roster_policy::setup`), in the
        /// order of [`ROUTES`].
        pub const ROUTE_AREAS: &[roster_policy::setup::Area] =
            &[$(roster_policy::setup::Area::$area),*];

        fn mount_routes(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, web::$method().to($handler));)*
        }
    };
}

routes! {
    get "/events" => events::feed: AdminOnly,
    get "/users" => users::list_users: WatchProvisioning,
    post "/users" => users::invite: AdminOnly,
    post "/users/{id}/disable" => users::disable: AdminOnly,
    post "/users/{id}/enable" => users::enable: AdminOnly,
    get "/users/{id}" => users::get_user: AdminOnly,
    get "/users/{id}/apps" => signed_in::list: AdminOnly,
    post "/users/{id}/sign-out-everywhere" => signed_in::sign_out_everywhere: AdminOnly,
    get "/groups" => groups::list_groups: AdminOnly,
    post "/groups/{id}/members" => groups::add_member: AdminOnly,
    delete "/groups/{id}/members/{user}" => groups::remove_member: AdminOnly,
    get "/connections" => connections::list_connections: ReadConnections,
    post "/connections" => connections::create: CreateConnection,
    get "/connections/{id}" => connections::get: ReadConnections,
    delete "/connections/{id}" => connections::revoke: AdminOnly,
    put "/connections/{id}/settings" => connections::update_settings: ConfigureSso,
    post "/connections/{id}/test" => connections::test: ConfigureSso,
    get "/connections/{id}/sp-keys" => sp_keys::list: AdminOnly,
    post "/connections/{id}/sp-keys" => sp_keys::rotate: AdminOnly,
    post "/connections/{id}/sp-keys/{key}/retire" => sp_keys::retire: AdminOnly,
    post "/connections/{id}/test-sign-in" => test_sign_ins::start: ConfigureSso,
    get "/connections/{id}/test-sign-ins/{test}" => test_sign_ins::report: ConfigureSso,
    get "/scim/migration-plan" => migration::endpoint: AdminOnly,
    put "/connections/{id}/scim" => connections::set_scim: ConfigureScim,
    get "/sso-enforcement" => settings::sso_enforcement: AdminOnly,
    put "/sso-enforcement" => settings::set_sso_enforcement: AdminOnly,
    get "/connections/{id}/tokens" => tokens::list_tokens: ConfigureScim,
    post "/connections/{id}/tokens" => tokens::create_token: ConfigureScim,
    delete "/connections/{id}/tokens/{token}" => tokens::revoke_token: AdminOnly,
    get "/provisioning-log" => logs::provisioning_log: WatchProvisioning,
    get "/audit" => logs::audit: AdminOnly,
    get "/session" => auth::session: Session,
    get "/login-events" => logs::login_events: AdminOnly,
    get "/webhooks" => webhooks::list::<auth::Principal>: AdminOnly,
    get "/webhooks/event-types" => webhooks::event_types::<auth::Principal>: AdminOnly,
    post "/webhooks" => webhooks::create: AdminOnly,
    get "/webhooks/{id}" => webhooks::get::<auth::Principal>: AdminOnly,
    delete "/webhooks/{id}" => webhooks::delete::<auth::Principal>: AdminOnly,
    post "/webhooks/{id}/enable" => webhooks::enable::<auth::Principal>: AdminOnly,
    get "/webhooks/{id}/deliveries" => webhooks::deliveries::<auth::Principal>: AdminOnly,
    post "/webhooks/{id}/resend" => webhooks::resend::<auth::Principal>: AdminOnly,
    get "/scim" => scim_admin::status: WatchProvisioning,
    delete "/scim/connections/{id}" => scim_admin::revoke_connection: AdminOnly,
    get "/scim/group-mappings" => scim_admin::list_mappings: AdminOnly,
    post "/scim/group-mappings" => scim_admin::create_mapping: AdminOnly,
    delete "/scim/group-mappings/{id}" => scim_admin::delete_mapping: AdminOnly,
    get "/roles" => roles::list: AdminOnly,
    post "/roles" => roles::create: AdminOnly,
    get "/attributes" => attributes::list: AdminOnly,
    get "/attributes/templates" => attributes::templates: AdminOnly,
    post "/attributes" => attributes::create: AdminOnly,
    delete "/attributes/{id}" => attributes::delete: AdminOnly,
    put "/users/{id}/attributes" => attributes::set_user_values: AdminOnly,
    get "/connections/{id}/attribute-mappings" => attribute_mappings::list: AdminOnly,
    put "/connections/{id}/attribute-mappings/{attribute}" => attribute_mappings::set: AdminOnly,
    get "/attribute-role-rules" => attribute_rules::list: AdminOnly,
    post "/attribute-role-rules" => attribute_rules::create: AdminOnly,
    delete "/attribute-role-rules/{id}" => attribute_rules::delete: AdminOnly,
    get "/domains" => domains::list: Domains,
    post "/domains" => domains::create: Domains,
    get "/domains/{domain}" => domains::show: Domains,
    delete "/domains/{domain}" => domains::delete: AdminOnly,
    post "/domains/{domain}/verify" => domains::verify: Domains,
    get "/api-keys" => api_keys::list: AdminOnly,
    delete "/api-keys/{id}" => api_keys::revoke: AdminOnly,
    get "/setup-links" => setup_links::list: AdminOnly,
    post "/setup-links" => setup_links::create: AdminOnly,
    delete "/setup-links/{id}" => setup_links::revoke: AdminOnly,
    post "/setup/finish" => setup_links::finish: FinishSetup,
    get "/admins/invitations" => invitations::list: AdminOnly,
    post "/admins/invitations" => invitations::create: AdminOnly,
    delete "/admins/invitations/{id}" => invitations::revoke: AdminOnly,
}

/// Whether a request path (relative to `/api/v1/admin`) fits a route's path template.
fn fits(template: &str, path: &str) -> bool {
    let (mut template, mut path) = (template.split('/'), path.split('/'));
    loop {
        match (template.next(), path.next()) {
            (None, None) => return true,
            (Some(t), Some(p)) if t == p || (t.starts_with('{') && !p.is_empty()) => {}
            _ => return false,
        }
    }
}

/// No route took the request: a 405 with `Allow` when the path exists with other methods, a
/// 404 otherwise.
async fn unknown_route(req: actix_web::HttpRequest) -> Result<HttpResponse, AdminError> {
    let path = req.path();
    // The routes a path could be: the admin API's, or under the operator API its own and the
    // admin API's below a workspace.
    let candidates: Vec<(&str, String)> = if let Some(relative) = path.strip_prefix("/api/v1/admin")
    {
        ROUTES
            .iter()
            .map(|(m, t)| (*m, (*t).to_owned()))
            .filter(|(_, t)| fits(t, relative))
            .collect()
    } else {
        let relative = path.strip_prefix("/api/v1/operator").unwrap_or_default();
        operator::API
            .iter()
            .chain(operator_apps::API)
            .chain(operator_webhooks::API)
            .map(|op| (op.method, op.path.to_owned()))
            .chain(
                ROUTES
                    .iter()
                    .map(|(m, t)| (*m, format!("/workspaces/{{workspace}}{t}"))),
            )
            .filter(|(_, t)| fits(t, relative))
            .collect()
    };
    let allowed: Vec<String> = candidates
        .iter()
        .map(|(method, _)| method.to_ascii_uppercase())
        .collect();
    if allowed.is_empty() {
        return Err(AdminError::not_found(format!(
            "no admin endpoint {} {}",
            req.method(),
            req.path()
        )));
    }
    Err(AdminError::new(
        error::AdminCode::MethodNotAllowed,
        format!(
            "{} {} is not an admin endpoint; it answers {}",
            req.method(),
            req.path(),
            allowed.join(", ")
        ),
    )
    .with_detail(serde_json::json!({ "allow": allowed })))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use pretty_assertions::assert_eq;

    /// The OpenAPI document and the route table list the same operations: a route cannot be
    /// mounted undocumented (and so be missed by the tests that walk the document), nor
    /// documented unmounted.
    #[test]
    fn the_route_table_and_the_openapi_document_agree() {
        let routed: BTreeSet<(String, String)> = super::ROUTES
            .iter()
            .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
            .collect();
        assert_eq!(
            routed.len(),
            super::ROUTES.len(),
            "a route is mounted twice"
        );
        let documented: BTreeSet<(String, String)> = crate::openapi::operations()
            .map(|(method, path)| {
                let relative = path.strip_prefix("/api/v1/admin").unwrap_or(&path);
                (method.to_owned(), relative.to_owned())
            })
            .collect();
        assert_eq!(routed, documented);
    }

    #[test]
    fn a_path_fits_a_template_segment_by_segment() {
        for (template, path, fits) in [
            ("/users", "/users", true),
            ("/users/{id}", "/users/abc", true),
            ("/users/{id}", "/users/", false),
            ("/users/{id}", "/users", false),
            ("/users/{id}/apps", "/users/abc/apps", true),
            ("/users/{id}/apps", "/users/abc/apps/x", false),
            ("/groups/{id}/members/{user}", "/groups/a/members/b", true),
        ] {
            assert_eq!(super::fits(template, path), fits, "{template} {path}");
        }
    }
}
