//! The `id_token_hint` of RP-initiated logout (RP-Initiated Logout 1.0 §2–§6).
//!
//! A hint says which user and session the app wants signed out. It is accepted only if this
//! provider issued it as an ID token: one of our keys signed it with that key's registered
//! algorithm (so `alg: none` and HS256 keyed with the public key fail, OP24), `iss` is ours,
//! and `typ` is the ID token's `JWT` — never an access token's `at+jwt` or a logout token
//! (OP23). It is accepted **after** its `exp` (§2: apps keep ID tokens longer than they live,
//! OP25). What the hint then allows is [`HintDecision`]'s question.

use serde::Deserialize;

use super::id_token::ID_TOKEN_TYP;
use super::jws::{self, VerifyingKey};
use super::TokenRefusal;

/// What a verified hint says.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdTokenHint {
    pub sub: String,
    /// The app the ID token was issued to.
    pub aud: String,
    #[serde(default)]
    pub sid: Option<String>,
    pub exp: i64,
}

/// The claims that only other kinds of token carry; a hint with one of them is refused even if
/// its header says `JWT`.
#[derive(Deserialize)]
struct Foreign {
    #[serde(default)]
    client_id: Option<serde_json::Value>,
    #[serde(default)]
    events: Option<serde_json::Value>,
}

/// The hint's claims if this provider issued it as an ID token; `exp` is not checked.
pub fn verify_id_token_hint(
    token: &str,
    keys: &[VerifyingKey],
    issuer: &str,
) -> Result<IdTokenHint, TokenRefusal> {
    let verified = jws::verify(token, keys)?;
    if verified.header.typ.as_deref() != Some(ID_TOKEN_TYP) {
        return Err(TokenRefusal::WrongType);
    }
    let foreign = Foreign::deserialize(&verified.claims).map_err(|_| TokenRefusal::Malformed)?;
    if foreign.client_id.is_some() || foreign.events.is_some() {
        return Err(TokenRefusal::WrongType);
    }
    if verified.claims.get("iss").and_then(|iss| iss.as_str()) != Some(issuer) {
        return Err(TokenRefusal::WrongIssuer);
    }
    IdTokenHint::deserialize(&verified.claims).map_err(|_| TokenRefusal::Malformed)
}

/// What RP-initiated logout does with a verified hint (OP25, OP26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintDecision {
    /// The hint is the browser's current session: end it without asking.
    EndSession,
    /// The hint is another user's or another session's: ask the user before ending anything
    /// (logout CSRF, §6).
    Confirm,
    /// The request's `client_id` is not the hint's audience: refuse, redirect nowhere.
    Refuse,
}

impl IdTokenHint {
    /// The decision for a request naming `client_id` (if it did), in a browser whose session
    /// is `session`: its user id and that session's `sid` at the hint's app ([`super::app_sid`]).
    pub fn decide(&self, client_id: Option<&str>, session: Option<(&str, &str)>) -> HintDecision {
        if client_id.is_some_and(|client_id| client_id != self.aud) {
            return HintDecision::Refuse;
        }
        match session {
            Some((sub, sid)) if sub == self.sub && self.sid.as_deref() == Some(sid) => {
                HintDecision::EndSession
            }
            Some(_) | None => HintDecision::Confirm,
        }
    }
}
