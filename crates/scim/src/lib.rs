//! SCIM 2.0 service provider (RFC 7643/7644) mounted at `/scim/v2`.
//!
//! **Architecture invariant:** only this crate knows SCIM JSON. Handlers are thin: authenticate
//! the bearer token, parse, call one store operation, render. The protocol itself (filters,
//! PATCH, discovery documents, attribute projection) is pure and unit-tested in its own modules.
//!
//! Every SCIM write is recorded in the provisioning log in its own transaction, every failed
//! request after it, with status, duration, error and warnings; successful reads only keep the
//! connection's last sync time fresh (see [`log_request`]).

pub mod attributes;
pub mod auth;
mod body;
mod bulk;
pub mod discovery;
pub mod error;
pub mod filter;
mod group_resource;
mod handlers;
pub mod list;
mod names;
mod ops;
pub mod patch;
pub mod projection;
pub mod rate_limit;
mod respond;
mod settings;
pub mod translate;
mod user_resource;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage, HttpResponse};
use roster_domain::Timestamp;
use roster_store::{NewProvisioningEntry, Store};

pub use auth::ScimClient;
pub use error::ScimError;
pub use settings::ScimSettings;

use handlers::{discovery as disc, groups, users};
use respond::{LogFacts, RequestLog};

/// Mounts the SCIM endpoints on the `/scim/v2` scope the server gives. Expects a
/// `web::Data<Store>` registered by the server.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    settings: ScimSettings,
    limiter: web::Data<rate_limit::RateLimiter>,
) {
    cfg.app_data(web::Data::new(settings))
        .app_data(limiter)
        .service(
            web::scope("")
                .wrap(from_fn(log_request))
                // Hot paths first, one resource per path: actix tries resources in order and
                // matches each `{id}` pattern with a regex, so `GET /Users/{id}` costs one regex
                // here, not three (a route per method would be a resource per method).
                .service(
                    web::resource("/Users")
                        .route(web::get().to(users::get_list))
                        .route(web::post().to(users::create))
                        .default_service(web::to(unknown_route)),
                )
                .route("/Users/.search", web::post().to(users::search))
                .service(
                    web::resource("/Users/{id}")
                        .route(web::get().to(users::get))
                        .route(web::put().to(users::replace))
                        .route(web::patch().to(users::patch))
                        .route(web::delete().to(users::delete))
                        .default_service(web::to(unknown_route)),
                )
                .service(
                    web::resource("/Groups")
                        .route(web::get().to(groups::get_list))
                        .route(web::post().to(groups::create))
                        .default_service(web::to(unknown_route)),
                )
                .route("/Groups/.search", web::post().to(groups::search))
                .service(
                    web::resource("/Groups/{id}")
                        .route(web::get().to(groups::get))
                        .route(web::put().to(groups::replace))
                        .route(web::patch().to(groups::patch))
                        .route(web::delete().to(groups::delete))
                        .default_service(web::to(unknown_route)),
                )
                .route(
                    "/ServiceProviderConfig",
                    web::get().to(disc::service_provider_config),
                )
                .route("/Schemas", web::get().to(disc::schemas))
                .route("/Schemas/{id}", web::get().to(disc::schema))
                .route("/ResourceTypes", web::get().to(disc::resource_types))
                .route("/ResourceTypes/{name}", web::get().to(disc::resource_type))
                .route("/Bulk", web::post().to(handlers::bulk::bulk))
                .route("/.search", web::post().to(handlers::search::root_search))
                .default_service(web::to(unknown_route)),
        );
}

async fn unknown_route(req: actix_web::HttpRequest) -> Result<HttpResponse, ScimError> {
    let known = [
        "/Users",
        "/Groups",
        "/Schemas",
        "/ResourceTypes",
        "/ServiceProviderConfig",
    ];
    let path = req.match_info().unprocessed().to_owned();
    if known
        .iter()
        .any(|prefix| path.starts_with(prefix) || req.path().contains(prefix))
    {
        return Err(ScimError::new(
            405,
            None,
            format!("{} is not allowed on {}", req.method(), req.path()),
        ));
    }
    Err(ScimError::not_found(format!(
        "no SCIM endpoint at {}",
        req.path()
    )))
}

/// Records the requests made with a valid token in the provisioning log: a successful write has
/// committed its row with the change (see [`ops`]); a failed request (status 400 and above, and
/// `/Bulk`, whose operations may fail one by one) gets its row here, in its own transaction
/// (method, path — no query string —, status, duration, resource id, error, warnings); a
/// successful read writes no row and only keeps the connection's `last_sync_at` fresh (at most
/// one write per connection and process every `roster_store::LAST_SYNC_RESOLUTION`).
/// Logging failures are reported in the server log, never to the client.
async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request = RequestLog {
        started: Instant::now(),
        request_id: req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: Some(req.query_string())
            .filter(|query| !query.is_empty())
            .map(|query| query.chars().take(respond::MAX_LOGGED_QUERY).collect()),
    };
    let read = req.method() == actix_web::http::Method::GET || request.path.ends_with("/.search");
    req.extensions_mut().insert(request.clone());
    let store = req.app_data::<web::Data<Store>>().cloned();
    let res = next.call(req).await?;
    let client = res.request().extensions().get::<ScimClient>().cloned();
    let (Some(client), Some(store)) = (client, store) else {
        return Ok(res);
    };
    let facts = res
        .response()
        .extensions()
        .get::<LogFacts>()
        .cloned()
        .unwrap_or_default();
    if facts.logged {
        return Ok(res);
    }
    let connection_id = client.principal.connection.id;
    let logged = if read && res.status().is_success() {
        if !store.scim_read_due(connection_id) {
            return Ok(res);
        }
        roster_store::blocking(move || store.note_scim_read(connection_id)).await
    } else {
        let entry = NewProvisioningEntry {
            workspace_id: client.principal.connection.workspace_id.to_string(),
            connection_id: connection_id.to_string(),
            occurred_at: Timestamp::now().as_micros(),
            request_id: request.request_id,
            method: request.method,
            path: request.path,
            query: request.query,
            status: i32::from(res.status().as_u16()),
            duration_us: i64::try_from(request.started.elapsed().as_micros()).unwrap_or(i64::MAX),
            resource_id: facts.resource_id,
            error: facts.error,
            warnings: (!facts.warnings.is_empty())
                .then(|| serde_json::json!(facts.warnings).to_string()),
        };
        roster_store::blocking(move || store.record_provisioning(&entry)).await
    };
    if let Err(err) = logged {
        tracing::warn!(error = %err, "could not write the provisioning log");
    }
    Ok(res)
}
