//! Short-lived SSO state shared by every replica: pending logins, consumed SAML assertions and
//! revoked sessions (the keys that sign session tokens are in `session_keys.rs`). Revoking a
//! session also ends the OpenID Provider grants it gave apps (`oauth_grants.rs`).
//!
//! A pending login is consumed by deleting its row in a write transaction, so two replicas (or
//! a replayed callback) cannot both finish it. Expired rows are swept opportunistically by the
//! writes that add new ones, which keeps the tables small without a background job.

use diesel::prelude::*;
use roster_domain::{Actor, ConnectionId, Timestamp, WorkspaceId};
use subtle::ConstantTimeEq;

use crate::schema::{revoked_sessions, saml_replay, sso_requests};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// A login started at `/sso/{workspace}/login`, waiting for the IdP's answer.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sso_requests, treat_none_as_default_value = false)]
pub struct SsoRequest {
    /// The SAML AuthnRequest id, or the SHA-256 (hex) of the OIDC `state`.
    pub id: String,
    pub workspace_id: String,
    pub connection_id: String,
    /// SHA-256 (hex) of the browser-binding cookie of the browser that started the login.
    pub browser_hash: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    /// Same-origin relative path to land on after the login.
    pub return_to: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl SsoRequest {
    pub fn workspace(&self) -> StoreResult<WorkspaceId> {
        self.workspace_id
            .parse()
            .map_err(|_| StoreError::Corrupt("sso_requests: workspace id".to_owned()))
    }
}

/// Whether a stored browser hash is the presented one, compared in constant time.
pub(crate) fn same_browser(stored: &str, presented: &str) -> bool {
    stored.as_bytes().ct_eq(presented.as_bytes()).into()
}

impl Store {
    /// Records a pending login (and sweeps expired ones).
    pub fn begin_sso_request(&self, request: &SsoRequest) -> StoreResult<()> {
        self.write(|conn| {
            let now = Timestamp::now().as_micros();
            diesel::delete(sso_requests::table.filter(sso_requests::expires_at.lt(now)))
                .execute(conn)?;
            diesel::insert_into(sso_requests::table)
                .values(request)
                .execute(conn)?;
            Ok(())
        })
    }

    /// Consumes the pending login `id` of `connection_id` if the same browser started it and it
    /// has not expired. `None` when it is unknown, expired, already used, or another browser's
    /// (a request presented by another browser is left for its owner).
    pub fn take_sso_request(
        &self,
        connection_id: ConnectionId,
        id: &str,
        browser_hash: &str,
    ) -> StoreResult<Option<SsoRequest>> {
        self.write(|conn| {
            let found: Option<SsoRequest> = sso_requests::table
                .filter(sso_requests::id.eq(id))
                .filter(sso_requests::connection_id.eq(connection_id.to_string()))
                .select(SsoRequest::as_select())
                .get_result(conn)
                .optional()?;
            let Some(request) = found else {
                return Ok(None);
            };
            if !same_browser(&request.browser_hash, browser_hash) {
                return Ok(None);
            }
            diesel::delete(sso_requests::table.filter(sso_requests::id.eq(id))).execute(conn)?;
            if request.expires_at < Timestamp::now().as_micros() {
                return Ok(None);
            }
            Ok(Some(request))
        })
    }

    /// The pending SAML request ids this browser has at this connection (for InResponseTo).
    pub fn pending_sso_requests(
        &self,
        connection_id: ConnectionId,
        browser_hash: &str,
    ) -> StoreResult<Vec<String>> {
        let now = Timestamp::now().as_micros();
        self.read(|conn| {
            Ok(sso_requests::table
                .filter(sso_requests::connection_id.eq(connection_id.to_string()))
                .filter(sso_requests::browser_hash.eq(browser_hash))
                .filter(sso_requests::expires_at.ge(now))
                .select(sso_requests::id)
                .load(conn)?)
        })
    }

    /// Records a consumed assertion id; `false` when it was consumed before (a replay).
    pub fn consume_assertion(
        &self,
        connection_id: ConnectionId,
        assertion_id: &str,
        expires_at: Timestamp,
    ) -> StoreResult<bool> {
        self.write(|conn| consume_in(conn, connection_id, assertion_id, expires_at))
    }

    /// Whether `assertion_id` was consumed at `connection_id` already (a replay); reads only.
    pub fn assertion_consumed(
        &self,
        connection_id: ConnectionId,
        assertion_id: &str,
    ) -> StoreResult<bool> {
        self.read(|conn| seen(conn, connection_id, assertion_id))
    }

    /// Ends a session before its expiry (`POST /logout`, RP-initiated logout), and in the same
    /// transaction ends it at the apps it signed into: each gets a back-channel logout, and the
    /// OpenID Provider grants that came from the session are revoked except `offline_access`
    /// ones (Back-Channel Logout §2.7).
    pub fn revoke_session(&self, session_id: &str, expires_at: Timestamp) -> StoreResult<()> {
        self.write(|conn| {
            let ended = Timestamp::now();
            super::oauth_grants::revoke_session_grants(conn, &Actor::System, session_id, ended)?;
            let now = ended.as_micros();
            diesel::delete(revoked_sessions::table.filter(revoked_sessions::expires_at.lt(now)))
                .execute(conn)?;
            let exists: i64 = revoked_sessions::table
                .filter(revoked_sessions::session_id.eq(session_id))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                diesel::insert_into(revoked_sessions::table)
                    .values((
                        revoked_sessions::session_id.eq(session_id),
                        revoked_sessions::expires_at.eq(expires_at.as_micros()),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    pub fn is_session_revoked(&self, session_id: &str) -> StoreResult<bool> {
        self.read(|conn| {
            let count: i64 = revoked_sessions::table
                .filter(revoked_sessions::session_id.eq(session_id))
                .count()
                .get_result(conn)?;
            Ok(count > 0)
        })
    }
}

fn seen(
    conn: &mut DbConnection,
    connection_id: ConnectionId,
    assertion_id: &str,
) -> StoreResult<bool> {
    let count: i64 = saml_replay::table
        .filter(saml_replay::connection_id.eq(connection_id.to_string()))
        .filter(saml_replay::assertion_id.eq(assertion_id))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Records a consumed assertion id on `conn` (dropping expired ones); `false` when it was
/// consumed before. On PostgreSQL a `false` from a concurrent insert leaves the transaction
/// aborted: callers roll back on it.
pub(crate) fn consume_in(
    conn: &mut DbConnection,
    connection_id: ConnectionId,
    assertion_id: &str,
    expires_at: Timestamp,
) -> StoreResult<bool> {
    let now = Timestamp::now().as_micros();
    diesel::delete(saml_replay::table.filter(saml_replay::expires_at.lt(now))).execute(conn)?;
    if seen(conn, connection_id, assertion_id)? {
        return Ok(false);
    }
    match diesel::insert_into(saml_replay::table)
        .values((
            saml_replay::connection_id.eq(connection_id.to_string()),
            saml_replay::assertion_id.eq(assertion_id),
            saml_replay::expires_at.eq(expires_at.as_micros()),
        ))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(err) => Err(err.into()),
    }
}
