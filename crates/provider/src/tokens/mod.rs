//! The tokens the provider mints and checks: ID tokens (OpenID Connect Core §2), access tokens
//! (RFC 9068 JWTs), logout tokens (Back-Channel Logout 1.0 §2.4) and `id_token_hint`s
//! (RP-Initiated Logout 1.0 §2).
//!
//! Everything here is a pure function of its inputs — the claims, a signing or verifying key,
//! and the clock read once by the caller (`now`) — so the rules are tested without a server and
//! an `iat` is never in the future (the clock is floored to the second, never rounded up).
//! Products verify these tokens with their own libraries, so the tests check each minted token
//! with independent ones (`jsonwebtoken`, `openidconnect`).
//!
//! Each token type has its own `typ` header (`JWT`, `at+jwt`, `logout+jwt`) and every
//! verification here requires the one it expects, so one kind of token is never accepted as
//! another (an access token as an `id_token_hint`: thunder-id/thunderid#4990).

mod access_token;
mod hint;
mod id_token;
mod jws;
mod logout_token;

pub use access_token::{
    mint_access_token, verify_access_token, AccessTokenCache, AccessTokenClaims, AccessTokenInput,
    ACCESS_TOKEN_LIFETIME_SECS, ACCESS_TOKEN_TYP, DEFAULT_ACCESS_TOKEN_ALG,
};
pub use hint::{verify_id_token_hint, HintDecision, IdTokenHint};
pub use id_token::{
    app_sid, id_token_claims, mint_id_token, IdTokenClaims, IdTokenInput, ScopedClaims, UserClaims,
    ID_TOKEN_ATTRIBUTES_BUDGET_BYTES, ID_TOKEN_LIFETIME_SECS, ID_TOKEN_LIST_BUDGET_BYTES,
    ID_TOKEN_TYP,
};
pub use jws::{Header, SigningKey, VerifyingKey};
pub use logout_token::{
    mint_logout_token, LogoutTokenClaims, LogoutTokenInput, BACKCHANNEL_LOGOUT_EVENT,
    LOGOUT_TOKEN_LIFETIME_SECS, LOGOUT_TOKEN_TYP,
};

use roster_store::domain::Timestamp;

/// Why a token presented to Roster was not accepted. The reason is for logs and tests; callers
/// answer every one the same way (`invalid_token`), so a caller learns nothing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("not a compact JWS with JSON header and claims")]
    Malformed,
    #[error("no kid, or a kid that is not one of the provider's keys")]
    UnknownKey,
    #[error("the header's alg is not the algorithm its key was registered with")]
    WrongAlgorithm,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the typ header is not the one this token kind carries")]
    WrongType,
    #[error("the iss claim is not this provider")]
    WrongIssuer,
    #[error("expired")]
    Expired,
}

/// `now` in whole seconds since the epoch, floored so `iat` is never ahead of the clock.
pub(crate) fn seconds(now: Timestamp) -> i64 {
    now.as_micros().div_euclid(1_000_000)
}

/// A fresh random `jti`: 128 bits, hex.
pub(crate) fn new_jti() -> Result<String, crate::ProviderError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|err| crate::ProviderError::Key(err.to_string()))?;
    Ok(hex::encode(bytes))
}

impl From<TokenRefusal> for crate::ProviderError {
    fn from(refusal: TokenRefusal) -> Self {
        crate::ProviderError::InvalidToken(refusal)
    }
}
