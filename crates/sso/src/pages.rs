//! The few HTML pages a browser login shows: a refusal with its reason and login-event id, and
//! the small "signed in as" landing page. Every interpolated value is escaped.

use crate::saml::escape_html;

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

/// A refused login: what happened, what to do, and the reference an admin can look up.
pub fn login_refused(explanation: &str, code: &str, event_id: Option<&str>) -> String {
    let reference = event_id
        .map(|id| {
            format!(
                "<p class=\"muted\">Reference for your administrator: <code>{}</code></p>",
                escape_html(id)
            )
        })
        .unwrap_or_default();
    page(
        "Sign-in failed",
        &format!(
            "<h1>Sign-in failed</h1><p>{}</p><p class=\"muted\">Reason: <code>{}</code></p>{reference}",
            escape_html(explanation),
            escape_html(code),
        ),
    )
}

/// The default landing page after a login.
pub fn signed_in(user_name: Option<&str>, workspace: Option<&str>) -> String {
    match (user_name, workspace) {
        (Some(user), Some(workspace)) => page(
            "Signed in",
            &format!(
                "<h1>Signed in</h1><p>Signed in as <strong>{}</strong> in workspace <strong>{}</strong>.</p>\
                 <p><a href=\"/logout\">Sign out</a></p>",
                escape_html(user),
                escape_html(workspace)
            ),
        ),
        _ => page("Roster", "<h1>Roster</h1><p>You are not signed in.</p>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let html = login_refused("<script>x</script>", "a\"b", Some("<id>"));
        assert!(!html.contains("<script>x"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("&lt;id&gt;"));
        let html = signed_in(Some("<b>"), Some("ws"));
        assert!(html.contains("&lt;b&gt;"));
    }
}
