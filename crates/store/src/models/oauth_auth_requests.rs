//! Authorization requests of the OpenID Provider waiting for the upstream login.
//!
//! `/oauth2/authorize` validates a product's request, stores it here and sends the browser to
//! the workspace's IdP; the upstream login's callback finds it again to issue the code. It is
//! bound to the browser that made it by the SHA-256 of a cookie (so a callback completed in
//! another browser issues nothing), found by the SHA-256 of its handle (the handle itself is
//! never stored), and consumed once.

use diesel::prelude::*;

use crate::schema::oauth_auth_requests;

/// A pending authorization request, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_auth_requests, treat_none_as_null = true)]
pub struct OAuthAuthRequest {
    /// SHA-256 (hex) of the request's handle.
    pub id: String,
    /// SHA-256 (hex) of the browser-binding cookie of the browser that made the request.
    pub browser_hash: String,
    pub client_id: String,
    /// The redirect URI as the product sent it (it matched a registered one).
    pub redirect_uri: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `prompt`, space-separated as sent (`none`, `login`, ...).
    pub prompt: Option<String>,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The workspace and connection the request names or discovery found.
    pub workspace_id: Option<String>,
    pub connection_id: Option<String>,
    /// The upstream login (`sso_requests.id`) started for it.
    pub upstream_request_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}
