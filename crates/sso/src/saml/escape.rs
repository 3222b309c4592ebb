//! Escaping for the few markup strings we build by hand (SP metadata, the auto-POST form).
//!
//! samael's `AuthnRequest::post()` interpolates `RelayState` and the destination into HTML with
//! `format!` and no escaping (catalog S34), so we render those pages ourselves. One escaper
//! serves both XML attributes and HTML: it escapes the five markup characters and uses the
//! numeric `&#39;` for the apostrophe, which XML and every HTML version understand.

/// Escapes `&`, `<`, `>`, `"` and `'` so that `s` is inert inside HTML or XML text and quoted
/// attribute values.
pub fn escape_html(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len());
    for c in s.chars() {
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

/// `<input type="hidden">` elements for `fields`, every name and value escaped: how every form
/// Roster renders carries values it does not ask for.
pub fn hidden_inputs(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape_html(name),
                escape_html(value)
            )
        })
        .collect()
}

/// An HTML page that POSTs `fields` to `action` as soon as it loads (SAML HTTP-POST binding).
///
/// Every value is escaped. The page runs one inline script, so the handler's
/// Content-Security-Policy must allow it (by hash); the `<noscript>` button is the fallback.
pub fn auto_post_form(action: &str, fields: &[(&str, &str)]) -> String {
    let inputs = hidden_inputs(fields);
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Signing in…</title></head>\
         <body><form method=\"post\" action=\"{}\">{}<noscript><button type=\"submit\">Continue\
         </button></noscript></form><script>document.forms[0].submit();</script></body></html>",
        escape_html(action),
        inputs
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape_html("plain été"), "plain été");
    }

    #[test]
    fn auto_post_form_escapes_relay_state_and_action() {
        // S34: a RelayState that tries to close the attribute and open a script.
        let page = auto_post_form(
            "https://idp.example.com/sso?a=1&b=\"2\"",
            &[
                ("SAMLRequest", "PHNhbWw+"),
                ("RelayState", "\"><script>alert(1)</script>"),
            ],
        );
        assert!(!page.contains("<script>alert(1)"));
        assert!(page.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
        assert!(page.contains("action=\"https://idp.example.com/sso?a=1&amp;b=&quot;2&quot;\""));
        assert_eq!(page.matches("<script>").count(), 1);
    }
}
