//! The HTTP server: mounts each protocol crate's scope, the health endpoints and the request-id
//! middleware, and answers unknown routes with JSON instead of the framework's default page.

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer};
use roster_store::Store;
use serde_json::json;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::settings::Settings;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Process-wide state shared by every HTTP worker.
#[derive(Clone)]
pub struct Shared {
    pub metrics: web::Data<Metrics>,
    pub scim_limiter: web::Data<roster_scim::rate_limit::RateLimiter>,
    pub sso: web::Data<roster_sso::SsoState>,
    /// The outbound HTTP client (the OIDC relying party in `sso` holds a clone).
    pub outbound: roster_outbound::Client,
    pub provider: web::Data<roster_provider::ProviderState>,
}

impl Shared {
    /// Builds the shared state; creates the first session-signing key if there is none.
    pub fn new(settings: &Settings, store: &Store) -> anyhow::Result<Self> {
        let outbound = settings.outbound_client();
        let sso = roster_sso::SsoState::new(
            store.clone(),
            &settings.public_url(),
            settings.session_options(),
            outbound.clone(),
        )
        .map_err(|err| anyhow::anyhow!("cannot prepare SSO sessions: {err}"))?
        .with_password_limits(settings.password_limits());
        let provider = roster_provider::ProviderState::new(
            store.clone(),
            &settings.public_url(),
            sso.sessions.clone(),
            settings.session_options().key_cache,
        );
        Ok(Self {
            metrics: web::Data::new(Metrics::default()),
            scim_limiter: web::Data::new(roster_scim::rate_limit::RateLimiter::new(
                settings.scim_rate_limit(),
            )),
            sso: web::Data::new(sso),
            outbound,
            provider: web::Data::new(provider),
        })
    }

    /// Starts the back-channel logout worker, minting logout tokens with this provider's keys.
    pub fn start_backchannel_worker(
        &self,
        store: Store,
        settings: roster_webhooks::WorkerSettings,
    ) -> roster_webhooks::Worker {
        let signer = crate::backchannel::ProviderLogoutSigner::new(self.provider.get_ref().clone());
        roster_webhooks::Worker::spawn_backchannel(store, settings, std::sync::Arc::new(signer))
    }
}

/// Mounts every route of Roster on an actix app.
pub fn configure(cfg: &mut web::ServiceConfig, settings: &Settings, store: Store, shared: Shared) {
    let scim = settings.scim_settings();
    let admin = roster_admin::AdminSettings {
        outbound: shared.outbound.clone(),
        public_url: settings.public_url(),
        dns: settings.dns_resolver(),
    };
    // With `server.metrics_bind`, `/metrics` is served there only ([`metrics_app`]).
    if settings
        .server
        .metrics_bind
        .as_deref()
        .is_none_or(|addr| addr.trim().is_empty())
    {
        cfg.route("/metrics", web::get().to(crate::metrics::endpoint));
    }
    cfg.app_data(web::Data::new(store))
        .app_data(web::Data::new(shared.sso.sessions.clone()))
        .app_data(shared.metrics)
        .route("/healthz", web::get().to(healthz))
        .route(
            "/api/v1/openapi.json",
            web::get().to(roster_admin::openapi::endpoint),
        )
        .route("/readyz", web::get().to(readyz))
        .service(
            web::scope("/scim/v2")
                .configure(|cfg| roster_scim::configure(cfg, scim, shared.scim_limiter)),
        )
        .service({
            let sso = shared.sso.clone();
            web::scope("/sso").configure(move |cfg| roster_sso::configure(cfg, sso))
        })
        .service({
            let (admin, oidc) = (admin.clone(), shared.sso.oidc.clone());
            web::scope("/api/v1/admin")
                .configure(move |cfg| roster_admin::configure_api(cfg, admin, oidc))
        })
        .service({
            let (admin, oidc) = (admin.clone(), shared.sso.oidc.clone());
            web::scope("/api/v1/operator")
                .configure(move |cfg| roster_admin::configure_operator(cfg, admin, oidc))
        })
        .configure({
            let admin = admin.clone();
            |cfg| roster_admin::configure_setup_pages(cfg, admin)
        })
        .configure(|cfg| roster_admin::configure_invitation_pages(cfg, admin))
        .configure(roster_admin::configure_console)
        .configure(|cfg| roster_sso::configure_session_routes(cfg, shared.sso))
        .configure(|cfg| roster_provider::configure(cfg, shared.provider))
        .default_service(web::to(not_found));
}

/// The routes of the separate metrics listener (`server.metrics_bind`): `/metrics` alone, over
/// the same counters as the main listener's requests; anything else is the JSON 404.
pub fn configure_metrics(cfg: &mut web::ServiceConfig, store: Store, shared: &Shared) {
    cfg.app_data(web::Data::new(store))
        .app_data(shared.metrics.clone())
        .app_data(shared.sso.clone())
        .route("/metrics", web::get().to(crate::metrics::endpoint))
        .default_service(web::to(not_found));
}

/// Runs the server until SIGINT/SIGTERM, then lets in-flight requests finish.
pub fn serve(settings: &Settings, store: Store) -> anyhow::Result<()> {
    let addr = settings.bind_addr()?;
    let public_url = settings.public_url();
    let shutdown = settings.server.shutdown_timeout_secs;
    let workers = settings.server.workers;
    let settings = settings.clone();
    let prune_store = store.clone();
    let retention = Retention {
        events_days: settings.events.retention_days,
        delivery_log_days: settings.webhooks.delivery_log_retention_days,
    };
    let domain_checks = settings.dns.check_interval_secs;
    let dns = settings.dns_resolver();
    let webhook_worker = settings
        .webhooks
        .enabled
        .then(|| (store.clone(), settings.webhook_worker()));
    let metrics_addr = settings.metrics_addr()?;
    let shared = Shared::new(&settings, &store)?;
    let outbound = shared.outbound.clone();
    let backchannel = shared.clone();
    let metrics_shared = shared.clone();
    let metrics_store = store.clone();
    actix_web::rt::System::new().block_on(async move {
        if let Some(metrics_addr) = metrics_addr {
            let metrics_server = HttpServer::new(move || {
                App::new()
                    .configure(|cfg| configure_metrics(cfg, metrics_store.clone(), &metrics_shared))
            })
            .workers(1)
            .shutdown_timeout(shutdown)
            .bind(metrics_addr)?
            .run();
            tracing::info!(%metrics_addr, "metrics listening");
            actix_web::rt::spawn(metrics_server);
        }
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(request_context))
                .configure(|cfg| configure(cfg, &settings, store.clone(), shared.clone()))
        })
        .shutdown_timeout(shutdown)
        .bind(addr)?;
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        tracing::info!(%addr, %public_url, "roster listening");
        actix_web::rt::spawn(refresh_metadata(prune_store.clone(), outbound));
        actix_web::rt::spawn(crate::certificate_checks::run(prune_store.clone()));
        actix_web::rt::spawn(publish_events(prune_store.clone()));
        if domain_checks > 0 {
            actix_web::rt::spawn(crate::domain_checks::run(
                prune_store.clone(),
                dns,
                Duration::from_secs(domain_checks),
            ));
        }
        actix_web::rt::spawn(prune_events(prune_store, retention));
        let _workers = webhook_worker.map(|(store, settings)| {
            let logouts = backchannel.start_backchannel_worker(store.clone(), settings.clone());
            (roster_webhooks::Worker::spawn(store, settings), logouts)
        });
        server.run().await?;
        tracing::info!("roster stopped");
        anyhow::Ok(())
    })
}

/// Gives pending directory events their position every second (PostgreSQL; see
/// `roster_store::models::events`), so they reach the feed and webhooks even while nobody reads.
/// Replicas doing it at once take turns on the publisher lock.
async fn publish_events(store: Store) {
    let mut interval = actix_web::rt::time::interval(Duration::from_secs(1));
    loop {
        interval.tick().await;
        let store = store.clone();
        match web::block(move || store.publish_events()).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "publishing directory events failed"),
            Err(_) => return,
        }
    }
}

/// How many days what [`prune_events`] prunes is kept.
#[derive(Debug, Clone, Copy)]
struct Retention {
    /// Directory events, and back-channel logouts delivered or abandoned.
    events_days: u32,
    /// The webhook delivery log.
    delivery_log_days: u32,
}

/// Prunes directory events, back-channel logouts that were delivered or abandoned, and the
/// webhook delivery log (with the log of deleted endpoints), older than their retention, at
/// start and then hourly, each in small transactions. Several replicas doing it at once is
/// harmless (a delete of old rows).
async fn prune_events(store: Store, retention: Retention) {
    let mut interval = actix_web::rt::time::interval(Duration::from_secs(3600));
    let days_ago =
        |days: u32| roster_domain::Timestamp::now().plus_seconds(-i64::from(days) * 86_400);
    loop {
        interval.tick().await;
        let store = store.clone();
        let before = days_ago(retention.events_days);
        let log_before = days_ago(retention.delivery_log_days);
        let pruned = web::block(move || {
            Ok::<_, roster_store::StoreError>((
                store.prune_events(before)?,
                store.prune_backchannel_logouts(before)?,
                store.prune_webhook_deliveries(log_before)?,
            ))
        });
        match pruned.await {
            Ok(Ok((0, 0, 0))) => {}
            Ok(Ok((events, logouts, deliveries))) => {
                tracing::info!(
                    events,
                    logouts,
                    deliveries,
                    "pruned directory events, back-channel logouts and webhook deliveries past \
                     retention"
                );
            }
            Ok(Err(err)) => tracing::warn!(error = %err, "pruning past retention failed"),
            Err(_) => return,
        }
    }
}

/// Refreshes SAML IdP metadata from its URL every hour (the first run an hour after start: the
/// metadata was fetched when the connection was created).
async fn refresh_metadata(store: Store, outbound: roster_outbound::Client) {
    let mut interval = actix_web::rt::time::interval(Duration::from_secs(3600));
    interval.tick().await;
    loop {
        interval.tick().await;
        let (store, outbound) = (store.clone(), outbound.clone());
        match web::block(move || crate::connections::refresh_saml_metadata(&store, &outbound)).await
        {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "IdP metadata refresh failed"),
            Err(_) => return,
        }
    }
}

/// A server running on a background thread, for tests and embedding; stops when dropped.
pub struct BackgroundServer {
    pub addr: std::net::SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _webhooks: Option<roster_webhooks::Worker>,
    _backchannel: Option<roster_webhooks::Worker>,
}

impl BackgroundServer {
    /// Starts Roster on `127.0.0.1:0` (a free port) with one worker.
    pub fn start(settings: &Settings, store: Store) -> anyhow::Result<Self> {
        let webhooks = settings
            .webhooks
            .enabled
            .then(|| roster_webhooks::Worker::spawn(store.clone(), settings.webhook_worker()));
        // Bind first so the public URL (from which every SSO URL derives) names the real port.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mut settings = settings.clone();
        if settings.server.public_url.is_none() {
            settings.server.public_url = Some(format!("http://{addr}"));
        }
        let shared = Shared::new(&settings, &store)?;
        let backchannel = settings
            .webhooks
            .enabled
            .then(|| shared.start_backchannel_worker(store.clone(), settings.webhook_worker()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            let started = system.block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(from_fn(request_context))
                        .configure(|cfg| configure(cfg, &settings, store.clone(), shared.clone()))
                })
                .workers(1)
                .shutdown_timeout(1)
                .listen(listener)?;
                let server = server.run();
                anyhow::Ok((addr, server))
            });
            match started {
                Ok((addr, server)) => {
                    let _ = sender.send(Ok((addr, server.handle())));
                    let _ = system.block_on(server);
                }
                Err(err) => {
                    let _ = sender.send(Err(err));
                }
            }
        });
        let (addr, handle) = receiver
            .recv()
            .map_err(|_| anyhow::anyhow!("the server thread died while starting"))??;
        Ok(Self {
            addr,
            handle,
            thread: Some(thread),
            _webhooks: webhooks,
            _backchannel: backchannel,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Liveness: the process answers.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: the database answers.
async fn readyz(store: web::Data<Store>) -> HttpResponse {
    let store = store.into_inner();
    let checked = web::block(move || store.check_ready()).await;
    match checked {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" })),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "5"))
                .json(json!({ "status": "unavailable", "database": err.to_string() }))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .json(json!({ "status": "unavailable", "database": "check did not finish" })),
    }
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({
        "code": "not_found",
        "message": "no such route",
        "detail": null,
    }))
}

/// Gives every request an id (the caller's `X-Request-Id` when it is sane, else a fresh UUID),
/// runs it inside a tracing span carrying that id, echoes the id in the response, and logs one
/// line per request with status and duration. The query string is not logged. The id is also set
/// on the request's `X-Request-Id` header, so inner layers (the provisioning log) record it.
pub async fn request_context(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_sane_request_id(value))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        req.headers_mut().insert(REQUEST_ID, value);
    }
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        // One-time links carry their secret in the path: it never reaches a log line.
        path = %roster_domain::redact_path(req.path()),
    );
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let elapsed: Duration = started.elapsed();
    if let Some(metrics) = res.request().app_data::<web::Data<Metrics>>() {
        let request = res.request();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let status = res.status().as_u16();
        metrics.observe_request(request.method().as_str(), &route, status, elapsed);
        if let Some(client) = request.extensions().get::<roster_scim::ScimClient>() {
            let connection = client.principal.connection.id.to_string();
            let resource = crate::metrics::scim_resource(request.path());
            metrics.observe_scim(&connection, request.method().as_str(), resource, status);
        }
    }
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request"
        );
    });
    Ok(res)
}

fn is_sane_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_callers_are_checked() {
        assert!(is_sane_request_id("3f1c-abc_1.2:3"));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("a b"));
        assert!(!is_sane_request_id("x\r\nSet-Cookie: y"));
        assert!(!is_sane_request_id(&"a".repeat(129)));
    }
}
