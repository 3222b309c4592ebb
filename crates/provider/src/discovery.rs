//! The provider's metadata (OpenID Connect Discovery 1.0, RFC 8414): what a client library reads
//! first, and trusts for everything after.
//!
//! Two kinds of value matter beyond the endpoint URLs:
//!
//! - **The issuer is exact.** Every `iss` Roster issues and the `issuer` here are
//!   `server.public_url` without a trailing slash, and client libraries compare them byte for
//!   byte (Discovery §4.3, RFC 8414 §3.3).
//! - **Defaults are dangerous.** Where Discovery defines a default for a missing field, the
//!   default claims more than Roster does (`request_uri_parameter_supported` defaults to true,
//!   `grant_types_supported` to include implicit), so every such field is published explicitly.
//!   `subject_types_supported` and `id_token_signing_alg_values_supported` (with RS256) are
//!   required.
//!
//! The document depends only on the issuer, so it is built once.

use serde::Serialize;

/// The scopes Roster understands; others are ignored (OpenID Connect Core §3.1.2.1 leaves them
/// to the provider, and the conformance suite expects no error).
pub const SCOPES_SUPPORTED: &[&str] = &[
    "openid",
    "profile",
    "email",
    "roles",
    "groups",
    "attributes",
    "offline_access",
];

/// The claims Roster's ID tokens and userinfo can carry (published as `claims_supported`).
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "sid",
    "amr",
    "acr",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "wid",
    "workspace",
    "idp",
    "roles",
    "groups",
    "attributes",
];

/// How clients authenticate at the token and revocation endpoints: confidential apps with their
/// secret in Basic or in the body, public apps with none (and PKCE).
const CLIENT_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "none"];

/// Where each endpoint is, relative to the issuer.
pub const AUTHORIZATION_PATH: &str = "/oauth2/authorize";
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
pub const END_SESSION_PATH: &str = "/oauth2/logout";
pub const REVOCATION_PATH: &str = "/oauth2/revoke";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The provider metadata document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub end_session_endpoint: String,
    pub revocation_endpoint: String,
    pub jwks_uri: String,
    pub scopes_supported: &'static [&'static str],
    pub claims_supported: &'static [&'static str],
    pub response_types_supported: &'static [&'static str],
    pub response_modes_supported: &'static [&'static str],
    pub grant_types_supported: &'static [&'static str],
    pub subject_types_supported: &'static [&'static str],
    pub id_token_signing_alg_values_supported: &'static [&'static str],
    pub code_challenge_methods_supported: &'static [&'static str],
    pub token_endpoint_auth_methods_supported: &'static [&'static str],
    pub revocation_endpoint_auth_methods_supported: &'static [&'static str],
    pub authorization_response_iss_parameter_supported: bool,
    pub backchannel_logout_supported: bool,
    pub backchannel_logout_session_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    pub claims_parameter_supported: bool,
}

/// `server.public_url` as the issuer identifier: without a trailing slash.
pub fn issuer_of(public_url: &str) -> String {
    public_url.trim_end_matches('/').to_owned()
}

impl ProviderMetadata {
    pub fn for_issuer(issuer: &str) -> Self {
        let endpoint = |path: &str| format!("{issuer}{path}");
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: endpoint(AUTHORIZATION_PATH),
            token_endpoint: endpoint(TOKEN_PATH),
            userinfo_endpoint: endpoint(USERINFO_PATH),
            end_session_endpoint: endpoint(END_SESSION_PATH),
            revocation_endpoint: endpoint(REVOCATION_PATH),
            jwks_uri: endpoint(JWKS_PATH),
            scopes_supported: SCOPES_SUPPORTED,
            claims_supported: CLAIMS_SUPPORTED,
            response_types_supported: &["code"],
            response_modes_supported: &["query"],
            grant_types_supported: &["authorization_code", "refresh_token"],
            subject_types_supported: &["public"],
            id_token_signing_alg_values_supported: &["RS256", "ES256"],
            code_challenge_methods_supported: &["S256"],
            token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
            revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
            authorization_response_iss_parameter_supported: true,
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            claims_parameter_supported: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_issuer_is_the_public_url_without_a_trailing_slash() {
        for (public_url, issuer) in [
            ("https://id.example.com", "https://id.example.com"),
            ("https://id.example.com/", "https://id.example.com"),
            ("https://example.com/roster/", "https://example.com/roster"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ] {
            assert_eq!(issuer_of(public_url), issuer);
            let metadata = ProviderMetadata::for_issuer(&issuer_of(public_url));
            assert_eq!(metadata.issuer, issuer);
            assert_eq!(metadata.jwks_uri, format!("{issuer}/.well-known/jwks.json"));
        }
    }
}
