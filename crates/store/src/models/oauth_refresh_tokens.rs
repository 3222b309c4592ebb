//! Refresh tokens: rotated at every use, with reuse detection.
//!
//! A refresh token is stored as its SHA-256. Using one marks it used and issues a child in the
//! same grant (`parent_hash` links them); a used token presented again means two parties hold
//! the family, so the whole grant is revoked.

use diesel::prelude::*;

use roster_domain::{Actor, SecretToken, Timestamp};

use super::oauth_grants::{
    audit_grant_event, bearer_hash, generate_bearer, load_grant, revoke_grant, InvalidGrant,
    OAuthGrant, RevokeReason,
};
use crate::schema::{oauth_refresh_tokens, users};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// A refresh token, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_refresh_tokens, treat_none_as_default_value = false)]
pub struct OAuthRefreshToken {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    pub grant_id: String,
    /// The token this one replaced (`None` for the first of its grant).
    pub parent_hash: Option<String>,
    /// Scopes of the tokens it yields, space-separated (at most the grant's).
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// How long a refresh token is valid after it was issued (each rotation starts a new one).
pub const REFRESH_TOKEN_TTL_SECONDS: i64 = 30 * 24 * 3600;

/// A rotated refresh token: the grant to mint tokens for, the user's session epoch, the scope of
/// the new tokens, and the child token (returned once).
#[derive(Debug)]
pub struct RotatedRefreshToken {
    pub grant: OAuthGrant,
    pub session_epoch: i64,
    pub scope: String,
    pub refresh_token: SecretToken,
}

/// Issues a refresh token of a grant inside the caller's transaction; only its SHA-256 is stored.
pub(crate) fn insert_refresh_token(
    conn: &mut DbConnection,
    grant: &OAuthGrant,
    parent_hash: Option<&str>,
    scope: &str,
    now: Timestamp,
) -> StoreResult<SecretToken> {
    let token = generate_bearer()?;
    diesel::insert_into(oauth_refresh_tokens::table)
        .values(&OAuthRefreshToken {
            token_hash: token.hash().0,
            grant_id: grant.id.clone(),
            parent_hash: parent_hash.map(str::to_owned),
            scope: scope.to_owned(),
            created_at: now.as_micros(),
            expires_at: now.plus_seconds(REFRESH_TOKEN_TTL_SECONDS).as_micros(),
            used_at: None,
        })
        .execute(conn)?;
    Ok(token)
}

/// Whether this refresh token may be used by this client now, for `requested_scope` (`None`:
/// the token's own scope). Another client's token is refused without touching it; a used one
/// means the family leaked (the caller revokes the grant).
pub fn refresh_usable(
    token: &OAuthRefreshToken,
    grant: &OAuthGrant,
    client_id: &str,
    requested_scope: Option<&str>,
    now: Timestamp,
) -> Result<(), InvalidGrant> {
    if grant.client_id != client_id {
        return Err(InvalidGrant::WrongClient);
    }
    if grant.revoked_at.is_some() {
        return Err(InvalidGrant::GrantRevoked);
    }
    if token.used_at.is_some() {
        return Err(InvalidGrant::RefreshTokenReused);
    }
    if token.expires_at <= now.as_micros() {
        return Err(InvalidGrant::Expired);
    }
    if let Some(requested) = requested_scope {
        let held: Vec<&str> = token.scope.split_whitespace().collect();
        if requested
            .split_whitespace()
            .any(|scope| !held.contains(&scope))
        {
            return Err(InvalidGrant::ScopeWidened);
        }
    }
    Ok(())
}

impl Store {
    /// RFC 7009 for a refresh token: revokes the grant the presented token belongs to, when that
    /// grant is `client_id`'s, with the reason `client_revoked` (its access tokens then stop at
    /// userinfo, and the whole refresh family with it). `Ok(false)` for an unknown token, another
    /// app's (left alone: §2.1) or an already revoked grant; the endpoint answers 200 either way.
    pub fn revoke_grant_of_refresh_token(
        &self,
        actor: &Actor,
        presented: &str,
        client_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let token_hash = bearer_hash(presented);
        self.write(|conn| {
            let Some(grant_id) = oauth_refresh_tokens::table
                .find(&token_hash)
                .select(oauth_refresh_tokens::grant_id)
                .get_result::<String>(conn)
                .optional()?
            else {
                return Ok(false);
            };
            match load_grant(conn, &grant_id)? {
                Some(grant) if grant.client_id == client_id => {
                    revoke_grant(conn, actor, &grant, RevokeReason::ClientRevoked, now)
                }
                Some(_) | None => Ok(false),
            }
        })
    }

    /// Uses a refresh token at `now` (K3): marks it used with one conditional UPDATE and issues
    /// its child in the same transaction. A used token presented again revokes the whole grant
    /// (committed: the refusal is `Ok(Err(_))`). Audited as `oauth_grant.refreshed`.
    pub fn rotate_refresh_token(
        &self,
        actor: &Actor,
        presented: &str,
        client_id: &str,
        requested_scope: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<Result<RotatedRefreshToken, InvalidGrant>> {
        let token_hash = bearer_hash(presented);
        self.write(|conn| {
            let Some(token) = oauth_refresh_tokens::table
                .find(&token_hash)
                .select(OAuthRefreshToken::as_select())
                .get_result(conn)
                .optional()?
            else {
                return Ok(Err(InvalidGrant::Unknown));
            };
            let grant = load_grant(conn, &token.grant_id)?.ok_or_else(|| {
                StoreError::Corrupt("oauth_refresh_tokens: grant missing".to_owned())
            })?;
            match refresh_usable(&token, &grant, client_id, requested_scope, now) {
                Ok(()) => {}
                Err(InvalidGrant::RefreshTokenReused) => {
                    revoke_grant(conn, actor, &grant, RevokeReason::RefreshTokenReuse, now)?;
                    return Ok(Err(InvalidGrant::RefreshTokenReused));
                }
                Err(refused) => return Ok(Err(refused)),
            }
            let consumed = diesel::update(
                oauth_refresh_tokens::table
                    .filter(oauth_refresh_tokens::token_hash.eq(&token_hash))
                    .filter(oauth_refresh_tokens::used_at.is_null()),
            )
            .set(oauth_refresh_tokens::used_at.eq(Some(now.as_micros())))
            .execute(conn)?;
            if consumed != 1 {
                revoke_grant(conn, actor, &grant, RevokeReason::RefreshTokenReuse, now)?;
                return Ok(Err(InvalidGrant::RefreshTokenReused));
            }
            let scope = requested_scope.unwrap_or(&token.scope).to_owned();
            let child = insert_refresh_token(conn, &grant, Some(&token_hash), &scope, now)?;
            let session_epoch: i64 = users::table
                .find(&grant.user_id)
                .select(users::session_epoch)
                .get_result(conn)?;
            audit_grant_event(conn, actor, "oauth_grant.refreshed", &grant)?;
            Ok(Ok(RotatedRefreshToken {
                grant,
                session_epoch,
                scope,
                refresh_token: child,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use roster_domain::Timestamp;

    use super::{refresh_usable, OAuthRefreshToken};
    use crate::{InvalidGrant, OAuthGrant};

    fn grant(revoked: bool) -> OAuthGrant {
        crate::models::oauth_grants::test_grant("openid email offline_access", true, revoked)
    }

    fn token(used: bool) -> OAuthRefreshToken {
        OAuthRefreshToken {
            token_hash: "h".into(),
            grant_id: "g".into(),
            parent_hash: None,
            scope: "openid email offline_access".into(),
            created_at: 0,
            expires_at: 100,
            used_at: used.then_some(1),
        }
    }

    #[test]
    fn which_refreshes_are_refused_and_in_what_order() {
        // (token used, grant revoked, client, scope, now, expected)
        let cases = [
            (false, false, "app", None, 99, Ok(())),
            (false, false, "app", Some("openid"), 0, Ok(())),
            (
                false,
                false,
                "app",
                Some("openid email offline_access"),
                0,
                Ok(()),
            ),
            (
                false,
                false,
                "app",
                Some("openid groups"),
                0,
                Err(InvalidGrant::ScopeWidened),
            ),
            (false, false, "app", None, 100, Err(InvalidGrant::Expired)),
            (
                true,
                false,
                "app",
                None,
                0,
                Err(InvalidGrant::RefreshTokenReused),
            ),
            // Another client learns nothing and changes nothing, whatever the token's state.
            (
                true,
                false,
                "other",
                None,
                0,
                Err(InvalidGrant::WrongClient),
            ),
            (
                false,
                true,
                "other",
                None,
                0,
                Err(InvalidGrant::WrongClient),
            ),
            // A revoked grant refuses before reuse would revoke it again.
            (true, true, "app", None, 0, Err(InvalidGrant::GrantRevoked)),
        ];
        for (used, revoked, client, scope, now, expected) in cases {
            assert_eq!(
                refresh_usable(
                    &token(used),
                    &grant(revoked),
                    client,
                    scope,
                    Timestamp::from_micros(now)
                ),
                expected,
                "{used} {revoked} {client} {scope:?} {now}"
            );
        }
    }
}
