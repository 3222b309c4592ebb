//! The revocation endpoint (RFC 7009): an app ends a sign-in it holds by presenting its refresh
//! token or one of its access tokens, e.g. when the user signs out of the product.
//!
//! Roster revokes the *grant* behind the token, with the reason `client_revoked`: the refresh
//! family stops, and the grant's access tokens stop at userinfo at once (a product's API that
//! verifies them offline accepts them until their `exp`, at most 5 minutes). The client must
//! authenticate as at the token endpoint, and only its own grants are touched. Unknown, expired
//! or another app's tokens are answered 200 like the rest (§2.2), so the endpoint tells a caller
//! nothing about tokens it does not hold.

use std::net::IpAddr;

use roster_store::domain::{Actor, Timestamp};
use roster_store::{RevokeReason, StoreError};

use crate::token::{client_of, parse_form};
use crate::{ProviderError, ProviderState};

/// Revokes what the request's `token` names, for the authenticated client (blocking: store).
pub fn revoke(
    state: &ProviderState,
    authorization: Option<&str>,
    body: &[u8],
    address: Option<IpAddr>,
    now: Timestamp,
) -> Result<(), ProviderError> {
    let form = parse_form(body)?;
    let app = client_of(state, authorization, &form, address, now)?;
    let token = form
        .get("token")
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ProviderError::InvalidRequest("the token parameter is required".to_owned())
        })?;
    let actor = Actor::System;
    // `token_type_hint` is only a hint (§2.1): an access token of ours names its grant, and
    // anything else is looked up as a refresh token.
    let keys = state.verifying_keys(now)?;
    if let Ok(claims) = state
        .access_tokens
        .verify(token, &keys, state.issuer(), now)
    {
        if claims.client_id == app.client_id {
            match state.store.revoke_oauth_grant(
                &actor,
                &claims.grant_id,
                RevokeReason::ClientRevoked,
                now,
            ) {
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        return Ok(());
    }
    state
        .store
        .revoke_grant_of_refresh_token(&actor, token, &app.client_id, now)?;
    Ok(())
}
