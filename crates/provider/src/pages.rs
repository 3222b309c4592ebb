//! The provider's HTML pages: what a browser sees when it cannot be sent back to the app.
//!
//! Every interpolated value is escaped, and every page forbids framing (`frame-ancestors
//! 'none'`, RFC 9700 §4.16) and caching.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:40rem;\
         margin:4rem auto;padding:0 1rem;color:#222}}code{{background:#f3f3f3;padding:0 .3em}}\
         .muted{{color:#666;font-size:.9em}}</style></head><body>{body}</body></html>",
        title = escape_html(title),
    )
}

/// A refused sign-in: what happened and a stable reason code.
pub(crate) fn refused(explanation: &str, code: &str) -> String {
    page(
        "Sign-in failed",
        &format!(
            "<h1>Sign-in failed</h1><p>{}</p><p class=\"muted\">Reason: <code>{}</code></p>",
            escape_html(explanation),
            escape_html(code),
        ),
    )
}

/// An HTML response that no site may frame and no cache may keep.
pub(crate) fn response(status: StatusCode, html: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
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
