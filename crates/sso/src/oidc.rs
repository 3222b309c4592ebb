//! OpenID Connect relying party on openidconnect 4: authorization code flow with PKCE (S256),
//! plus the checks the library leaves to its caller (notes/sso-security.md §3, A4).
//!
//! What this module adds to openidconnect:
//! - an explicit asymmetric algorithm allowlist (discovery may advertise HS256, and an HS256
//!   token signed with the client secret must not pass for an asymmetric-only connection);
//! - clock skew on `exp` (the library has no leeway), an `iat` bound, an `azp` check and an
//!   `at_hash` check;
//! - a per-connection cache of provider metadata with its JWKS, refetched when a token names an
//!   unknown `kid` (at most once a minute per connection) and after [`METADATA_TTL`];
//! - groups, read from the verified ID token's payload (`groups`, or Entra's `_claim_names` /
//!   `hasgroups` overage markers meaning "unknown") and from userinfo, whose `sub` must match;
//! - the connection's custom attributes (`crate::attributes`), read from the same payload and
//!   userinfo's answer, which is asked for also when a mapped claim is not in the ID token.
//!
//! Every request (discovery, JWKS, token, userinfo) goes through the outbound client of
//! `roster-outbound`, handed to openidconnect as its HTTP client: each address is checked against
//! the operator's policy when the request connects, redirects are refused, bodies are capped at
//! [`OIDC_MAX_BYTES`] and every call has a timeout. The token and userinfo endpoints named by a
//! discovery document are checked against the policy when it is fetched too, so a document that
//! points them at the internal network is refused before any login uses it (and before the
//! client secret could be sent there). The client secret lives in the connection's protocol
//! config and is never logged.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AsyncHttpClient, AuthType, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, DiscoveryError, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
    UserInfoClaims, UserInfoError,
};
use roster_outbound::{Client, OutboundError, ReadBody, OIDC_MAX_BYTES};
use roster_store::domain::{ConnectionId, GroupsClaim, LoginClaims, LoginFailure};
use roster_store::AttributeMapping;
use serde::{Deserialize, Serialize};

use crate::attributes::{self, OidcClaims, Sent};
use crate::authn_context::SessionAuthn;

/// How long discovered metadata and keys are trusted before they are fetched again.
pub const METADATA_TTL: Duration = Duration::from_secs(3600);
/// At most one JWKS refetch per connection in this interval when tokens name unknown keys.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// The asymmetric algorithms an ID token may be signed with.
const ALLOWED_ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
}

/// An OIDC connection's protocol config (the `protocol_config` JSON of the connection).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default)]
    pub token_auth_method: TokenAuthMethod,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "default_skew")]
    pub clock_skew_seconds: i64,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .finish_non_exhaustive()
    }
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile", "groups"]
        .map(str::to_owned)
        .to_vec()
}

fn default_skew() -> i64 {
    120
}

/// A refused OIDC login: what to record and show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct OidcError {
    pub failure: LoginFailure,
    /// Fine-grained, stable reason (e.g. `nonce_mismatch`, `algorithm_forbidden`).
    pub reason: &'static str,
    pub message: String,
}

impl OidcError {
    fn new(failure: LoginFailure, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            failure,
            reason,
            message: message.into(),
        }
    }

    pub fn detail(&self) -> serde_json::Value {
        serde_json::json!({ "reason": self.reason, "message": self.message })
    }

    /// A request the outbound client failed or refused during `stage` (e.g. "token endpoint").
    /// The policy's refusals and its limits get reasons of their own; anything else is the
    /// stage's `unreachable_reason`.
    fn outbound(stage: &str, unreachable_reason: &'static str, err: &OutboundError) -> Self {
        let (failure, reason) = match err {
            OutboundError::Forbidden { .. } => {
                (LoginFailure::ConnectionMisconfigured, "address_forbidden")
            }
            OutboundError::InvalidUrl(_) => (LoginFailure::ConnectionMisconfigured, "url_invalid"),
            OutboundError::Redirect { .. } => (LoginFailure::InvalidResponse, "redirect_refused"),
            OutboundError::TooLarge { .. } => (LoginFailure::InvalidResponse, "response_too_large"),
            OutboundError::InvalidRequest(_)
            | OutboundError::InvalidNetwork(_)
            | OutboundError::Unresolvable { .. }
            | OutboundError::Timeout { .. }
            | OutboundError::Transport(_) => (LoginFailure::IdpUnreachable, unreachable_reason),
        };
        Self::new(failure, reason, format!("{stage}: {err}"))
    }

    /// Whether the connection's settings are at fault (a URL the policy refuses, an invalid
    /// issuer), rather than the IdP's answer or the network.
    pub fn is_misconfiguration(&self) -> bool {
        self.failure == LoginFailure::ConnectionMisconfigured
    }
}

fn unreachable(reason: &'static str, err: impl std::fmt::Display) -> OidcError {
    OidcError::new(LoginFailure::IdpUnreachable, reason, err.to_string())
}

fn invalid(reason: &'static str, err: impl std::fmt::Display) -> OidcError {
    OidcError::new(LoginFailure::InvalidResponse, reason, err.to_string())
}

/// Claims beyond the standard ones, read from the ID token and userinfo: groups with Entra's
/// overage markers, Entra's `xms_edov`, and every other claim (`other`), which custom attributes
/// may be mapped to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ExtraClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<serde_json::Value>>,
    #[serde(
        default,
        rename = "_claim_names",
        skip_serializing_if = "Option::is_none"
    )]
    claim_names: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hasgroups: Option<bool>,
    /// Microsoft Entra ID's optional "email domain owner verified" claim. Entra sends no
    /// `email_verified`; with `xms_edov` it says the email's domain is verified by the tenant
    /// that asserts it, which is the vouching a workspace's domain list needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xms_edov: Option<serde_json::Value>,
    #[serde(flatten, default)]
    other: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for ExtraClaims {}

impl ExtraClaims {
    /// `email_verified` as the IdP said it; when absent, Entra's `xms_edov` (`true`, `"true"`
    /// or `1` in its several encodings) stands for it. An explicit `email_verified` always wins.
    fn email_verified(&self, stated: Option<bool>) -> bool {
        stated.unwrap_or_else(|| match &self.xms_edov {
            Some(serde_json::Value::Bool(verified)) => *verified,
            Some(serde_json::Value::String(text)) => text == "true" || text == "1",
            Some(serde_json::Value::Number(number)) => number.as_u64() == Some(1),
            _ => false,
        })
    }

    fn to_claim(&self) -> GroupsClaim {
        let overage = self.hasgroups == Some(true)
            || self
                .claim_names
                .as_ref()
                .is_some_and(|names| names.get("groups").is_some());
        match (&self.groups, overage) {
            (_, true) | (None, false) => GroupsClaim::Unknown,
            (Some(values), false) => GroupsClaim::Known(
                values
                    .iter()
                    .filter_map(|v| match v {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }
}

/// What a callback hands over for the code exchange: the code and what the login's start kept.
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
}

/// A finished OIDC login: its claims (custom attributes included), how the user authenticated,
/// and everything the OP sent, for a test sign-in's report.
#[derive(Debug, Clone)]
pub struct OidcLogin {
    pub claims: LoginClaims,
    pub authn: SessionAuthn,
    pub sent: OidcClaims,
}

/// What the login start stores server-side (keyed by a hash of `state`).
#[derive(Debug)]
pub struct AuthorizationStart {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

struct CachedProvider {
    metadata: CoreProviderMetadata,
    fetched_at: Instant,
    jwks_refetched_at: Option<Instant>,
}

/// openidconnect's HTTP client: the outbound client, each call on a blocking thread (it does
/// blocking IO), every body capped at [`OIDC_MAX_BYTES`].
#[derive(Clone)]
struct OidcHttp(Client);

impl<'c> AsyncHttpClient<'c> for OidcHttp {
    type Error = OutboundError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OutboundError>> + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        let client = self.0.clone();
        Box::pin(async move {
            actix_web::rt::task::spawn_blocking(move || {
                client.send(request, ReadBody::AtMost(OIDC_MAX_BYTES))
            })
            .await
            .map_err(|err| OutboundError::Transport(format!("the request was cancelled: {err}")))?
        })
    }
}

/// The relying party: an HTTP client and the per-connection metadata cache.
#[derive(Clone)]
pub struct OidcRp {
    http: OidcHttp,
    cache: Arc<Mutex<HashMap<ConnectionId, CachedProvider>>>,
}

impl std::fmt::Debug for OidcRp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcRp").finish_non_exhaustive()
    }
}

impl OidcRp {
    /// A relying party whose every request goes through `outbound`.
    pub fn new(outbound: Client) -> Self {
        Self {
            http: OidcHttp(outbound),
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The outbound client (and its policy) this relying party uses.
    pub fn outbound(&self) -> &Client {
        &self.http.0
    }

    /// Fetches (or takes from the cache) the provider metadata and keys of a connection.
    async fn metadata(
        &self,
        connection: ConnectionId,
        config: &OidcConfig,
    ) -> Result<CoreProviderMetadata, OidcError> {
        // An entry discovered for another issuer (the connection was repointed) is a miss.
        if let Some(cached) = self.cached(connection, |c| {
            (c.fetched_at.elapsed() < METADATA_TTL && c.metadata.issuer().as_str() == config.issuer)
                .then(|| c.metadata.clone())
        }) {
            return Ok(cached);
        }
        let metadata = self.discover(config).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                connection,
                CachedProvider {
                    metadata: metadata.clone(),
                    fetched_at: Instant::now(),
                    jwks_refetched_at: None,
                },
            );
        }
        Ok(metadata)
    }

    fn cached<T>(
        &self,
        connection: ConnectionId,
        f: impl FnOnce(&mut CachedProvider) -> Option<T>,
    ) -> Option<T> {
        self.cache
            .lock()
            .ok()
            .and_then(|mut cache| cache.get_mut(&connection).and_then(f))
    }

    /// Discovery, validated against the configured issuer (a mismatch is refused by the
    /// library), with the endpoints Roster will call checked against the outbound policy (the
    /// JWKS was fetched through it already). Used at connection creation too.
    pub async fn discover(&self, config: &OidcConfig) -> Result<CoreProviderMetadata, OidcError> {
        let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|err| {
            OidcError::new(
                LoginFailure::ConnectionMisconfigured,
                "issuer_invalid",
                err.to_string(),
            )
        })?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|err| match err {
                DiscoveryError::Request(err) => {
                    OidcError::outbound("discovery", "discovery_failed", &err)
                }
                other => unreachable("discovery_failed", error_chain(&other)),
            })?;
        self.check_endpoints(&metadata).await?;
        Ok(metadata)
    }

    /// The token and userinfo endpoints of a discovery document, checked against the policy
    /// now (shape and where they resolve), so a document pointing them inside the network is
    /// refused before any login sends a code or the client secret there. The request itself is
    /// checked again when it connects.
    async fn check_endpoints(&self, metadata: &CoreProviderMetadata) -> Result<(), OidcError> {
        let endpoints: Vec<(&'static str, String)> = [
            (
                "token_endpoint",
                metadata.token_endpoint().map(|url| url.as_str().to_owned()),
            ),
            (
                "userinfo_endpoint",
                metadata
                    .userinfo_endpoint()
                    .map(|url| url.as_str().to_owned()),
            ),
        ]
        .into_iter()
        .filter_map(|(name, url)| url.map(|url| (name, url)))
        .collect();
        let client = self.outbound().clone();
        actix_web::rt::task::spawn_blocking(move || {
            endpoints.iter().try_for_each(|(name, url)| {
                client.policy().check_url(url).map_err(|err| {
                    OidcError::outbound(&format!("{name} {url}"), "discovery_failed", &err)
                })
            })
        })
        .await
        .map_err(|err| unreachable("discovery_failed", err))?
    }

    /// Refetches the JWKS after a token named an unknown key, unless that happened recently.
    async fn refetch_keys(
        &self,
        connection: ConnectionId,
        metadata: &CoreProviderMetadata,
    ) -> Result<Option<CoreProviderMetadata>, OidcError> {
        let allowed = self
            .cached(connection, |c| {
                let recent = c
                    .jwks_refetched_at
                    .is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL);
                if !recent {
                    c.jwks_refetched_at = Some(Instant::now());
                }
                Some(!recent)
            })
            .unwrap_or(true);
        if !allowed {
            return Ok(None);
        }
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|err| match err {
                DiscoveryError::Request(err) => {
                    OidcError::outbound("jwks_uri", "jwks_fetch_failed", &err)
                }
                other => unreachable("jwks_fetch_failed", error_chain(&other)),
            })?;
        let refreshed = metadata.clone().set_jwks(jwks);
        if let Ok(mut cache) = self.cache.lock() {
            if let Some(cached) = cache.get_mut(&connection) {
                cached.metadata = refreshed.clone();
            }
        }
        Ok(Some(refreshed))
    }

    /// The authorization URL of a new login, with fresh state, nonce and PKCE verifier;
    /// `force` adds `prompt=login`, so the IdP authenticates the user again.
    pub async fn start(
        &self,
        connection: ConnectionId,
        config: &OidcConfig,
        redirect_uri: &str,
        force: crate::saml::ForceAuthn,
    ) -> Result<AuthorizationStart, OidcError> {
        let metadata = self.metadata(connection, config).await?;
        let client = relying_party(metadata, config, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in config.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if force.0 {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(AuthorizationStart {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and verifies the ID token; returns the login's claims.
    pub async fn finish(
        &self,
        connection: ConnectionId,
        config: &OidcConfig,
        redirect_uri: &str,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<LoginClaims, OidcError> {
        self.finish_with_authn(connection, config, redirect_uri, code, nonce, pkce_verifier)
            .await
            .map(|(claims, _)| claims)
    }

    /// [`OidcRp::finish`], and how the IdP says the user authenticated (its ID token's `acr`
    /// and `amr`, [`crate::authn_context::from_oidc`]).
    pub async fn finish_with_authn(
        &self,
        connection: ConnectionId,
        config: &OidcConfig,
        redirect_uri: &str,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<(LoginClaims, SessionAuthn), OidcError> {
        let exchange = CodeExchange {
            code,
            nonce,
            pkce_verifier,
        };
        self.finish_login(connection, config, redirect_uri, exchange, &[])
            .await
            .map(|login| (login.claims, login.authn))
    }

    /// Exchanges the code, verifies the ID token, asks userinfo when the claims need it, and
    /// reads the connection's custom attributes (`mappings`, for OIDC) from what the OP sent.
    pub async fn finish_login(
        &self,
        connection: ConnectionId,
        config: &OidcConfig,
        redirect_uri: &str,
        exchange: CodeExchange<'_>,
        mappings: &[AttributeMapping],
    ) -> Result<OidcLogin, OidcError> {
        let metadata = self.metadata(connection, config).await?;
        let client = relying_party(metadata.clone(), config, redirect_uri)?;
        let token = client
            .exchange_code(AuthorizationCode::new(exchange.code.to_owned()))
            .map_err(|err| invalid("token_endpoint_missing", err))?
            .set_pkce_verifier(PkceCodeVerifier::new(exchange.pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|err| match err {
                RequestTokenError::Request(err) => {
                    OidcError::outbound("token endpoint", "code_exchange_failed", &err)
                }
                other => OidcError::new(
                    LoginFailure::InvalidResponse,
                    "code_exchange_failed",
                    error_chain(&other),
                ),
            })?;
        let id_token = token
            .id_token()
            .ok_or_else(|| invalid("id_token_missing", "the token response has no id_token"))?;
        let nonce = Nonce::new(exchange.nonce.to_owned());

        let mut verified = verify_id_token(&client, config, id_token, &nonce, token.access_token());
        if matches!(&verified, Err(e) if e.reason == "unknown_key") {
            if let Some(refreshed) = self.refetch_keys(connection, &metadata).await? {
                let client = relying_party(refreshed, config, redirect_uri)?;
                verified = verify_id_token(&client, config, id_token, &nonce, token.access_token());
            }
        }
        let VerifiedIdToken {
            mut claims,
            subject,
            authn,
            payload,
        } = verified?;
        let mut sent = OidcClaims {
            id_token: payload,
            userinfo: None,
        };

        let needs_userinfo = claims.email.is_none()
            || claims.groups == GroupsClaim::Unknown
            || attributes::userinfo_needed(mappings, &sent.id_token);
        if needs_userinfo && metadata.userinfo_endpoint().is_some() {
            let info: UserInfoClaims<ExtraClaims, CoreGenderClaim> = client
                .user_info(token.access_token().clone(), Some(subject))
                .map_err(|err| invalid("userinfo_missing", err))?
                .request_async(&self.http)
                .await
                .map_err(|err| match err {
                    UserInfoError::ClaimsVerification(inner) => {
                        invalid("userinfo_subject_mismatch", inner)
                    }
                    UserInfoError::Request(err) => {
                        OidcError::outbound("userinfo endpoint", "userinfo_failed", &err)
                    }
                    other => unreachable("userinfo_failed", error_chain(&other)),
                })?;
            merge_userinfo(&mut claims, &info);
            sent.userinfo = match serde_json::to_value(&info) {
                Ok(serde_json::Value::Object(map)) => Some(map),
                _ => None,
            };
        }
        claims.attributes = attributes::claimed(mappings, &Sent::Oidc(&sent));
        Ok(OidcLogin {
            claims,
            authn,
            sent,
        })
    }
}

type Rp = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn relying_party(
    metadata: CoreProviderMetadata,
    config: &OidcConfig,
    redirect_uri: &str,
) -> Result<Rp, OidcError> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|err| {
        OidcError::new(
            LoginFailure::ConnectionMisconfigured,
            "redirect_uri_invalid",
            err.to_string(),
        )
    })?;
    let auth_type = match config.token_auth_method {
        TokenAuthMethod::ClientSecretBasic => AuthType::BasicAuth,
        TokenAuthMethod::ClientSecretPost => AuthType::RequestBody,
    };
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.clone())),
    )
    .set_redirect_uri(redirect)
    .set_auth_type(auth_type))
}

/// An ID token that passed our policy.
struct VerifiedIdToken {
    claims: LoginClaims,
    subject: openidconnect::SubjectIdentifier,
    authn: SessionAuthn,
    /// Its whole payload (authentic, since the signature was verified).
    payload: serde_json::Map<String, serde_json::Value>,
}

/// Verifies the ID token with our policy; returns the claims, the subject and the payload.
fn verify_id_token(
    client: &Rp,
    config: &OidcConfig,
    id_token: &openidconnect::core::CoreIdToken,
    nonce: &Nonce,
    access_token: &openidconnect::AccessToken,
) -> Result<VerifiedIdToken, OidcError> {
    let skew = chrono::Duration::seconds(config.clock_skew_seconds.max(0));
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(ALLOWED_ALGORITHMS)
        .set_time_fn(move || chrono::Utc::now() - skew)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > chrono::Utc::now() + skew {
                Err(format!("issued in the future: {iat}"))
            } else {
                Ok(())
            }
        });
    let claims = id_token
        .claims(&verifier, nonce)
        .map_err(|err| classify(&err))?;

    // azp: the library does not check it.
    let audiences = claims.audiences();
    if let Some(azp) = claims.authorized_party() {
        if azp.as_str() != config.client_id {
            return Err(invalid("azp_mismatch", format!("azp is {}", azp.as_str())));
        }
    } else if audiences.len() > 1 {
        return Err(invalid("azp_missing", "several audiences and no azp"));
    }

    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(|err| invalid("algorithm_forbidden", err))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|err| invalid("unknown_key", err))?;
        let actual = AccessTokenHash::from_token(access_token, alg, key)
            .map_err(|err| invalid("at_hash_unsupported", err))?;
        if actual != *expected {
            return Err(invalid(
                "at_hash_mismatch",
                "at_hash does not match the access token",
            ));
        }
    }

    let payload = id_token_payload(id_token);
    let extra: ExtraClaims =
        serde_json::from_value(serde_json::Value::Object(payload.clone())).unwrap_or_default();
    let login = LoginClaims {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: extra.email_verified(claims.email_verified()),
        user_name: claims.preferred_username().map(|u| u.as_str().to_owned()),
        given_name: claims
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        family_name: claims
            .family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        display_name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        groups: extra.to_claim(),
        attributes: Vec::new(),
    };
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .into_iter()
        .flatten()
        .map(|method| method.as_str())
        .collect();
    let authn =
        crate::authn_context::from_oidc(claims.auth_context_ref().map(|acr| acr.as_str()), &amr);
    Ok(VerifiedIdToken {
        claims: login,
        subject: claims.subject().clone(),
        authn,
        payload,
    })
}

/// The payload of an ID token that has just been verified (so it is authentic): the groups,
/// overage markers and custom claims the library's standard claims type does not carry.
fn id_token_payload(
    id_token: &openidconnect::core::CoreIdToken,
) -> serde_json::Map<String, serde_json::Value> {
    let text = id_token.to_string();
    let payload = text.split('.').nth(1).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn merge_userinfo(claims: &mut LoginClaims, info: &UserInfoClaims<ExtraClaims, CoreGenderClaim>) {
    if claims.email.is_none() {
        claims.email = info.email().map(|e| e.as_str().to_owned());
        claims.email_verified = info
            .additional_claims()
            .email_verified(info.email_verified());
    }
    if claims.user_name.is_none() {
        claims.user_name = info.preferred_username().map(|u| u.as_str().to_owned());
    }
    if claims.given_name.is_none() {
        claims.given_name = info
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
    }
    if claims.family_name.is_none() {
        claims.family_name = info
            .family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
    }
    if claims.display_name.is_none() {
        claims.display_name = info
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
    }
    if claims.groups == GroupsClaim::Unknown {
        claims.groups = info.additional_claims().to_claim();
    }
}

fn classify(err: &ClaimsVerificationError) -> OidcError {
    let reason = match err {
        // openidconnect reports a failed `iat` hook as `Expired`; ours says why.
        ClaimsVerificationError::Expired(message) if message.contains("issued in the future") => {
            "issued_in_future"
        }
        ClaimsVerificationError::Expired(_) => "expired",
        ClaimsVerificationError::InvalidAudience(_) => "audience_mismatch",
        ClaimsVerificationError::InvalidIssuer(_) => "issuer_mismatch",
        ClaimsVerificationError::InvalidNonce(_) => "nonce_mismatch",
        ClaimsVerificationError::InvalidSubject(_) => "subject_invalid",
        ClaimsVerificationError::SignatureVerification(sig) => match sig {
            SignatureVerificationError::NoSignature => "unsigned",
            SignatureVerificationError::NoMatchingKey => "unknown_key",
            SignatureVerificationError::DisallowedAlg(_)
            | SignatureVerificationError::UnsupportedAlg(_) => "algorithm_forbidden",
            _ => "signature_invalid",
        },
        _ => "claims_invalid",
    };
    invalid(reason, err)
}

/// An error with its sources, for the admin's login log.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_overage_is_unknown() {
        let claims: ExtraClaims = serde_json::from_value(serde_json::json!({
            "_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "x"}}
        }))
        .unwrap();
        assert_eq!(claims.to_claim(), GroupsClaim::Unknown);
        let claims: ExtraClaims =
            serde_json::from_value(serde_json::json!({"hasgroups": true, "groups": ["a"]}))
                .unwrap();
        assert_eq!(claims.to_claim(), GroupsClaim::Unknown);
        let claims: ExtraClaims = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(claims.to_claim(), GroupsClaim::Unknown);
        let claims: ExtraClaims =
            serde_json::from_value(serde_json::json!({"groups": ["a", 7, {"x": 1}]})).unwrap();
        assert_eq!(
            claims.to_claim(),
            GroupsClaim::Known(vec!["a".to_owned(), "7".to_owned()])
        );
        let claims: ExtraClaims =
            serde_json::from_value(serde_json::json!({"groups": []})).unwrap();
        assert_eq!(claims.to_claim(), GroupsClaim::Known(vec![]));
    }

    #[test]
    fn email_verified_is_the_stated_claim_else_entra_s_domain_owner_verified() {
        let check = |claims: serde_json::Value, stated: Option<bool>, want: bool| {
            let extra: ExtraClaims = serde_json::from_value(claims.clone()).unwrap();
            assert_eq!(extra.email_verified(stated), want, "{claims} {stated:?}");
        };
        check(serde_json::json!({}), None, false);
        check(serde_json::json!({}), Some(true), true);
        check(serde_json::json!({"xms_edov": true}), None, true);
        check(serde_json::json!({"xms_edov": "true"}), None, true);
        check(serde_json::json!({"xms_edov": "1"}), None, true);
        check(serde_json::json!({"xms_edov": 1}), None, true);
        check(serde_json::json!({"xms_edov": false}), None, false);
        check(serde_json::json!({"xms_edov": "0"}), None, false);
        check(serde_json::json!({"xms_edov": 0}), None, false);
        // A stated `email_verified: false` is not overridden.
        check(serde_json::json!({"xms_edov": true}), Some(false), false);
    }

    #[test]
    fn config_debug_hides_the_secret() {
        let config: OidcConfig = serde_json::from_value(serde_json::json!({
            "issuer": "https://idp.example", "client_id": "c", "client_secret": "s3cr3t-value"
        }))
        .unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t-value"));
        assert_eq!(config.scopes, default_scopes());
        assert_eq!(config.token_auth_method, TokenAuthMethod::ClientSecretBasic);
    }
}
