//! What ties a login to the browser that started it, where it may land afterwards, and whether a
//! form POST came from one of Roster's own pages.
//!
//! The `roster_sso` cookie holds a random value; pending logins store only its SHA-256, so a
//! stolen `state` or AuthnRequest id is useless from another browser (login CSRF, O10/S21).
//! In production the IdP's POST to the ACS is cross-site, so over https the cookie is
//! `SameSite=None; Secure`; over plain http (local runs) browsers refuse `None` without `Secure`,
//! and `Lax` is used — loopback IdPs are same-site anyway.
//!
//! The forms that change who is signed in — `POST /login/password` and `POST /logout` — carry no
//! token of their own; [`check_same_origin`] accepts them only from Roster's origin, by the
//! headers browsers set and pages cannot forge (`Sec-Fetch-Site`, `Origin`, `Referer`: OWASP's
//! "verify origin with standard headers"), against login and logout CSRF.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, HeaderName};
use actix_web::HttpRequest;
use sha2::{Digest, Sha256};

/// The browser-binding cookie.
pub const BINDING_COOKIE: &str = "roster_sso";
const BINDING_SECONDS: i64 = 15 * 60;

/// SHA-256 of `value`, as lowercase hex.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// The browser's binding value, if it has one.
pub fn binding(req: &HttpRequest) -> Option<String> {
    req.cookie(BINDING_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A fresh random binding value.
pub fn new_binding() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// The binding cookie to set.
pub fn binding_cookie(value: String, secure: bool) -> Cookie<'static> {
    flow_cookie(BINDING_COOKIE, value, "/sso", BINDING_SECONDS, secure)
}

/// A cookie that ties a flow in flight to this browser, sent only to `path`, readable by no
/// script, and — over https — sent on the cross-site return from the IdP (`SameSite=None`;
/// the value is checked against what the flow stored, so that is safe). The OpenID Provider's
/// pending authorization requests use it too.
pub fn flow_cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    max_age_seconds: i64,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .secure(secure)
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_seconds))
        .finish()
}

/// Whether `return_to` is a same-origin relative path: starts with one `/`, is not
/// protocol-relative (`//host`, `/\host`), and holds no control characters or backslashes.
pub fn is_safe_return_to(return_to: &str) -> bool {
    return_to.starts_with('/')
        && !return_to.starts_with("//")
        && !return_to.contains('\\')
        && !return_to.chars().any(char::is_control)
        && return_to.len() <= 2048
}

/// The origin (`scheme://host[:port]`) of a URL, as browsers write it in `Origin`; `None` for
/// text that is not a URL with a host.
pub fn origin_of(url: &str) -> Option<String> {
    let origin = url::Url::parse(url).ok()?.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// What a request's headers say about the page that sent it. A header that is present but not
/// readable text counts as present (and then matches nothing), never as absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestSource<'a> {
    /// `Sec-Fetch-Site`: `same-origin`, `same-site`, `cross-site` or `none` (a typed URL).
    pub fetch_site: Option<&'a str>,
    /// `Origin`: the sending page's origin, or `null` when the browser withholds it.
    pub origin: Option<&'a str>,
    /// `Referer`: the sending page's URL; consulted only without `Origin`.
    pub referer: Option<&'a str>,
}

impl<'a> RequestSource<'a> {
    pub fn of(req: &'a HttpRequest) -> Self {
        let header = |name: HeaderName| {
            req.headers()
                .get(name)
                .map(|value| value.to_str().unwrap_or_default())
        };
        Self {
            fetch_site: header(HeaderName::from_static("sec-fetch-site")),
            origin: header(header::ORIGIN),
            referer: header(header::REFERER),
        }
    }
}

/// A request that did not come from Roster's own origin: which header said so, what it should
/// have said and what it said (for a `Referer`, only its origin: the rest of another site's URL
/// is none of our business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossOrigin {
    pub header: &'static str,
    pub want: String,
    pub got: String,
}

impl CrossOrigin {
    fn new(header: &'static str, want: &str, got: &str) -> Self {
        Self {
            header,
            want: want.to_owned(),
            got: got.chars().take(256).collect(),
        }
    }

    /// The login-event detail.
    pub fn detail(&self) -> serde_json::Value {
        serde_json::json!({ "header": self.header, "want": self.want, "got": self.got })
    }
}

/// Whether a form POST came from a page of `public_origin` (the origin of `server.public_url`).
/// In order:
/// 1. `Sec-Fetch-Site` other than `same-origin` or `none` is refused: the browser says a page of
///    another site (or another origin of this site) sent it.
/// 2. `Origin`, when present, must be `public_origin`. `null` passes only with
///    `Sec-Fetch-Site: same-origin`: a page of ours served with `Referrer-Policy: no-referrer`
///    sends `null`, and so do sandboxed frames and `data:` pages, which the browser calls
///    `cross-site`.
/// 3. Without `Origin`, `Referer`, when present, must be a URL of `public_origin`.
/// 4. With none of the three the request is accepted. Browsers send `Origin` with every POST
///    (`null` at worst), so such a request was not sent by a web page; a client that is not a
///    browser sends its own requests, which no third-party page can make it send.
pub fn check_same_origin(
    source: RequestSource<'_>,
    public_origin: &str,
) -> Result<(), CrossOrigin> {
    let vouched_same_origin = match source.fetch_site {
        None => false,
        Some("same-origin") => true,
        Some("none") => false,
        Some(other) => return Err(CrossOrigin::new("Sec-Fetch-Site", "same-origin", other)),
    };
    if let Some(origin) = source.origin {
        return match origin {
            "null" if vouched_same_origin => Ok(()),
            _ if origin_of(origin).as_deref() == Some(public_origin) => Ok(()),
            _ => Err(CrossOrigin::new("Origin", public_origin, origin)),
        };
    }
    if let Some(referer) = source.referer {
        return match origin_of(referer) {
            Some(origin) if origin == public_origin => Ok(()),
            Some(origin) => Err(CrossOrigin::new("Referer", public_origin, &origin)),
            None => Err(CrossOrigin::new("Referer", public_origin, "(not a URL)")),
        };
    }
    Ok(())
}

/// [`check_same_origin`] for a request, against the origin of `public_url` (a public URL that is
/// not one matches no request a browser sends).
pub fn check_request_origin(req: &HttpRequest, public_url: &str) -> Result<(), CrossOrigin> {
    let public_origin = origin_of(public_url).unwrap_or_default();
    check_same_origin(RequestSource::of(req), &public_origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_must_be_a_same_origin_path() {
        for good in ["/", "/app?x=1", "/a/b#c"] {
            assert!(is_safe_return_to(good), "{good}");
        }
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
            "evil",
            "/a\nb",
            "\"><script>",
        ] {
            assert!(!is_safe_return_to(bad), "{bad}");
        }
    }

    #[test]
    fn bindings_are_random_and_hashed() {
        let a = new_binding().unwrap();
        let b = new_binding().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(sha256_hex("abc").len(), 64);
        assert_ne!(sha256_hex(&a), a);
    }
}

#[cfg(test)]
mod same_origin_tests {
    use super::*;

    const US: &str = "https://roster.example";

    fn source<'a>(
        fetch_site: Option<&'a str>,
        origin: Option<&'a str>,
        referer: Option<&'a str>,
    ) -> RequestSource<'a> {
        RequestSource {
            fetch_site,
            origin,
            referer,
        }
    }

    /// (Sec-Fetch-Site, Origin, Referer) -> `None` when accepted, else the header that refused.
    type Case = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn only_roster_s_own_pages_pass() {
        let cases: &[Case] = &[
            // A browser on one of our pages.
            (Some("same-origin"), Some(US), None, None),
            (None, Some(US), None, None),
            (None, Some("https://ROSTER.example:443"), None, None),
            (Some("same-origin"), Some("null"), None, None),
            (None, None, Some("https://roster.example/admin#users"), None),
            // No browser headers at all: not sent by a web page.
            (None, None, None, None),
            (Some("same-origin"), None, None, None),
            // Another site, or another origin of ours.
            (Some("cross-site"), Some(US), None, Some("Sec-Fetch-Site")),
            (Some("same-site"), None, None, Some("Sec-Fetch-Site")),
            (Some("nonsense"), None, None, Some("Sec-Fetch-Site")),
            (None, Some("https://evil.example"), None, Some("Origin")),
            (
                Some("none"),
                Some("https://evil.example"),
                None,
                Some("Origin"),
            ),
            (None, Some("http://roster.example"), None, Some("Origin")),
            (
                None,
                Some("https://roster.example:8443"),
                None,
                Some("Origin"),
            ),
            (
                None,
                Some("https://roster.example.evil.test"),
                None,
                Some("Origin"),
            ),
            (None, Some("null"), None, Some("Origin")),
            (Some("none"), Some("null"), None, Some("Origin")),
            (None, Some(""), None, Some("Origin")),
            (None, Some("https://evil.example"), Some(US), Some("Origin")),
            (
                None,
                None,
                Some("https://evil.example/page"),
                Some("Referer"),
            ),
            (None, None, Some("/relative"), Some("Referer")),
            (None, None, Some(""), Some("Referer")),
        ];
        for (fetch_site, origin, referer, want) in cases {
            let got = check_same_origin(source(*fetch_site, *origin, *referer), US)
                .err()
                .map(|refusal| refusal.header);
            assert_eq!(got, *want, "{fetch_site:?} {origin:?} {referer:?}");
        }
    }

    #[test]
    fn a_refusal_names_only_the_origin_of_a_foreign_referer() {
        let refusal = check_same_origin(
            source(None, None, Some("https://evil.example/reset?token=secret")),
            US,
        )
        .unwrap_err();
        assert_eq!(
            refusal.detail(),
            serde_json::json!({ "header": "Referer", "want": US, "got": "https://evil.example" })
        );
        assert_eq!(
            origin_of("https://roster.example/base/").as_deref(),
            Some(US)
        );
        assert_eq!(origin_of("not a url"), None);
    }
}
