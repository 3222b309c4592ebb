//! Authorization codes: single use, short-lived, and bound to their request.
//!
//! A code is stored as its SHA-256, with the redirect URI, PKCE challenge and nonce of the
//! request it answers. Redemption checks the client, the redirect URI and the verifier first,
//! then marks the code used with one conditional `UPDATE ... WHERE used_at IS NULL AND
//! expires_at > now`: exactly one of any number of concurrent redemptions changes a row. A code
//! presented again revokes its grant, and with it what the first redemption issued.

use diesel::prelude::*;

use crate::schema::oauth_codes;

/// An authorization code, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_codes, treat_none_as_null = true)]
pub struct OAuthCode {
    /// SHA-256 (hex) of the code.
    pub code_hash: String,
    pub grant_id: String,
    /// The redirect URI of the authorization request; the token request must repeat it.
    pub redirect_uri: String,
    /// The PKCE S256 challenge; `None` when the request had none (a verifier is then refused).
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}
