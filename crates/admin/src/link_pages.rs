//! The HTML around the one-time links a person opens from an email — setup links and admin
//! invitations: one page shape (no script, forms that post only here, never framed, never
//! cached, no referrer that could carry the link elsewhere), one refusal page that says why, one
//! cross-site check for the buttons that spend a link, and one cookie shape for what a link opens.
//!
//! Why shared: these pages hold bearer secrets in their URL and forms. Their headers are the
//! protection, so they are written once.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use roster_sso::saml::escape_html;

/// No script, inline style only, forms post to this origin, never framed.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";

/// A page: `title` is escaped here, `body` must be escaped HTML already.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:40rem;\
         margin:4rem auto;padding:0 1rem;color:#222}}.muted{{color:#666;font-size:.9em}}\
         label{{display:block;margin:.6rem 0 .2rem}}section{{border-top:1px solid #ddd;\
         margin-top:1.5rem}}button{{font-size:1rem;padding:.5rem 1.2rem}}</style></head>\
         <body>{body}</body></html>",
        title = escape_html(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

/// A refusal: a heading, the sentence that says what to do, and the reason's code.
pub(crate) fn refused(status: StatusCode, heading: &str, reason: &str, code: &str) -> HttpResponse {
    page(
        status,
        heading,
        &format!(
            "<h1>{}</h1><p>{}</p><p class=\"muted\">Reason: <code>{}</code></p>",
            escape_html(heading),
            escape_html(reason),
            escape_html(code)
        ),
    )
}

/// Whether a request came from another site: a form there must not spend a link in a
/// visitor's browser (and open a session the visitor did not ask for).
pub(crate) fn cross_site(req: &HttpRequest) -> bool {
    matches!(
        req.headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok()),
        Some("cross-site" | "same-site")
    )
}

/// The refusal of a cross-site press.
pub(crate) fn cross_site_refused() -> HttpResponse {
    refused(
        StatusCode::FORBIDDEN,
        "Open the link again",
        "The request did not come from the link's page. Open the link from your email and press \
         the button there.",
        "cross_site",
    )
}

/// An HttpOnly, SameSite=Lax cookie on `path` (`Secure` behind https); an empty value with a
/// zero `max_age` clears it.
pub(crate) fn link_cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    secure: bool,
    max_age: CookieDuration,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}
