//! The few HTML pages a browser login shows: a refusal with its reason and login-event id, the
//! small "signed in as" landing page, and the sign-out confirmation. Every interpolated value is
//! escaped. Signing out is a form POST: a GET that signs out can be triggered by any page that
//! embeds the URL, so `GET /logout` only shows the confirmation, whose button posts. The pages
//! of the session routes are served with [`SESSION_PAGE_CSP`] and may not be framed. The OpenID
//! Provider (`roster-provider`) shows [`login_refused`] too, so every sign-in refusal looks alike.

use crate::saml::{escape_html, hidden_inputs};

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

/// The Content-Security-Policy of the session pages: no script, no framing (a framed sign-out
/// button can be clicked through a decoy), forms post to this origin only.
pub const SESSION_PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
                                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SIGN_OUT_FORM: &str =
    "<form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>";

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

/// The OpenID Provider's email-first page: asks for the work address whose domain finds the
/// workspace, and submits it (as `login_hint`) with the product's request in `hidden` to
/// `action`. `message` says why the previous address found nothing.
pub fn email_first(action: &str, hidden: &[(&str, &str)], message: Option<&str>) -> String {
    let fields = hidden_inputs(hidden);
    let message = message
        .map(|text| format!("<p role=\"alert\">{}</p>", escape_html(text)))
        .unwrap_or_default();
    page(
        "Sign in",
        &format!(
            "<h1>Sign in</h1>{message}<form method=\"get\" action=\"{action}\">{fields}\
             <label for=\"login_hint\">Work email</label> \
             <input id=\"login_hint\" name=\"login_hint\" type=\"email\" required \
             autocomplete=\"username\" autofocus> <button type=\"submit\">Continue</button></form>\
             <p class=\"muted\">Your organisation's sign-in page opens next.</p>",
            action = escape_html(action),
        ),
    )
}

/// The OpenID Provider's sign-out confirmation (RP-initiated logout without proof that the
/// request is this browser's own): its button POSTs the app's request, in `hidden`, back to
/// `action` with `confirm=yes`.
pub fn confirm_app_sign_out(action: &str, hidden: &[(&str, &str)]) -> String {
    let fields = hidden_inputs(hidden);
    page(
        "Sign out",
        &format!(
            "<h1>Sign out?</h1><p>An application asks to end your Roster session. This signs you \
             out of every application that uses it.</p><form method=\"post\" action=\"{}\">\
             {fields}<input type=\"hidden\" name=\"confirm\" value=\"yes\">\
             <button type=\"submit\">Sign out</button></form>",
            escape_html(action)
        ),
    )
}

/// After a sign-out that has nowhere to send the browser.
pub fn signed_out() -> String {
    page(
        "Signed out",
        "<h1>Signed out</h1><p>You are signed out of Roster. You can close this window.</p>",
    )
}

/// `GET /logout`: asks before signing out. Only the button's POST signs out.
pub fn confirm_sign_out() -> String {
    page(
        "Sign out",
        &format!("<h1>Sign out?</h1><p>This ends your session on every tab.</p>{SIGN_OUT_FORM}"),
    )
}

/// A sign-out that was refused (the request did not come from this site): why, and the button
/// that signs out from here.
pub fn sign_out_refused(explanation: &str, code: &str) -> String {
    page(
        "Not signed out",
        &format!(
            "<h1>Not signed out</h1><p>{}</p><p class=\"muted\">Reason: <code>{}</code></p>\
             {SIGN_OUT_FORM}",
            escape_html(explanation),
            escape_html(code),
        ),
    )
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
        let html = email_first("/a", &[("state", "\"><script>")], Some("<b>"));
        assert!(!html.contains("<script>") && html.contains("&quot;&gt;&lt;script&gt;"));
        assert!(html.contains("&lt;b&gt;"));
        let html = confirm_app_sign_out("/o", &[("state", "<x>")]);
        assert!(html.contains("&lt;x&gt;") && !html.contains("<x>"));
        let html = sign_out_refused("<i>", "c<d>");
        assert!(html.contains("&lt;i&gt;") && html.contains("c&lt;d&gt;"));
    }

    #[test]
    fn signing_out_is_a_post_form_and_the_landing_page_links_to_its_confirmation() {
        for html in [confirm_sign_out(), sign_out_refused("x", "cross_origin")] {
            assert!(html.contains("<form method=\"post\" action=\"/logout\">"));
        }
        let landing = signed_in(Some("ops"), Some("acme"));
        assert!(landing.contains("<a href=\"/logout\">Sign out</a>"));
        assert!(!landing.contains("<form"));
    }
}
