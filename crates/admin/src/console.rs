//! The web console at `/admin`: three static files compiled into the binary (no front-end build,
//! nothing to deploy beside `roster`), a plain-JavaScript page that talks only to the admin API.
//!
//! The console holds no authority of its own: it signs in through `/login/password` or the SSO
//! login, then calls `/api/v1/admin/...` with the session cookie and the CSRF token from
//! `GET /api/v1/admin/session`, so every rule (policy, CSRF, tenant scoping) is the API's. The
//! page is served with a strict Content-Security-Policy (scripts and styles from this origin
//! only, no inline code) and may not be framed, against clickjacking.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX)
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// Mounts `/admin` (the page; its views are `#fragments`) and its two assets.
pub fn configure_console(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(index))
        .route("/admin/", web::get().to(index))
        .route("/admin/console.js", web::get().to(script))
        .route("/admin/console.css", web::get().to(style));
}
