//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3).
//!
//! A request authenticates in exactly one way: HTTP Basic (`client_secret_basic`), the secret in
//! the form (`client_secret_post`), or only its `client_id` (`none`, for public apps, whose
//! protection is PKCE). Two ways at once are refused as `invalid_request` (§2.3: "MUST NOT use
//! more than one authentication method in each request"), so a proxy adding one cannot make a
//! request ambiguous. Basic credentials are form-urlencoded before base64 (§2.3.1), so they are
//! decoded here; libraries that skip the encoding still work for Roster's ids and secrets, which
//! need none.
//!
//! Which app the credentials belong to, and whether the secret is right, is the store's question
//! (`authenticate_oauth_client`: constant time, the previous secret in its grace). A public app
//! presenting a secret, and a confidential app presenting none, are both `invalid_client`.

use base64::Engine;

/// How the request presented its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresentedMethod {
    Basic,
    Post,
    None,
}

/// The client a request presented, before it is checked. `Debug` leaves out the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedClient {
    pub client_id: String,
    pub secret: Option<String>,
    pub method: PresentedMethod,
}

impl std::fmt::Debug for PresentedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedClient")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("method", &self.method)
            .finish()
    }
}

/// Why no client could be read from a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientAuthRefusal {
    /// More than one way at once, or a form `client_id` that differs from Basic's.
    #[error("the request authenticates the client in more than one way")]
    MultipleMethods,
    /// No `client_id` anywhere.
    #[error("the request does not identify its client")]
    Missing,
    /// An `Authorization` header that is not well-formed Basic credentials.
    #[error("the Authorization header is not valid Basic credentials")]
    MalformedBasic,
}

/// The client presented by a request with `authorization` (the header, if any) and the form's
/// `client_id` and `client_secret`.
pub fn presented_client(
    authorization: Option<&str>,
    form_client_id: Option<&str>,
    form_client_secret: Option<&str>,
) -> Result<PresentedClient, ClientAuthRefusal> {
    match authorization {
        Some(header) => {
            if form_client_secret.is_some() {
                return Err(ClientAuthRefusal::MultipleMethods);
            }
            let (client_id, secret) = basic_credentials(header)?;
            // §2.3.1 allows the form to repeat client_id only as the same client.
            if form_client_id.is_some_and(|id| id != client_id) {
                return Err(ClientAuthRefusal::MultipleMethods);
            }
            Ok(PresentedClient {
                client_id,
                secret: Some(secret),
                method: PresentedMethod::Basic,
            })
        }
        None => {
            let client_id = form_client_id
                .filter(|id| !id.is_empty())
                .ok_or(ClientAuthRefusal::Missing)?;
            Ok(PresentedClient {
                client_id: client_id.to_owned(),
                secret: form_client_secret.map(str::to_owned),
                method: if form_client_secret.is_some() {
                    PresentedMethod::Post
                } else {
                    PresentedMethod::None
                },
            })
        }
    }
}

/// `(client_id, secret)` of a `Basic` header, each form-urldecoded (RFC 6749 §2.3.1).
fn basic_credentials(header: &str) -> Result<(String, String), ClientAuthRefusal> {
    let (scheme, encoded) = header
        .trim()
        .split_once(' ')
        .ok_or(ClientAuthRefusal::MalformedBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ClientAuthRefusal::MalformedBasic);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ClientAuthRefusal::MalformedBasic)?;
    let decoded = String::from_utf8(decoded).map_err(|_| ClientAuthRefusal::MalformedBasic)?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or(ClientAuthRefusal::MalformedBasic)?;
    let id = form_urldecode(id).ok_or(ClientAuthRefusal::MalformedBasic)?;
    let secret = form_urldecode(secret).ok_or(ClientAuthRefusal::MalformedBasic)?;
    if id.is_empty() {
        return Err(ClientAuthRefusal::MalformedBasic);
    }
    Ok((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte;
/// `None` for a broken escape or bytes that are not UTF-8.
fn form_urldecode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn basic(credentials: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    }

    fn client(id: &str, secret: Option<&str>, method: PresentedMethod) -> PresentedClient {
        PresentedClient {
            client_id: id.to_owned(),
            secret: secret.map(str::to_owned),
            method,
        }
    }

    #[test]
    fn each_request_presents_its_client_in_exactly_one_way() {
        use PresentedMethod::{Basic, None as Public, Post};
        type Case<'a> = (
            Option<String>,
            Option<&'a str>,
            Option<&'a str>,
            Result<PresentedClient, ClientAuthRefusal>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                Some(basic("app:s3cret")),
                None,
                None,
                Ok(client("app", Some("s3cret"), Basic)),
            ),
            // §2.3.1: both halves are form-urlencoded before base64.
            (
                Some(basic("my%3Aapp:a+b%2Bc%25")),
                None,
                None,
                Ok(client("my:app", Some("a b+c%"), Basic)),
            ),
            (
                Some(basic("app:s:e:c")),
                Some("app"),
                None,
                Ok(client("app", Some("s:e:c"), Basic)),
            ),
            (
                Some("basic   ".to_owned() + &basic("app:x")[6..]),
                None,
                None,
                Ok(client("app", Some("x"), Basic)),
            ),
            (
                None,
                Some("app"),
                Some("s3cret"),
                Ok(client("app", Some("s3cret"), Post)),
            ),
            (None, Some("app"), None, Ok(client("app", None, Public))),
            (
                Some(basic("app:s3cret")),
                Some("app"),
                Some("s3cret"),
                Err(ClientAuthRefusal::MultipleMethods),
            ),
            (
                Some(basic("app:s3cret")),
                Some("other"),
                None,
                Err(ClientAuthRefusal::MultipleMethods),
            ),
            (None, None, None, Err(ClientAuthRefusal::Missing)),
            (None, Some(""), Some("x"), Err(ClientAuthRefusal::Missing)),
            (
                Some("Bearer abc".to_owned()),
                None,
                None,
                Err(ClientAuthRefusal::MalformedBasic),
            ),
            (
                Some("Basic !!!".to_owned()),
                None,
                None,
                Err(ClientAuthRefusal::MalformedBasic),
            ),
            (
                Some(basic("no-colon")),
                None,
                None,
                Err(ClientAuthRefusal::MalformedBasic),
            ),
            (
                Some(basic(":secret")),
                None,
                None,
                Err(ClientAuthRefusal::MalformedBasic),
            ),
            (
                Some(basic("app:bad%zz")),
                None,
                None,
                Err(ClientAuthRefusal::MalformedBasic),
            ),
        ];
        for (header, id, secret, expected) in cases {
            assert_eq!(
                presented_client(header.as_deref(), id, secret),
                expected,
                "{header:?} {id:?}"
            );
        }
    }

    #[test]
    fn a_presented_client_never_shows_its_secret() {
        let shown = format!("{:?}", client("app", Some("s3cret"), PresentedMethod::Post));
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
