//! The provider's one error type, mapped to HTTP here and nowhere else.
//!
//! Each variant is answered in the format its caller reads: RFC 6749 §5.2-style JSON
//! (`{"error", "error_description"}`) for the endpoints a client library calls and for
//! registration (RFC 7591 §3.2.2 codes), an HTML page for a browser that cannot safely be sent
//! back to the app (RFC 6749 §4.1.2.1), and a redirect to the app for every other authorization
//! error. The match below has no catch-all arm, so a new variant forces a decision.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use roster_store::{InvalidGrant, StoreError};
use serde::Serialize;

use crate::authorize::ErrorRedirect;
use crate::pages;
use crate::redirect_uri::UriRefusal;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Registration: a URI the rules of `redirect_uri` refuse.
    #[error("invalid URI {uri:?}: {reason}")]
    InvalidRedirectUri { uri: String, reason: UriRefusal },
    /// Registration: any other value the provider cannot take.
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// Authorization: `client_id` is missing or names no app. Never redirected (OP01).
    #[error("unknown client")]
    UnknownClient,
    /// Authorization: `redirect_uri` is missing or not one the app registered. Never
    /// redirected (OP02–OP04).
    #[error("the redirect_uri is missing or not registered for this app")]
    UnregisteredRedirectUri,
    /// Authorization: the query cannot be read (a parameter repeated, not UTF-8). Never
    /// redirected: its `redirect_uri` cannot be trusted either.
    #[error("unreadable authorization request: {0}")]
    MalformedAuthorizeRequest(String),
    /// Authorization: the upstream login came back to an authorization request that is
    /// unknown, expired, used already, or another browser's. Nothing is issued.
    #[error("the authorization request expired, was used, or belongs to another browser")]
    AuthorizationExpired,
    /// RP-initiated logout refused (an invalid `id_token_hint`, a `client_id` that is not the
    /// hint's audience, an unregistered `post_logout_redirect_uri`): a page, never a redirect.
    #[error("logout refused: {0}")]
    LogoutRefused(&'static str),
    /// Authorization: an error the app hears about at its (verified) redirect URI.
    #[error("authorization refused: {}", .0.error.as_str())]
    Redirect(Box<ErrorRedirect>),
    /// A bearer token (userinfo) or `id_token_hint` that is not a live token of this provider.
    /// The reason is logged, never answered.
    #[error("invalid token: {0}")]
    InvalidToken(crate::tokens::TokenRefusal),
    /// Token endpoint: a request RFC 6749 §5.2 calls `invalid_request` (a missing or repeated
    /// parameter, two client authentication methods at once).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Token endpoint: the client did not authenticate. `basic` when it tried HTTP Basic, so the
    /// answer carries `WWW-Authenticate: Basic` (§5.2).
    #[error("client authentication failed")]
    InvalidClient { basic: bool },
    /// Token endpoint: too many failed authentications of this client lately (OP18).
    #[error("client locked after failed authentications")]
    ClientLocked { retry_after: u64 },
    /// Token endpoint: the store refused the code or refresh token. Logged, described
    /// generically.
    #[error("invalid grant: {0:?}")]
    InvalidGrant(roster_store::InvalidGrant),
    #[error("unsupported grant_type")]
    UnsupportedGrantType,
    /// Userinfo: the access token verified, but its grant or user no longer answers.
    #[error("grant not live: {0:?}")]
    GrantNotLive(roster_store::GrantNotLive),
    /// A signing key could not be made or read.
    #[error("signing key: {0}")]
    Key(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The page for an unknown app or redirect URI.
const NOT_REGISTERED: &str = "This sign-in link is not valid: the application that sent you here \
                              is not registered with this address. Go back to the application \
                              and try again; if it keeps happening, tell its administrator.";

/// An OAuth error body (RFC 6749 §5.2, RFC 7591 §3.2.2).
#[derive(Debug, Serialize)]
struct OAuthErrorBody<'a> {
    error: &'a str,
    error_description: String,
}

/// How an error is answered: the one decision per variant, which both `status_code` and
/// `error_response` read.
enum Answer {
    /// OAuth JSON error.
    Json {
        status: StatusCode,
        error: &'static str,
        description: String,
        retry_after: Option<u64>,
        /// `WWW-Authenticate: Basic` (a failed Basic client authentication).
        basic_challenge: bool,
    },
    /// An HTML page for a browser that must not be sent back to the app.
    Page {
        code: &'static str,
        explanation: &'static str,
    },
    /// Back to the app's redirect URI with the error.
    Redirect { location: String },
    /// 401 `invalid_token` with `WWW-Authenticate: Bearer` (RFC 6750 §3.1).
    InvalidToken,
    /// Unexpected: logged with its cause, answered without it.
    Internal,
}

impl ProviderError {
    fn answer(&self) -> Answer {
        let json = |error, description| Answer::Json {
            status: StatusCode::BAD_REQUEST,
            error,
            description,
            retry_after: None,
            basic_challenge: false,
        };
        match self {
            ProviderError::InvalidRedirectUri { .. } => {
                json("invalid_redirect_uri", self.to_string())
            }
            ProviderError::InvalidClientMetadata(reason) => {
                json("invalid_client_metadata", reason.clone())
            }
            ProviderError::UnknownClient => Answer::Page {
                code: "unknown_client",
                explanation: NOT_REGISTERED,
            },
            ProviderError::UnregisteredRedirectUri => Answer::Page {
                code: "unregistered_redirect_uri",
                explanation: NOT_REGISTERED,
            },
            ProviderError::MalformedAuthorizeRequest(_) => Answer::Page {
                code: "invalid_request",
                explanation: "This sign-in link is not valid: it cannot be read (a parameter is \
                              repeated or garbled). Go back to the application and try again.",
            },
            ProviderError::LogoutRefused(code) => Answer::Page {
                code,
                explanation: "The application that sent you here asked to sign you out with a \
                              request Roster cannot accept, so nothing changed. Go back to the \
                              application; to sign out of Roster, use its sign-out page.",
            },
            ProviderError::AuthorizationExpired => Answer::Page {
                code: "authorization_expired",
                explanation: "This sign-in took too long, was finished already, or was started \
                              in another browser. Go back to the application and sign in again.",
            },
            ProviderError::InvalidToken(_) | ProviderError::GrantNotLive(_) => Answer::InvalidToken,
            ProviderError::InvalidRequest(reason) => json("invalid_request", reason.clone()),
            ProviderError::InvalidClient { basic } => Answer::Json {
                status: StatusCode::UNAUTHORIZED,
                error: "invalid_client",
                description: "client authentication failed".to_owned(),
                retry_after: None,
                basic_challenge: *basic,
            },
            ProviderError::ClientLocked { retry_after } => Answer::Json {
                status: StatusCode::TOO_MANY_REQUESTS,
                error: "invalid_client",
                description: "too many failed client authentications; try again later".to_owned(),
                retry_after: Some(*retry_after),
                basic_challenge: false,
            },
            ProviderError::InvalidGrant(refusal) => match refusal {
                InvalidGrant::ScopeWidened => json(
                    "invalid_scope",
                    "the requested scope exceeds the grant".to_owned(),
                ),
                InvalidGrant::Unknown
                | InvalidGrant::WrongClient
                | InvalidGrant::RedirectUriMismatch
                | InvalidGrant::VerifierMissing
                | InvalidGrant::VerifierMismatch
                | InvalidGrant::UnexpectedVerifier
                | InvalidGrant::Expired
                | InvalidGrant::CodeReused
                | InvalidGrant::RefreshTokenReused
                | InvalidGrant::GrantRevoked => json(
                    "invalid_grant",
                    "the code or refresh token is invalid, expired, revoked, or was issued \
                     to another client or request"
                        .to_owned(),
                ),
            },
            ProviderError::UnsupportedGrantType => json(
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token".to_owned(),
            ),
            ProviderError::Redirect(redirect) => Answer::Redirect {
                location: redirect.location(),
            },
            ProviderError::Store(StoreError::Unavailable(_)) => Answer::Json {
                status: StatusCode::SERVICE_UNAVAILABLE,
                error: "temporarily_unavailable",
                description: "try again shortly".to_owned(),
                retry_after: Some(5),
                basic_challenge: false,
            },
            ProviderError::Store(
                StoreError::NotFound { .. }
                | StoreError::Conflict { .. }
                | StoreError::Invalid(_)
                | StoreError::PreconditionFailed { .. }
                | StoreError::InvalidFilter(_)
                | StoreError::Unauthorized
                | StoreError::Forbidden { .. }
                | StoreError::Corrupt(_)
                | StoreError::DataKey(_)
                | StoreError::Migration(_)
                | StoreError::Database(_),
            )
            | ProviderError::Key(_) => Answer::Internal,
        }
    }
}

impl ResponseError for ProviderError {
    fn status_code(&self) -> StatusCode {
        match self.answer() {
            Answer::Json { status, .. } => status,
            Answer::Page { .. } => StatusCode::BAD_REQUEST,
            Answer::Redirect { .. } => StatusCode::SEE_OTHER,
            Answer::InvalidToken => StatusCode::UNAUTHORIZED,
            Answer::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self.answer() {
            Answer::Json {
                status,
                error,
                description,
                retry_after,
                basic_challenge,
            } => {
                if status.is_client_error() {
                    tracing::info!(error = %self, "OpenID Provider: request refused");
                }
                let mut response = HttpResponse::build(status);
                response.insert_header((header::CACHE_CONTROL, "no-store"));
                if basic_challenge {
                    response.insert_header((
                        header::WWW_AUTHENTICATE,
                        r#"Basic realm="roster", charset="UTF-8""#,
                    ));
                }
                if let Some(seconds) = retry_after {
                    response.insert_header((header::RETRY_AFTER, seconds.to_string()));
                }
                response.json(OAuthErrorBody {
                    error,
                    error_description: description,
                })
            }
            Answer::Page { code, explanation } => {
                tracing::info!(error = %self, "OpenID Provider: authorization refused");
                pages::response(StatusCode::BAD_REQUEST, &pages::refused(explanation, code))
            }
            Answer::Redirect { location } => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish(),
            Answer::InvalidToken => {
                tracing::info!(error = %self, "OpenID Provider: token refused");
                HttpResponse::Unauthorized()
                    .insert_header((
                        header::WWW_AUTHENTICATE,
                        r#"Bearer error="invalid_token", error_description="the access token is not valid""#,
                    ))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .json(OAuthErrorBody {
                        error: "invalid_token",
                        error_description: "the access token is not valid".to_owned(),
                    })
            }
            Answer::Internal => {
                tracing::error!(error = %self, "OpenID Provider: internal error");
                HttpResponse::InternalServerError()
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .json(OAuthErrorBody {
                        error: "server_error",
                        error_description: "an unexpected error occurred".to_owned(),
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::AuthorizeErrorCode;
    use pretty_assertions::assert_eq;

    /// (status, content type, body) of an error's answer, and its headers.
    fn answer(err: &ProviderError) -> (u16, String, String, HttpResponse) {
        let response = err.error_response();
        assert_eq!(response.status(), err.status_code());
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let (response, body) = response.into_parts();
        let bytes = actix_web::rt::System::new()
            .block_on(actix_web::body::to_bytes(body))
            .unwrap();
        (
            response.status().as_u16(),
            content_type,
            String::from_utf8(bytes.to_vec()).unwrap(),
            response.set_body(actix_web::body::BoxBody::new(())),
        )
    }

    fn header_of(response: &HttpResponse, name: header::HeaderName) -> Option<String> {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    }

    #[test]
    fn each_error_is_answered_in_its_callers_format() {
        for (err, status, error) in [
            (
                ProviderError::InvalidRedirectUri {
                    uri: "data:x".to_owned(),
                    reason: UriRefusal::DangerousScheme,
                },
                400,
                "invalid_redirect_uri",
            ),
            (
                ProviderError::InvalidClientMetadata("no name".to_owned()),
                400,
                "invalid_client_metadata",
            ),
            (
                ProviderError::Store(StoreError::Unavailable("pool".to_owned())),
                503,
                "temporarily_unavailable",
            ),
            (
                ProviderError::Store(StoreError::Corrupt("secret detail".to_owned())),
                500,
                "server_error",
            ),
            (
                ProviderError::Key("secret detail".to_owned()),
                500,
                "server_error",
            ),
        ] {
            let (actual, content_type, body, response) = answer(&err);
            assert_eq!(actual, status, "{err}");
            assert_eq!(content_type, "application/json");
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"], error);
            assert!(
                !body.to_string().contains("secret detail"),
                "causes stay in the log"
            );
            assert_eq!(
                header_of(&response, header::CACHE_CONTROL).as_deref(),
                Some("no-store")
            );
            let retry = header_of(&response, header::RETRY_AFTER);
            assert_eq!(retry.is_some(), status == 503);
        }

        for (err, code) in [
            (ProviderError::UnknownClient, "unknown_client"),
            (
                ProviderError::UnregisteredRedirectUri,
                "unregistered_redirect_uri",
            ),
            (
                ProviderError::MalformedAuthorizeRequest("duplicate field".to_owned()),
                "invalid_request",
            ),
            (ProviderError::AuthorizationExpired, "authorization_expired"),
            (
                ProviderError::LogoutRefused("unregistered_post_logout_redirect_uri"),
                "unregistered_post_logout_redirect_uri",
            ),
        ] {
            let (status, content_type, body, response) = answer(&err);
            assert_eq!(status, 400);
            assert_eq!(content_type, "text/html; charset=utf-8");
            assert!(body.contains(code));
            assert_eq!(
                header_of(&response, header::LOCATION),
                None,
                "never redirected"
            );
            let csp = header_of(&response, header::CONTENT_SECURITY_POLICY).unwrap();
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        }

        let (status, content_type, body, response) = answer(&ProviderError::InvalidToken(
            crate::tokens::TokenRefusal::BadSignature,
        ));
        assert_eq!(status, 401);
        assert_eq!(content_type, "application/json");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"], "invalid_token");
        assert!(
            !body.to_string().contains("signature"),
            "the reason stays in the log"
        );
        assert_eq!(
            header_of(&response, header::WWW_AUTHENTICATE).as_deref(),
            Some(
                r#"Bearer error="invalid_token", error_description="the access token is not valid""#
            )
        );

        // The token endpoint's refusals: one generic description for every refused grant, a
        // Basic challenge only after a Basic attempt, Retry-After on a locked client.
        let generic = answer(&ProviderError::InvalidGrant(InvalidGrant::CodeReused)).2;
        for (err, status, error, challenge, retry) in [
            (
                ProviderError::InvalidClient { basic: true },
                401,
                "invalid_client",
                true,
                false,
            ),
            (
                ProviderError::InvalidClient { basic: false },
                401,
                "invalid_client",
                false,
                false,
            ),
            (
                ProviderError::ClientLocked { retry_after: 42 },
                429,
                "invalid_client",
                false,
                true,
            ),
            (
                ProviderError::InvalidGrant(InvalidGrant::VerifierMismatch),
                400,
                "invalid_grant",
                false,
                false,
            ),
            (
                ProviderError::InvalidGrant(InvalidGrant::ScopeWidened),
                400,
                "invalid_scope",
                false,
                false,
            ),
            (
                ProviderError::InvalidRequest("two methods".to_owned()),
                400,
                "invalid_request",
                false,
                false,
            ),
            (
                ProviderError::UnsupportedGrantType,
                400,
                "unsupported_grant_type",
                false,
                false,
            ),
        ] {
            let (actual, _, body, response) = answer(&err);
            assert_eq!(actual, status, "{err}");
            let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(parsed["error"], error, "{err}");
            if error == "invalid_grant" {
                assert_eq!(body, generic, "the reason is not answered");
            }
            assert_eq!(
                header_of(&response, header::WWW_AUTHENTICATE).is_some(),
                challenge,
                "{err}"
            );
            assert_eq!(
                header_of(&response, header::RETRY_AFTER).as_deref(),
                retry.then_some("42"),
                "{err}"
            );
            assert_eq!(
                header_of(&response, header::CACHE_CONTROL).as_deref(),
                Some("no-store")
            );
        }
        let (status, _, _, response) = answer(&ProviderError::GrantNotLive(
            roster_store::GrantNotLive::EpochMoved,
        ));
        assert_eq!(status, 401);
        assert!(header_of(&response, header::WWW_AUTHENTICATE)
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\""));

        let redirect = ProviderError::Redirect(Box::new(ErrorRedirect {
            redirect_uri: "https://app.example/cb".to_owned(),
            error: AuthorizeErrorCode::UnsupportedResponseType,
            description: "only code",
            state: Some("xyz".to_owned()),
            issuer: "https://roster.example".to_owned(),
        }));
        let (status, _, _, response) = answer(&redirect);
        assert_eq!(status, 303, "303, never 307 (RFC 9700 §4.12)");
        assert_eq!(
            header_of(&response, header::LOCATION).as_deref(),
            Some(
                "https://app.example/cb?error=unsupported_response_type&error_description=only+code\
                 &state=xyz&iss=https%3A%2F%2Froster.example"
            )
        );
    }
}
