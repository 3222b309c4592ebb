//! What ties a login to the browser that started it, and where it may land afterwards.
//!
//! The `roster_sso` cookie holds a random value; pending logins store only its SHA-256, so a
//! stolen `state` or AuthnRequest id is useless from another browser (login CSRF, O10/S21).
//! In production the IdP's POST to the ACS is cross-site, so over https the cookie is
//! `SameSite=None; Secure`; over plain http (local runs) browsers refuse `None` without `Secure`,
//! and `Lax` is used — loopback IdPs are same-site anyway.

use actix_web::cookie::{Cookie, SameSite};
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
    Cookie::build(BINDING_COOKIE, value)
        .path("/sso")
        .http_only(true)
        .secure(secure)
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .max_age(actix_web::cookie::time::Duration::seconds(BINDING_SECONDS))
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
