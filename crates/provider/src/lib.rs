//! Roster as an OpenID Provider for products: a product registers once (`roster app create`),
//! points any certified OpenID Connect client library at Roster's issuer, and gets enterprise
//! SSO for every workspace — Roster runs the workspace's own SAML or OIDC connection upstream and
//! answers the product with a code, an ID token and back-channel logouts.
//!
//! This crate owns the provider's protocol: app registration rules ([`apps`],
//! [`redirect_uri`]), the metadata ([`discovery`]), the signing keys ([`keys`]), the
//! authorization endpoint's rules ([`authorize`]) and its sign-in through the workspace's own
//! connection ([`sign_in`]), the tokens it mints and verifies
//! ([`tokens`]), the token endpoint ([`token`], with [`client_auth`] and [`client_throttle`])
//! userinfo ([`userinfo`]) and RP-initiated logout ([`logout`]). It asks `roster-sso` for the session keys
//! (published in one JWKS with its own) and to run the upstream login; and
//! `roster-store` for apps, keys, codes, grants and refresh tokens.
//!
//! **Architecture invariant:** the protocol rules are pure functions with table tests; handlers
//! only parse, call one rule or store operation, and render; every error is a
//! [`ProviderError`], answered in the caller's format in one place (`error.rs`).

pub mod apps;
pub mod authorize;
pub mod client_auth;
pub mod client_throttle;
pub mod cors;
pub mod discovery;
mod error;
mod handlers;
pub mod keys;
pub mod logout;
mod pages;
pub mod redirect_uri;
pub mod revoke;
pub mod sign_in;
pub mod token;
pub mod tokens;
pub mod userinfo;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::web;
use roster_sso::session::{SessionError, Sessions};
use roster_store::domain::Timestamp;
use roster_store::Store;
use serde::Serialize;

pub use discovery::ProviderMetadata;
pub use error::ProviderError;

/// What the provider's handlers share: the store, the issuer and its metadata, the provider's
/// keys and the session keys published beside them. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ProviderState {
    pub store: Store,
    metadata: Arc<ProviderMetadata>,
    keys: keys::ProviderKeys,
    sessions: Sessions,
    /// Verified access tokens, so a repeat at userinfo costs a hash.
    access_tokens: tokens::AccessTokenCache,
    /// Failed client authentications of this replica.
    client_throttle: Arc<client_throttle::ClientThrottle>,
}

/// Verified access tokens kept per replica (a few hundred bytes each).
const ACCESS_TOKEN_CACHE_CAPACITY: usize = 100_000;

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JwkSet {
    pub keys: Vec<serde_json::Value>,
}

impl ProviderState {
    /// The provider of `public_url` (its issuer, without a trailing slash), caching its keys for
    /// `key_cache` like the session keys.
    pub fn new(store: Store, public_url: &str, sessions: Sessions, key_cache: Duration) -> Self {
        let issuer = discovery::issuer_of(public_url);
        Self {
            keys: keys::ProviderKeys::new(store.clone(), key_cache),
            metadata: Arc::new(ProviderMetadata::for_issuer(&issuer)),
            store,
            sessions,
            access_tokens: tokens::AccessTokenCache::new(ACCESS_TOKEN_CACHE_CAPACITY),
            client_throttle: Arc::default(),
        }
    }

    /// Whether a browser page of `origin` may read the token and revocation endpoints' answers
    /// ([`cors::is_public_app_origin`]).
    pub fn allows_origin(&self, origin: &str) -> Result<bool, ProviderError> {
        Ok(cors::is_public_app_origin(
            &self.store.oauth_apps()?,
            origin,
        ))
    }

    /// `ClientLocked` while `client_id` has too many recent failed authentications from
    /// `address`.
    pub fn check_client_throttle(
        &self,
        client_id: &str,
        address: Option<std::net::IpAddr>,
    ) -> Result<(), ProviderError> {
        match self
            .client_throttle
            .locked(client_id, address, Instant::now())
        {
            Some(retry_after) => Err(ProviderError::ClientLocked { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failed authentication of `client_id` from `address`.
    pub fn record_client_failure(&self, client_id: &str, address: Option<std::net::IpAddr>) {
        self.client_throttle
            .record_failure(client_id, address, Instant::now());
    }

    pub fn issuer(&self) -> &str {
        &self.metadata.issuer
    }

    pub fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    /// The JWKS at `now`: the session keys that still verify, then the provider's published
    /// keys (creating the provider's first keys if there are none yet).
    pub fn jwks_at(&self, now: Timestamp) -> Result<JwkSet, ProviderError> {
        let sessions = self.sessions.jwks_at(now).map_err(|err| match err {
            SessionError::Store(err) => ProviderError::Store(err),
            SessionError::Key(reason) => ProviderError::Key(reason),
            SessionError::Missing | SessionError::Invalid(_) | SessionError::Ended => {
                ProviderError::Key(err.to_string())
            }
        })?;
        let mut keys: Vec<serde_json::Value> =
            sessions["keys"].as_array().cloned().unwrap_or_default();
        keys.extend(self.keys.published_at(now)?);
        Ok(JwkSet { keys })
    }

    /// The key that signs `alg` tokens at `now` (an app's `id_token_alg`; RS256 for access
    /// tokens by default).
    pub fn signing_key(
        &self,
        alg: roster_store::SigningAlg,
        now: Timestamp,
    ) -> Result<Arc<tokens::SigningKey>, ProviderError> {
        self.keys.signing_key(alg, now)
    }

    /// The keys that verify the provider's own tokens at `now`.
    pub fn verifying_keys(
        &self,
        now: Timestamp,
    ) -> Result<Vec<tokens::VerifyingKey>, ProviderError> {
        self.keys.verifying_keys(now)
    }
}

/// Mounts the provider's routes at the root: `/.well-known/openid-configuration`,
/// `/.well-known/oauth-authorization-server`, `/.well-known/jwks.json`, `/oauth2/authorize`
/// (and its `/resume`), `/oauth2/token`, `/oauth2/revoke`, `/oauth2/userinfo` and
/// `/oauth2/logout`.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<ProviderState>) {
    cfg.app_data(state)
        .route(
            "/.well-known/openid-configuration",
            web::get().to(handlers::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(handlers::metadata),
        )
        .route(discovery::JWKS_PATH, web::get().to(handlers::jwks))
        .route(sign_in::AUTHORIZE_PATH, web::get().to(handlers::authorize))
        .route(sign_in::AUTHORIZE_PATH, web::post().to(handlers::authorize))
        .route(sign_in::RESUME_PATH, web::get().to(handlers::resume))
        .route(logout::LOGOUT_PATH, web::get().to(handlers::logout))
        .route(logout::LOGOUT_PATH, web::post().to(handlers::logout))
        .route("/oauth2/token", web::post().to(handlers::token))
        .route(
            "/oauth2/token",
            web::method(Method::OPTIONS).to(handlers::preflight),
        )
        .route("/oauth2/revoke", web::post().to(handlers::revoke))
        .route(
            "/oauth2/revoke",
            web::method(Method::OPTIONS).to(handlers::preflight),
        )
        .route("/oauth2/userinfo", web::get().to(handlers::userinfo))
        .route("/oauth2/userinfo", web::post().to(handlers::userinfo))
        .route(
            "/oauth2/userinfo",
            web::method(Method::OPTIONS).to(handlers::userinfo_preflight),
        );
}
