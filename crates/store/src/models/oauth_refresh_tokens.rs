//! Refresh tokens: rotated at every use, with reuse detection.
//!
//! A refresh token is stored as its SHA-256. Using one marks it used and issues a child in the
//! same grant (`parent_hash` links them); a used token presented again means two parties hold
//! the family, so the whole grant is revoked.

use diesel::prelude::*;

use crate::schema::oauth_refresh_tokens;

/// A refresh token, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_refresh_tokens, treat_none_as_null = true)]
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
