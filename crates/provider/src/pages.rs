//! The provider's HTML pages: what a browser sees when it cannot be sent back to the app.
//!
//! The page itself is the sign-in refusal of `roster_sso::pages` (one page shell and one escaper
//! for every browser page Roster shows), so every interpolated value is escaped; this module adds
//! the headers: every page forbids framing (`frame-ancestors 'none'`, RFC 9700 §4.16) and
//! caching.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

/// A refused sign-in: what happened and a stable reason code.
pub(crate) fn refused(explanation: &str, code: &str) -> String {
    roster_sso::pages::login_refused(explanation, code, None)
}

/// The email-first page: the request's parameters carried as hidden fields (`login_hint`, which
/// the page asks for, left out).
pub(crate) fn email_first(
    params: &crate::authorize::AuthorizeParams,
    message: Option<&str>,
) -> String {
    let fields = [
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("response_type", &params.response_type),
        ("response_mode", &params.response_mode),
        ("scope", &params.scope),
        ("state", &params.state),
        ("nonce", &params.nonce),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
        ("prompt", &params.prompt),
        ("max_age", &params.max_age),
        ("workspace", &params.workspace),
        ("connection", &params.connection),
    ];
    let hidden: Vec<(&str, &str)> = fields
        .iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (*name, value)))
        .collect();
    roster_sso::pages::email_first(crate::sign_in::AUTHORIZE_PATH, &hidden, message)
}

/// An HTML response that no site may frame and no cache may keep.
pub(crate) fn response(status: StatusCode, html: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            // No `form-action`: browsers apply it to the redirects after a submission too, and
            // the email-first form's answer goes on to the IdP.
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; \
             base-uri 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(html.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let html = refused("<script>x</script>", "a\"b'c&");
        assert!(!html.contains("<script>x"));
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(html.contains("a&quot;b&#39;c&amp;"));
    }
}
