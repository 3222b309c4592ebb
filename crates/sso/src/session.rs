//! Session tokens: an ES256 JWT in the `roster_session` cookie, verifiable by any product with
//! the keys at `/.well-known/jwks.json`.
//!
//! The token carries who (user, workspace, roles) and the user's `session_epoch`. Verifying a
//! session here also reloads the user: a token whose epoch is behind the user's (deactivated,
//! SCIM DELETE, disabled by an admin) or whose id was logged out is refused at once, whatever its
//! expiry says. Products that only check the signature get the roles of the login and an expiry
//! after the session lifetime (`sso.session_ttl_secs`, default [`SESSION_SECONDS`]); they call
//! `/api/v1/me` when they need the live state.
//!
//! Keys live in the database (`session_keys`) so every replica signs and verifies with the same
//! ones; the first replica to start creates one, and `roster keys rotate` replaces it (see
//! [`rotate_keys`]). Each replica keeps the parsed keys in memory for `sso.key_cache_secs`, so a
//! verification costs no key query and no JWK parsing, while a rotation done elsewhere is picked
//! up within that time; a token whose kid is not in the cache forces a reload at once (at most
//! once a second), so a session signed by a newer key on another replica is never refused.
//! Revocations and user state are never cached: they are read on every verification.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use roster_store::domain::{Actor, Timestamp, User, Workspace};
use roster_store::{KeyRotation, SessionKeyRecord, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::authn_context::SessionAuthn;

/// How long a session lasts unless `sso.session_ttl_secs` says otherwise.
pub const SESSION_SECONDS: i64 = 8 * 3600;
/// How long a replica trusts its in-memory copy of the keys unless `sso.key_cache_secs` says
/// otherwise.
pub const KEY_CACHE_SECONDS: u64 = 5;
/// The shortest time between two reloads forced by an unknown kid (a flood of forged kids costs
/// at most one key query a second).
const FORCED_RELOAD_INTERVAL: Duration = Duration::from_secs(1);
/// The audience of session tokens.
pub const SESSION_AUDIENCE: &str = "roster-session";
/// The session cookie.
pub const SESSION_COOKIE: &str = "roster_session";

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// Session id (for logout).
    pub sid: String,
    /// Workspace id and slug.
    pub wid: String,
    pub workspace: String,
    pub roles: Vec<String>,
    pub epoch: i64,
    /// The connection the user logged in through.
    pub cid: String,
    pub iat: i64,
    pub exp: i64,
    /// The authentication context class the IdP asserted (SAML `AuthnContextClassRef`), if
    /// any: the `acr` apps get ([`crate::authn_context`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// How the user authenticated (RFC 8176 values, e.g. `["fed", "mfa"]`): the `amr` apps
    /// get. Empty in sessions signed before Roster kept it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no session")]
    Missing,
    #[error("invalid session: {0}")]
    Invalid(String),
    #[error("session ended")]
    Ended,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("session key: {0}")]
    Key(String),
}

/// Generates a new P-256 key as a storable record.
pub fn generate_key() -> Result<SessionKeyRecord, SessionError> {
    let secret = loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| SessionError::Key(err.to_string()))?;
        if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
            break key;
        }
    };
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| SessionError::Key(err.to_string()))?;
    let point = secret.public_key().to_encoded_point(false);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(SessionError::Key(
            "public key has no coordinates".to_owned(),
        ));
    };
    let mut kid_bytes = [0u8; 8];
    getrandom::fill(&mut kid_bytes).map_err(|err| SessionError::Key(err.to_string()))?;
    let kid = hex::encode(kid_bytes);
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": b64.encode(x), "y": b64.encode(y),
    });
    Ok(SessionKeyRecord {
        kid,
        algorithm: "ES256".to_owned(),
        private_pem: pem.to_string(),
        public_jwk: jwk.to_string(),
        created_at: Timestamp::now().as_micros(),
        retired_at: None,
        verify_until: None,
    })
}

/// How long sessions last and how long a replica caches the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Lifetime of a session token (and of its cookie).
    pub ttl_seconds: i64,
    /// How long the parsed keys are reused before the database is asked again.
    pub key_cache: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            ttl_seconds: SESSION_SECONDS,
            key_cache: Duration::from_secs(KEY_CACHE_SECONDS),
        }
    }
}

impl SessionOptions {
    /// How long a key retired now must keep verifying: a replica may still sign with it until
    /// its cache expires, and that session then lasts the session lifetime.
    pub fn retirement_window_seconds(&self) -> i64 {
        let cache = i64::try_from(self.key_cache.as_secs()).unwrap_or(i64::MAX);
        self.ttl_seconds.saturating_add(cache).saturating_add(1)
    }
}

/// Makes a fresh key current at `now`. The previous keys keep verifying for the retirement
/// window of `options` — or stop at once with `end_previous_now` (after a key leak: every
/// session they signed ends).
pub fn rotate_keys(
    store: &Store,
    actor: &Actor,
    options: &SessionOptions,
    now: Timestamp,
    end_previous_now: bool,
) -> Result<KeyRotation, SessionError> {
    let until = if end_previous_now {
        now
    } else {
        now.plus_seconds(options.retirement_window_seconds())
    };
    Ok(store.rotate_session_key(actor, &generate_key()?, now, until)?)
}

/// A key as a replica uses it: parsed once per cache load.
struct LoadedKey {
    kid: String,
    /// `None` while the key is current.
    verifies_until: Option<i64>,
    jwk: serde_json::Value,
    decoding: DecodingKey,
}

impl LoadedKey {
    fn usable_at(&self, now: Timestamp) -> bool {
        self.verifies_until
            .is_none_or(|until| until > now.as_micros())
    }
}

/// The current key's private half, parsed once per key load, that signs session tokens (ES256).
///
/// OpenSSL signs, not jsonwebtoken's pure-Rust P-256: that parses the key and derives its public
/// point again for every token, and its scalar multiplication was the largest single cost of a
/// SAML login in the ACS benchmark. Tokens are verified with jsonwebtoken as before.
struct SessionSigner(openssl::ec::EcKey<openssl::pkey::Private>);

impl SessionSigner {
    fn from_pem(pem: &str) -> Result<Self, String> {
        openssl::pkey::PKey::private_key_from_pem(pem.as_bytes())
            .and_then(|key| key.ec_key())
            .map(Self)
            .map_err(|err| err.to_string())
    }

    /// A compact JWS: `base64url(header).base64url(claims).base64url(r || s)`.
    fn sign(&self, kid: &str, claims: &SessionClaims) -> Result<String, SessionError> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let key_error = |err: openssl::error::ErrorStack| SessionError::Key(err.to_string());
        let header = serde_json::json!({ "typ": "JWT", "alg": "ES256", "kid": kid });
        let claims =
            serde_json::to_vec(claims).map_err(|err| SessionError::Key(err.to_string()))?;
        let signing_input = format!("{}.{}", b64.encode(header.to_string()), b64.encode(claims));
        let digest = openssl::sha::sha256(signing_input.as_bytes());
        let signature = openssl::ecdsa::EcdsaSig::sign(&digest, &self.0).map_err(key_error)?;
        let mut raw = signature.r().to_vec_padded(32).map_err(key_error)?;
        raw.extend(signature.s().to_vec_padded(32).map_err(key_error)?);
        Ok(format!("{signing_input}.{}", b64.encode(raw)))
    }
}

/// Every key that verifies, newest first, and the one that signs.
struct KeySet {
    loaded_at: Instant,
    keys: Vec<LoadedKey>,
    signer: Option<(String, SessionSigner)>,
}

impl KeySet {
    fn find(&self, kid: &str) -> Option<&LoadedKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

#[derive(Default)]
struct KeyCache {
    set: Option<Arc<KeySet>>,
    last_forced: Option<Instant>,
}

/// Signs and verifies session tokens with the keys in the store.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    issuer: String,
    options: SessionOptions,
    cache: Arc<RwLock<KeyCache>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("issuer", &self.issuer)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Makes sure a signing key exists.
    pub fn new(
        store: Store,
        issuer: String,
        options: SessionOptions,
    ) -> Result<Self, SessionError> {
        if store.session_keys()?.iter().all(|k| k.retired_at.is_some()) {
            store.ensure_session_key(&generate_key()?)?;
        }
        Ok(Self {
            store,
            issuer,
            options,
            cache: Arc::new(RwLock::new(KeyCache::default())),
        })
    }

    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    /// The keys, from the cache while it is fresh. `force` reloads them (an unknown kid) unless
    /// a forced reload happened within the last second.
    fn key_set(&self, force: bool) -> Result<Arc<KeySet>, SessionError> {
        {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(set) = &cache.set {
                let fresh = set.loaded_at.elapsed() < self.options.key_cache;
                let throttled = cache
                    .last_forced
                    .is_some_and(|at| at.elapsed() < FORCED_RELOAD_INTERVAL);
                if (!force && fresh) || (force && throttled) {
                    return Ok(Arc::clone(set));
                }
            }
        }
        let set = Arc::new(self.load()?);
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        cache.set = Some(Arc::clone(&set));
        if force {
            cache.last_forced = Some(Instant::now());
        }
        Ok(set)
    }

    /// Reads and parses every key that still verifies.
    fn load(&self) -> Result<KeySet, SessionError> {
        let now = Timestamp::now();
        let mut keys = Vec::new();
        let mut signer = None;
        for record in self.store.session_keys()? {
            let verifies_until = record.verifies_until();
            if verifies_until.is_some_and(|until| until <= now.as_micros()) {
                continue;
            }
            let parsed = serde_json::from_str::<serde_json::Value>(&record.public_jwk)
                .map_err(|err| err.to_string())
                .and_then(|jwk| {
                    let typed: jsonwebtoken::jwk::Jwk =
                        serde_json::from_value(jwk.clone()).map_err(|err| err.to_string())?;
                    let decoding = DecodingKey::from_jwk(&typed).map_err(|err| err.to_string())?;
                    Ok((jwk, decoding))
                });
            let (jwk, decoding) = match parsed {
                Ok(parsed) => parsed,
                Err(err) => {
                    tracing::error!(kid = %record.kid, error = %err, "unusable session key skipped");
                    continue;
                }
            };
            if signer.is_none() && verifies_until.is_none() {
                // An unusable private half stops signing, not verification.
                match SessionSigner::from_pem(&record.private_pem) {
                    Ok(key) => signer = Some((record.kid.clone(), key)),
                    Err(err) => {
                        tracing::error!(kid = %record.kid, error = %err, "session key cannot sign");
                    }
                }
            }
            keys.push(LoadedKey {
                kid: record.kid,
                verifies_until,
                jwk,
                decoding,
            });
        }
        Ok(KeySet {
            loaded_at: Instant::now(),
            keys,
            signer,
        })
    }

    /// The JWKS document of every key that may still verify a live token.
    pub fn jwks(&self) -> Result<serde_json::Value, SessionError> {
        self.jwks_at(Timestamp::now())
    }

    /// [`Sessions::jwks`] as of `now`.
    pub fn jwks_at(&self, now: Timestamp) -> Result<serde_json::Value, SessionError> {
        let set = self.key_set(false)?;
        let keys: Vec<&serde_json::Value> = set
            .keys
            .iter()
            .filter(|k| k.usable_at(now))
            .map(|k| &k.jwk)
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// Issues a token for `user`, saying nothing of how they authenticated; returns it with
    /// its claims.
    pub fn issue(
        &self,
        workspace: &Workspace,
        user: &User,
        roles: Vec<String>,
        connection_id: &str,
    ) -> Result<(String, SessionClaims), SessionError> {
        self.issue_with(
            workspace,
            user,
            roles,
            connection_id,
            SessionAuthn::default(),
        )
    }

    /// Issues a token for `user` who authenticated as `authn` says; returns it with its claims.
    pub fn issue_with(
        &self,
        workspace: &Workspace,
        user: &User,
        roles: Vec<String>,
        connection_id: &str,
        authn: SessionAuthn,
    ) -> Result<(String, SessionClaims), SessionError> {
        let mut set = self.key_set(false)?;
        if set.signer.is_none() {
            set = self.key_set(true)?;
        }
        let (kid, key) = set
            .signer
            .as_ref()
            .ok_or_else(|| SessionError::Key("no current session key".to_owned()))?;
        let now = Timestamp::now().as_micros() / 1_000_000;
        let claims = SessionClaims {
            iss: self.issuer.clone(),
            aud: SESSION_AUDIENCE.to_owned(),
            sub: user.id.to_string(),
            sid: uuid_like()?,
            wid: workspace.id.to_string(),
            workspace: workspace.slug.to_string(),
            roles,
            epoch: user.session_epoch,
            cid: connection_id.to_owned(),
            iat: now,
            exp: now + self.options.ttl_seconds,
            acr: authn.acr,
            amr: authn.amr,
        };
        let token = key.sign(kid, &claims)?;
        Ok((token, claims))
    }

    /// The claims of a token signed by one of our keys, expired or not (logout of a stale
    /// session must still revoke it).
    pub fn decode_for_logout(&self, token: &str) -> Result<SessionClaims, SessionError> {
        self.decode(token, Timestamp::now(), false)
    }

    /// Checks the signature (with a key that still verifies at `now`), issuer and audience, and
    /// the expiry when `check_expiry`.
    fn decode(
        &self,
        token: &str,
        now: Timestamp,
        check_expiry: bool,
    ) -> Result<SessionClaims, SessionError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| SessionError::Invalid(err.to_string()))?;
        if header.alg != Algorithm::ES256 {
            return Err(SessionError::Invalid("algorithm".to_owned()));
        }
        let kid = header
            .kid
            .ok_or_else(|| SessionError::Invalid("no kid".to_owned()))?;
        let mut set = self.key_set(false)?;
        if set.find(&kid).is_none() {
            set = self.key_set(true)?;
        }
        let key = set
            .find(&kid)
            .ok_or_else(|| SessionError::Invalid("unknown kid".to_owned()))?;
        if !key.usable_at(now) {
            return Err(SessionError::Invalid("retired key".to_owned()));
        }
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&[SESSION_AUDIENCE]);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.leeway = 0;
        // Checked below against `now`, so tests can move time.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<SessionClaims>(token, &key.decoding, &validation)
            .map_err(|err| SessionError::Invalid(err.to_string()))?
            .claims;
        if check_expiry && claims.exp <= now.as_micros() / 1_000_000 {
            return Err(SessionError::Invalid("expired".to_owned()));
        }
        Ok(claims)
    }

    /// Verifies a token's signature, expiry, issuer and audience, then that it was not logged
    /// out and that the user is still active at the token's epoch.
    pub fn verify(&self, token: &str) -> Result<(SessionClaims, Workspace, User), SessionError> {
        self.verify_at(token, Timestamp::now())
    }

    /// [`Sessions::verify`] as of `now` (the key and token expiries; revocation and the user's
    /// state are always read live).
    pub fn verify_at(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<(SessionClaims, Workspace, User), SessionError> {
        let claims = self.decode(token, now, true)?;
        if self.store.is_session_revoked(&claims.sid)? {
            return Err(SessionError::Ended);
        }
        let workspace_id = claims
            .wid
            .parse()
            .map_err(|_| SessionError::Invalid("workspace".to_owned()))?;
        let user_id = claims
            .sub
            .parse()
            .map_err(|_| SessionError::Invalid("subject".to_owned()))?;
        let workspace = self.store.workspace(workspace_id)?;
        let user = match self.store.user(workspace_id, user_id) {
            Ok(user) => user,
            Err(StoreError::NotFound { .. }) => return Err(SessionError::Ended),
            Err(err) => return Err(err.into()),
        };
        if !user.lifecycle.is_active() || user.session_epoch != claims.epoch {
            return Err(SessionError::Ended);
        }
        Ok((claims, workspace, user))
    }

    /// Ends the session of a (valid or expired-but-signed) token.
    pub fn revoke(&self, claims: &SessionClaims) -> Result<(), SessionError> {
        self.store
            .revoke_session(&claims.sid, Timestamp::from_micros(claims.exp * 1_000_000))?;
        Ok(())
    }
}

/// The CSRF token of a session: derived from its id, which only the (HttpOnly) cookie and the
/// server know, so another site can neither read nor compute it.
pub fn csrf_token(session_id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(
        format!("roster-csrf:{session_id}").as_bytes(),
    ))
}

/// A verified, live session (signature, expiry, not logged out, user active at its epoch), as
/// the admin crate accepts it for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPrincipal {
    pub workspace_id: roster_store::domain::WorkspaceId,
    pub user_id: roster_store::domain::UserId,
    /// The session id (unique per login).
    pub session_id: String,
    /// The login went through an IdP (not a local password).
    pub via_sso: bool,
    /// The value cookie-authenticated writes must echo in `X-CSRF-Token`.
    pub csrf_token: String,
}

impl Sessions {
    /// Verifies a session token; `None` for anything but a live session.
    pub fn verify_session(&self, token: &str) -> Option<SessionPrincipal> {
        let (claims, workspace, user) = self.verify(token).ok()?;
        Some(SessionPrincipal {
            workspace_id: workspace.id,
            user_id: user.id,
            csrf_token: csrf_token(&claims.sid),
            session_id: claims.sid,
            via_sso: claims.cid != "password",
        })
    }
}

fn uuid_like() -> Result<String, SessionError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|err| SessionError::Key(err.to_string()))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> SessionClaims {
        SessionClaims {
            iss: "http://roster.test".into(),
            aud: SESSION_AUDIENCE.into(),
            sub: "user".into(),
            sid: "sid".into(),
            wid: "workspace".into(),
            workspace: "acme".into(),
            roles: vec!["member".into()],
            epoch: 0,
            cid: "connection".into(),
            iat: 1_900_000_000,
            exp: 1_900_003_600,
            acr: None,
            amr: vec![],
        }
    }

    /// What OpenSSL signs, jsonwebtoken verifies with the key's published JWK; a token whose
    /// claims were changed after signing does not verify.
    #[test]
    fn tokens_signed_with_openssl_verify_with_the_published_key() {
        let record = generate_key().unwrap();
        let signer = SessionSigner::from_pem(&record.private_pem).unwrap();
        let token = signer.sign(&record.kid, &claims()).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&record.public_jwk).unwrap();
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&[SESSION_AUDIENCE]);
        validation.validate_exp = false;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(record.kid.as_str()));
        let decoded = jsonwebtoken::decode::<SessionClaims>(&token, &key, &validation).unwrap();
        assert_eq!(decoded.claims.roles, ["member"]);

        let forged = {
            let mut changed = claims();
            changed.roles = vec!["owner".into()];
            let other = signer.sign(&record.kid, &changed).unwrap();
            let parts: Vec<&str> = token.split('.').collect();
            let other_parts: Vec<&str> = other.split('.').collect();
            format!("{}.{}.{}", parts[0], other_parts[1], parts[2])
        };
        assert!(jsonwebtoken::decode::<SessionClaims>(&forged, &key, &validation).is_err());
        assert!(SessionSigner::from_pem("not a key").is_err());
    }
}
