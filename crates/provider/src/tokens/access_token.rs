//! Access tokens: RFC 9068 JWTs, so a product's API can verify them offline with the JWKS.
//!
//! They live [`ACCESS_TOKEN_LIFETIME_SECS`] (5 minutes): an API that verifies offline learns of
//! a deactivated user only at expiry, whereas userinfo checks the user and grant on every call.
//! The audience is the app's `client_id` (Roster takes no `resource` parameter, so the product
//! is the resource its tokens are for, RFC 9068 §3).
//!
//! **Algorithm.** The caller passes the key: RS256 ([`DEFAULT_ACCESS_TOKEN_ALG`]) is what
//! RFC 9068 §2.1 requires every resource server to support, and is the default. RSA-2048 signing costs ~1,400/s per core
//! here, so a code exchange that signs an RS256 ID token and an RS256 access token tops out near
//! 700/s per core on signing alone; an ES256 key (~40,000 signatures/s) is accepted too for apps
//! whose APIs verify ES256. Verification takes the algorithm from our key's registration.
//!
//! Userinfo verifies the same tokens again and again; [`AccessTokenCache`] keeps each verified
//! token's claims, keyed by SHA-256 of the token, until its `exp`, so a hit costs a hash instead
//! of a signature check (ES256 verification is ~3× slower than RS256).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use roster_store::domain::Timestamp;
use roster_store::SigningAlg;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::jws::{self, SigningKey, VerifyingKey};
use super::{new_jti, seconds, TokenRefusal};
use crate::ProviderError;

/// The `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The algorithm of access tokens unless an app asks otherwise: RS256, which every RFC 9068
/// resource server supports.
pub const DEFAULT_ACCESS_TOKEN_ALG: SigningAlg = SigningAlg::Rs256;

/// How long an access token is valid.
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 300;

/// The claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub exp: i64,
    pub aud: String,
    pub sub: String,
    pub client_id: String,
    pub iat: i64,
    pub jti: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The app's `sid` of the session that signed in, so userinfo can tell a signed-out session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The grant the token was issued under, so userinfo can tell a revoked one.
    pub grant_id: String,
    /// The user's session epoch at issue, so userinfo can tell a "sign out everywhere".
    pub session_epoch: i64,
}

/// What an access token is minted from.
#[derive(Debug, Clone)]
pub struct AccessTokenInput<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The Roster user id.
    pub sub: &'a str,
    pub scopes: &'a [&'a str],
    pub sid: Option<&'a str>,
    pub grant_id: &'a str,
    pub session_epoch: i64,
}

/// A fresh access token (new `jti`) minted at `now`, and its claims.
pub fn mint_access_token(
    input: &AccessTokenInput<'_>,
    key: &SigningKey,
    now: Timestamp,
) -> Result<(String, AccessTokenClaims), ProviderError> {
    let iat = seconds(now);
    let claims = AccessTokenClaims {
        iss: input.issuer.to_owned(),
        exp: iat + ACCESS_TOKEN_LIFETIME_SECS,
        aud: input.client_id.to_owned(),
        sub: input.sub.to_owned(),
        client_id: input.client_id.to_owned(),
        iat,
        jti: new_jti()?,
        scope: input.scopes.join(" "),
        sid: input.sid.map(str::to_owned),
        grant_id: input.grant_id.to_owned(),
        session_epoch: input.session_epoch,
    };
    Ok((key.sign(ACCESS_TOKEN_TYP, &claims)?, claims))
}

/// Whether `typ` names an access token (RFC 9068 §4: `at+jwt`, or with its `application/`
/// prefix; media types compare case-insensitively).
fn is_access_token_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|typ| {
        let typ = typ.to_ascii_lowercase();
        typ == ACCESS_TOKEN_TYP || typ == "application/at+jwt"
    })
}

/// The claims of `token` if it is a live access token of this provider: signed by one of
/// `keys` with that key's registered algorithm, `typ` `at+jwt`, `iss` = `issuer`, `exp` after
/// `now`. Whether the user and grant are still good is the caller's next question.
pub fn verify_access_token(
    token: &str,
    keys: &[VerifyingKey],
    issuer: &str,
    now: Timestamp,
) -> Result<AccessTokenClaims, TokenRefusal> {
    let verified = jws::verify(token, keys)?;
    if !is_access_token_typ(verified.header.typ.as_deref()) {
        return Err(TokenRefusal::WrongType);
    }
    let claims =
        AccessTokenClaims::deserialize(&verified.claims).map_err(|_| TokenRefusal::Malformed)?;
    if claims.iss != issuer {
        return Err(TokenRefusal::WrongIssuer);
    }
    if claims.exp <= seconds(now) {
        return Err(TokenRefusal::Expired);
    }
    Ok(claims)
}

/// Verified access tokens of this replica, by SHA-256 of the token, until their `exp`. Only
/// successes are kept; an entry is never used at or after its token's `exp`.
#[derive(Debug, Clone)]
pub struct AccessTokenCache {
    capacity: usize,
    entries: Arc<Mutex<HashMap<[u8; 32], Arc<AccessTokenClaims>>>>,
}

impl AccessTokenCache {
    /// A cache of at most `capacity` tokens (each entry is a few hundred bytes).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Arc::default(),
        }
    }

    /// [`verify_access_token`], answered from the cache when this token verified before and
    /// has not expired at `now`.
    pub fn verify(
        &self,
        token: &str,
        keys: &[VerifyingKey],
        issuer: &str,
        now: Timestamp,
    ) -> Result<Arc<AccessTokenClaims>, TokenRefusal> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now_secs = seconds(now);
        {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(claims) = entries.get(&digest) {
                if claims.exp > now_secs && claims.iss == issuer {
                    return Ok(Arc::clone(claims));
                }
            }
        }
        let claims = Arc::new(verify_access_token(token, keys, issuer, now)?);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, claims| claims.exp > now_secs);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(digest, Arc::clone(&claims));
        Ok(claims)
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
