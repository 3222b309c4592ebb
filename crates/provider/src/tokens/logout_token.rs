//! The logout token of OpenID Connect Back-Channel Logout 1.0 §2.4, with the errata's `exp`.
//!
//! Invariants (OP28), each held by construction: header `typ: logout+jwt`; claims `iss`, `aud`,
//! `iat`, `exp` = `iat` + 2 minutes, a `jti` fresh on every mint, the back-channel `events`
//! member, `sub` always (Roster always knows the user) and `sid` when a session is known, and
//! never `nonce`. Mint it when the delivery is *attempted*, not when it is queued, so a retry
//! carries a live `exp` and a new `jti` (K1).

use roster_store::domain::Timestamp;
use serde::{Deserialize, Serialize};

use super::jws::SigningKey;
use super::{new_jti, seconds};
use crate::ProviderError;

/// The `typ` header of logout tokens (IANA-registered by Back-Channel Logout 1.0).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// A logout token's lifetime: "at most two minutes" after `iat`.
pub const LOGOUT_TOKEN_LIFETIME_SECS: i64 = 120;

/// The event member that makes a JWT a logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// The `events` claim: `{"http://schemas.openid.net/event/backchannel-logout": {}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutEvents {
    #[serde(rename = "http://schemas.openid.net/event/backchannel-logout")]
    pub backchannel_logout: Empty,
}

/// The claims of a logout token. There is no `nonce` field, so none can be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub events: LogoutEvents,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Whom a logout token signs out of one app.
#[derive(Debug, Clone)]
pub struct LogoutTokenInput<'a> {
    pub issuer: &'a str,
    /// The app's client_id.
    pub client_id: &'a str,
    /// The Roster user id.
    pub sub: &'a str,
    /// The app's `sid` of the session that ended; `None` signs the user out of every session at
    /// the app (deprovisioning, "sign out everywhere": §2.4).
    pub sid: Option<&'a str>,
}

/// A fresh logout token (new `jti`, `exp` two minutes after `now`), and its claims.
pub fn mint_logout_token(
    input: &LogoutTokenInput<'_>,
    key: &SigningKey,
    now: Timestamp,
) -> Result<(String, LogoutTokenClaims), ProviderError> {
    let iat = seconds(now);
    let claims = LogoutTokenClaims {
        iss: input.issuer.to_owned(),
        aud: input.client_id.to_owned(),
        iat,
        exp: iat + LOGOUT_TOKEN_LIFETIME_SECS,
        jti: new_jti()?,
        events: LogoutEvents::default(),
        sub: input.sub.to_owned(),
        sid: input.sid.map(str::to_owned),
    };
    Ok((key.sign(LOGOUT_TOKEN_TYP, &claims)?, claims))
}
