//! Authorization requests of the OpenID Provider waiting for the upstream login.
//!
//! `/oauth2/authorize` validates a product's request, stores it here and sends the browser to
//! the workspace's IdP; the upstream login's callback finds it again to issue the code. It is
//! bound to the browser that made it by the SHA-256 of a cookie (so a callback completed in
//! another browser issues nothing), found by the SHA-256 of its handle (the handle itself is
//! never stored), and consumed once.

use diesel::prelude::*;
use roster_domain::Timestamp;

use super::sso_state::same_browser;
use crate::schema::oauth_auth_requests;
use crate::{Store, StoreResult};

/// A pending authorization request, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_auth_requests, treat_none_as_default_value = false)]
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
    /// The workspace the request names or discovery found, and the connection it names (then
    /// only a session through that connection answers it).
    pub workspace_id: Option<String>,
    pub connection_id: Option<String>,
    /// The upstream login (`sso_requests.id`) started for it.
    pub upstream_request_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

/// How long a product's user may take at the IdP before the request expires.
pub const AUTH_REQUEST_TTL_SECONDS: i64 = 10 * 60;

impl Store {
    /// Records an authorization request waiting for the upstream login (and sweeps expired
    /// ones, as `begin_sso_request` does).
    pub fn begin_oauth_auth_request(&self, request: &OAuthAuthRequest) -> StoreResult<()> {
        self.write(|conn| {
            diesel::delete(
                oauth_auth_requests::table
                    .filter(oauth_auth_requests::expires_at.lt(request.created_at)),
            )
            .execute(conn)?;
            diesel::insert_into(oauth_auth_requests::table)
                .values(request)
                .execute(conn)?;
            Ok(())
        })
    }

    /// Consumes the authorization request whose handle hashes to `id`, if the browser of
    /// `browser_hash` made it and it is unexpired at `now`. `None` when it is unknown, expired,
    /// consumed already, or another browser's (which is left for its owner): a handle that
    /// leaks to another browser issues nothing there.
    pub fn take_oauth_auth_request(
        &self,
        id: &str,
        browser_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<OAuthAuthRequest>> {
        self.write(|conn| {
            let found: Option<OAuthAuthRequest> = oauth_auth_requests::table
                .find(id)
                .select(OAuthAuthRequest::as_select())
                .get_result(conn)
                .optional()?;
            let Some(request) = found else {
                return Ok(None);
            };
            if !same_browser(&request.browser_hash, browser_hash) {
                return Ok(None);
            }
            let consumed = diesel::update(
                oauth_auth_requests::table
                    .find(id)
                    .filter(oauth_auth_requests::consumed_at.is_null())
                    .filter(oauth_auth_requests::expires_at.gt(now.as_micros())),
            )
            .set(oauth_auth_requests::consumed_at.eq(Some(now.as_micros())))
            .execute(conn)?;
            Ok((consumed == 1).then_some(request))
        })
    }
}
