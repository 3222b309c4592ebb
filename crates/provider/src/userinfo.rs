//! The userinfo endpoint (OpenID Connect Core §5.3): the claims of the access token's scopes,
//! as they are now.
//!
//! The token is verified offline first (signature, `typ: at+jwt`, issuer, expiry; a per-replica
//! cache makes a repeat cost a hash), then the store's read-only liveness check: the grant is
//! not revoked, the user is active, and the user's session epoch is the one the token was issued
//! under. So a deactivated, deprovisioned or signed-out user's token stops answering at once,
//! although a product's API verifying it offline accepts it until its `exp` (5 minutes).

use roster_store::domain::Timestamp;
use roster_store::GrantNotLive;

use crate::token::user_claims;
use crate::tokens::{ScopedClaims, TokenRefusal};
use crate::{ProviderError, ProviderState};

/// The bearer token of an `Authorization` header (RFC 6750 §2.1).
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The claims `token` may read at `now` (blocking: keys and store).
pub fn userinfo(
    state: &ProviderState,
    token: Option<&str>,
    now: Timestamp,
) -> Result<ScopedClaims, ProviderError> {
    let token = token.ok_or(ProviderError::InvalidToken(TokenRefusal::Malformed))?;
    let keys = state.verifying_keys(now)?;
    let claims = state
        .access_tokens
        .verify(token, &keys, state.issuer(), now)?;
    let subject = state
        .store
        .oauth_grant_subject(&claims.grant_id, Some(claims.session_epoch))?
        .map_err(ProviderError::GrantNotLive)?;
    if subject.grant.client_id != claims.client_id || subject.grant.user_id != claims.sub {
        return Err(ProviderError::GrantNotLive(GrantNotLive::Unknown));
    }
    let scopes: Vec<&str> = claims.scope.split_whitespace().collect();
    let user = user_claims(&subject);
    Ok(user.scoped(&scopes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn only_a_bearer_header_carries_a_token() {
        for (header, expected) in [
            (Some("Bearer abc.def"), Some("abc.def")),
            (Some("bearer  abc"), Some("abc")),
            (Some("Bearer "), None),
            (Some("Basic abc"), None),
            (Some("abc"), None),
            (None, None),
        ] {
            assert_eq!(bearer_token(header), expected, "{header:?}");
        }
    }
}
