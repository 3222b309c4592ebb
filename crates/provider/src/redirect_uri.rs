//! The rules for the URIs an app registers, and the one way a presented redirect URI matches them.
//!
//! Redirect-URI matching is where OpenID Providers keep getting broken (Keycloak alone shipped
//! localhost-to-any-host, `..;/` path confusion, many-`@` userinfo and `JaVaScRiPt:` fixes), and
//! every one of those bugs came from being lenient somewhere: normalizing before comparing,
//! prefix or wildcard matching, or accepting a dangerous URI at registration. So:
//!
//! - **Registration is strict** ([`check_registrable`]): an absolute `https` URI, or `http` on a
//!   loopback IP literal (`127.0.0.1`, `[::1]`; RFC 8252 §7.3 — not `localhost`, which a
//!   resolver may send elsewhere, §8.3); no fragment, no userinfo, no wildcard, no
//!   `javascript:`/`data:`/`vbscript:`/`file:` in any case; and written in its canonical form
//!   (what a URL parser would print), so that what the operator registered is exactly what a
//!   client library sends and no two spellings of one URI can exist.
//! - **Matching is byte-exact** ([`find_registered`]), with one exception RFC 8252 §7.3 requires
//!   for native apps: a public app's loopback redirect URI matches on any port, everything else
//!   (scheme, host, path, query) still byte for byte.

use std::fmt;

/// The longest URI an app may register.
pub const MAX_URI_LENGTH: usize = 2000;

/// Why a URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriRefusal {
    Empty,
    TooLong,
    /// Whitespace or a control character anywhere.
    ControlCharacter,
    /// `javascript:`, `data:`, `vbscript:` or `file:`, in any letter case.
    DangerousScheme,
    NotAbsolute,
    /// `http` on anything but a loopback IP literal, or another scheme.
    NotHttps,
    /// `localhost` instead of a loopback IP literal.
    Localhost,
    Fragment,
    UserInfo,
    Wildcard,
    /// The URI is valid but spelled differently from its canonical form, given here.
    NotCanonical {
        canonical: String,
    },
}

impl fmt::Display for UriRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriRefusal::Empty => f.write_str("it is empty"),
            UriRefusal::TooLong => write!(f, "it is longer than {MAX_URI_LENGTH} characters"),
            UriRefusal::ControlCharacter => {
                f.write_str("it contains whitespace or a control character")
            }
            UriRefusal::DangerousScheme => {
                f.write_str("javascript:, data:, vbscript: and file: URIs are never allowed")
            }
            UriRefusal::NotAbsolute => f.write_str("it is not an absolute URI"),
            UriRefusal::NotHttps => f.write_str(
                "it must use https (http only on a loopback address: http://127.0.0.1 or \
                 http://[::1])",
            ),
            UriRefusal::Localhost => f.write_str(
                "use the loopback address http://127.0.0.1 or http://[::1] instead of localhost",
            ),
            UriRefusal::Fragment => f.write_str("it must not have a fragment (#...)"),
            UriRefusal::UserInfo => f.write_str("it must not have a user name or password (...@)"),
            UriRefusal::Wildcard => f.write_str("wildcards are not allowed"),
            UriRefusal::NotCanonical { canonical } => {
                write!(f, "write it in its canonical form: {canonical}")
            }
        }
    }
}

const DANGEROUS_SCHEMES: [&str; 4] = ["javascript:", "data:", "vbscript:", "file:"];
const LOOPBACK_HOSTS: [&str; 2] = ["127.0.0.1", "[::1]"];

/// Whether `uri` may be registered as a redirect, post-logout redirect or back-channel logout URI
/// of an app.
pub fn check_registrable(uri: &str) -> Result<(), UriRefusal> {
    if uri.is_empty() {
        return Err(UriRefusal::Empty);
    }
    if uri.len() > MAX_URI_LENGTH {
        return Err(UriRefusal::TooLong);
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UriRefusal::ControlCharacter);
    }
    let lowercase = uri.to_ascii_lowercase();
    if DANGEROUS_SCHEMES
        .iter()
        .any(|scheme| lowercase.starts_with(scheme))
    {
        return Err(UriRefusal::DangerousScheme);
    }
    let parsed = url::Url::parse(uri).map_err(|_| UriRefusal::NotAbsolute)?;
    if uri.contains('#') {
        return Err(UriRefusal::Fragment);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UriRefusal::UserInfo);
    }
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" if !host.is_empty() => {}
        "http" if LOOPBACK_HOSTS.contains(&host) => {}
        "http" if host.eq_ignore_ascii_case("localhost") => return Err(UriRefusal::Localhost),
        _ => return Err(UriRefusal::NotHttps),
    }
    if uri.contains('*') && (host.contains('*') || parsed.path().contains('*')) {
        return Err(UriRefusal::Wildcard);
    }
    if parsed.as_str() != uri {
        return Err(UriRefusal::NotCanonical {
            canonical: parsed.as_str().to_owned(),
        });
    }
    Ok(())
}

/// The registered URI `presented` matches, if any: byte-exact, except that with
/// `loopback_any_port` (public apps) a loopback URI may differ from a registered loopback URI in
/// its port alone.
pub fn find_registered<'a>(
    registered: &'a [String],
    presented: &str,
    loopback_any_port: bool,
) -> Option<&'a str> {
    if let Some(exact) = registered.iter().find(|uri| uri.as_str() == presented) {
        return Some(exact);
    }
    if !loopback_any_port {
        return None;
    }
    let presented = without_loopback_port(presented)?;
    registered
        .iter()
        .find(|uri| without_loopback_port(uri).is_some_and(|uri| uri == presented))
        .map(String::as_str)
}

/// `http://127.0.0.1:8080/cb?x` → (`http://127.0.0.1`, `/cb?x`) with the port checked and
/// dropped; `None` for anything that is not an `http` loopback URI with an optional valid port.
fn without_loopback_port(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let host = LOOPBACK_HOSTS
        .into_iter()
        .find(|host| rest.starts_with(host))?;
    let after_host = &rest[host.len()..];
    let (port, path) = match after_host.strip_prefix(':') {
        Some(with_port) => {
            let digits = with_port
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(with_port.len());
            (Some(&with_port[..digits]), &with_port[digits..])
        }
        None => (None, after_host),
    };
    if let Some(port) = port {
        let valid = !port.starts_with('0') && port.parse::<u16>().is_ok_and(|p| p > 0);
        if !valid {
            return None;
        }
    }
    if !(path.is_empty() || path.starts_with('/') || path.starts_with('?')) {
        return None;
    }
    Some((&uri[.."http://".len() + host.len()], path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn check(uri: &str, expected: Result<(), UriRefusal>) {
        assert_eq!(check_registrable(uri), expected, "{uri:?}");
    }

    fn not_canonical(canonical: &str) -> Result<(), UriRefusal> {
        Err(UriRefusal::NotCanonical {
            canonical: canonical.to_owned(),
        })
    }

    /// OP05 and notes P1: what `app create` refuses, and what it takes.
    #[test]
    fn registration_takes_https_and_loopback_http_only() {
        use UriRefusal::*;
        check("https://app.example/callback", Ok(()));
        check("https://app.example/callback?tenant=1&x=y", Ok(()));
        check("https://app.example:8443/cb", Ok(()));
        check("https://app.example/a/..;/b", Ok(()));
        check("http://127.0.0.1/callback", Ok(()));
        check("http://127.0.0.1:3000/callback", Ok(()));
        check("http://[::1]:3000/callback", Ok(()));

        check("", Err(Empty));
        check(
            &format!("https://app.example/{}", "a".repeat(2000)),
            Err(TooLong),
        );
        check(" https://app.example/cb", Err(ControlCharacter));
        check("https://app.example/c b", Err(ControlCharacter));
        check("https://app.example/cb\n", Err(ControlCharacter));
        check("https://app.example/cb\t", Err(ControlCharacter));
        check("javascript:alert(1)", Err(DangerousScheme));
        check(
            "JaVaScRiPt:alert(1)//https://app.example/",
            Err(DangerousScheme),
        );
        check(
            "data:text/html,<script>alert(1)</script>",
            Err(DangerousScheme),
        );
        check("DATA:text/html;base64,PHNjcmlwdD4=", Err(DangerousScheme));
        check("vbscript:msgbox", Err(DangerousScheme));
        check("file:///etc/passwd", Err(DangerousScheme));
        check("/callback", Err(NotAbsolute));
        check("app.example/callback", Err(NotAbsolute));
        check("http://app.example/callback", Err(NotHttps));
        check("http://10.0.0.1/callback", Err(NotHttps));
        check("http://127.0.0.2/callback", Err(NotHttps));
        check("ftp://app.example/callback", Err(NotHttps));
        check("com.example.app:/callback", Err(NotHttps));
        check("http://localhost:3000/callback", Err(Localhost));
        check("http://LOCALHOST/callback", Err(Localhost));
        check("https://app.example/callback#", Err(Fragment));
        check("https://app.example/callback#frag", Err(Fragment));
        check("https://good@evil.example/callback", Err(UserInfo));
        check("https://good:pw@evil.example/callback", Err(UserInfo));
        check("https://a@b@evil.example/callback", Err(UserInfo));
        check("https://*.app.example/callback", Err(Wildcard));
        check("https://app.example/*", Err(Wildcard));

        check("https://app.example", not_canonical("https://app.example/"));
        check(
            "HTTPS://App.Example/cb",
            not_canonical("https://app.example/cb"),
        );
        check(
            "https://app.example:443/cb",
            not_canonical("https://app.example/cb"),
        );
        check(
            "https://app.example/a/../cb",
            not_canonical("https://app.example/cb"),
        );
        check(
            "https://app.example/ä",
            not_canonical("https://app.example/%C3%A4"),
        );
        check(
            "https://@app.example/cb",
            not_canonical("https://app.example/cb"),
        );
        check(
            "http://[0:0:0:0:0:0:0:1]/cb",
            not_canonical("http://[::1]/cb"),
        );
    }

    fn registered() -> Vec<String> {
        [
            "https://app.example/callback",
            "https://app.example/with?query=1",
            "https://app.x/cb",
            "http://127.0.0.1/native",
            "http://[::1]:4000/native?q=1",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn matches(presented: &str, loopback_any_port: bool) -> Option<String> {
        find_registered(&registered(), presented, loopback_any_port).map(str::to_owned)
    }

    /// OP02–OP04: anything but the registered bytes is refused; a public app's loopback URI
    /// may change its port and nothing else.
    #[test]
    fn presented_redirect_uris_match_byte_for_byte() {
        for (presented, public, expected) in [
            (
                "https://app.example/callback",
                false,
                Some("https://app.example/callback"),
            ),
            (
                "https://app.example/with?query=1",
                true,
                Some("https://app.example/with?query=1"),
            ),
            // OP02: trailing slash, case, extra query, path tricks, fragment.
            ("https://app.example/callback/", false, None),
            ("https://APP.example/callback", false, None),
            ("https://app.example/Callback", false, None),
            ("https://app.example/callback?x=1", false, None),
            ("https://app.example/with?query=1&next=evil", false, None),
            ("https://app.example/with", false, None),
            ("https://app.example/callback/..;/evil", false, None),
            ("https://app.example/evil/../callback", false, None),
            ("https://app.example/callback#frag", false, None),
            ("https://app.example/callback%2F", false, None),
            ("https://app.example:443/callback", false, None),
            (" https://app.example/callback", false, None),
            // OP03: userinfo and host prefixes.
            ("https://app.example@evil.example/callback", false, None),
            ("https://app.example/callback@evil.example", false, None),
            ("https://a@b@app.example/callback", false, None),
            ("https://app.x.evil.com/cb", false, None),
            ("https://app.xevil.com/cb", false, None),
            // OP04: loopback — a port change only for public apps, nothing else ever.
            (
                "http://127.0.0.1/native",
                false,
                Some("http://127.0.0.1/native"),
            ),
            ("http://127.0.0.1:51234/native", false, None),
            (
                "http://127.0.0.1:51234/native",
                true,
                Some("http://127.0.0.1/native"),
            ),
            ("http://127.0.0.1:51234/native?extra=1", true, None),
            ("http://127.0.0.1:51234/native/", true, None),
            ("http://127.0.0.1:51234/other", true, None),
            ("http://127.0.0.1:0/native", true, None),
            ("http://127.0.0.1:070/native", true, None),
            ("http://127.0.0.1:65536/native", true, None),
            ("http://127.0.0.1:/native", true, None),
            ("http://127.0.0.1.evil.example/native", true, None),
            ("http://127.0.0.1@evil.example/native", true, None),
            ("http://localhost/native", true, None),
            ("http://localhost:51234/native", true, None),
            ("https://127.0.0.1:51234/native", true, None),
            (
                "http://[::1]:5000/native?q=1",
                true,
                Some("http://[::1]:4000/native?q=1"),
            ),
            (
                "http://[::1]/native?q=1",
                true,
                Some("http://[::1]:4000/native?q=1"),
            ),
            ("http://[::1]:5000/native?q=2", true, None),
            ("http://127.0.0.1:5000/native?q=1", true, None),
            ("http://[::1]:5000/native?q=1", false, None),
        ] {
            assert_eq!(
                matches(presented, public),
                expected.map(str::to_owned),
                "{presented:?} (public: {public})"
            );
        }
    }
}
