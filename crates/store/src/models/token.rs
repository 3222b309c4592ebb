//! SCIM bearer tokens: only their SHA-256 is stored; the plaintext is returned once at creation.
//!
//! Authentication looks the token up by hash, compares the hash again in constant time, and
//! refuses expired tokens and tokens of revoked or SCIM-disabled connections. Revocation deletes
//! the row. What was accepted is kept for `scim.token_cache_secs` (1 s; `token_cache`): this
//! process forgets it when it commits a revocation, so the next request with that token is
//! refused; another replica refuses it within that time. Authentication only reads; the caller
//! moves `last_used_at` (at most once a minute) with [`Store::touch_scim_token`].

use std::time::Instant;

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, ConnectionId, ConnectionStatus, NewAuditEvent, SecretHash, SecretKind,
    SecretToken, Timestamp, TokenId, WorkspaceId,
};

use super::token_cache::CachedToken;
use super::{corrupt, record_audit};
use crate::db::on_backend;
use crate::schema::{connections, scim_tokens};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// A token as listed to admins (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimTokenInfo {
    pub id: TokenId,
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    pub name: String,
    /// The first characters of the token, to tell tokens apart.
    pub hint: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// Who a valid SCIM token speaks for.
#[derive(Debug, Clone)]
pub struct ScimPrincipal {
    pub token_id: TokenId,
    pub connection: ScimConnection,
    /// The token's `last_used_at` is older than its resolution: [`Store::touch_scim_token`] is
    /// due (authentication itself writes nothing, so it can run as a plain read).
    pub last_used_stale: bool,
}

/// The connection a SCIM token acts for: what a SCIM request needs of it and no more. Every
/// SCIM request reads it, so the check selects these few columns, not the whole connection
/// (its JSON settings, domains and names cost more to decode than the rest of a `GET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimConnection {
    pub id: ConnectionId,
    pub workspace_id: WorkspaceId,
    /// Refuse SCIM changes of immutable attributes instead of ignoring them (see `Connection`).
    pub strict_immutability: bool,
    /// The workspace's custom attributes and their SCIM sources at this connection (read with
    /// the token, so cached with it; a declaration or mapping change empties the cache).
    pub attributes: std::sync::Arc<Vec<super::attributes::AttributeMapping>>,
}

/// The columns the token check reads, in select order.
#[derive(Queryable)]
struct TokenCheckRow {
    token_id: String,
    token_hash: String,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    connection_id: String,
    workspace_id: String,
    connection_status: String,
    scim_enabled: bool,
    strict_immutability: bool,
    vendor: String,
}

/// Reads the token with `hash` and its connection: the token must exist and its connection
/// accept SCIM. Expiry is checked by [`principal`], at every request, cached or not.
fn check_token(
    conn: &mut DbConnection,
    hash: &SecretHash,
    checked: Instant,
) -> StoreResult<CachedToken> {
    // One row at most (the hash is unique); no `.first()`, see the `db` module docs.
    let found: Option<TokenCheckRow> = on_backend!(conn, |c| scim_tokens::table
        .inner_join(connections::table)
        .filter(scim_tokens::token_hash.eq(&hash.0))
        .select((
            scim_tokens::id,
            scim_tokens::token_hash,
            scim_tokens::expires_at,
            scim_tokens::last_used_at,
            connections::id,
            connections::workspace_id,
            connections::status,
            connections::scim_enabled,
            connections::strict_immutability,
            connections::vendor,
        ))
        .get_result(c)
        .optional())?;
    let Some(row) = found else {
        return Err(StoreError::Unauthorized);
    };
    if !SecretHash(row.token_hash).matches_hash(hash) {
        return Err(StoreError::Unauthorized);
    }
    let bad = corrupt("connections");
    let status = ConnectionStatus::parse(&row.connection_status).map_err(&bad)?;
    if !status.accepts_scim(row.scim_enabled) {
        return Err(StoreError::Forbidden {
            reason: "SCIM provisioning is turned off for this connection",
        });
    }
    let connection_id = row.connection_id.parse().map_err(&bad)?;
    let workspace_id = row.workspace_id.parse().map_err(&bad)?;
    let vendor = roster_domain::Vendor::parse(&row.vendor).map_err(&bad)?;
    let attributes = super::attributes::load_mappings(
        conn,
        workspace_id,
        connection_id,
        vendor,
        roster_domain::attributes::Protocol::Scim,
    )?;
    Ok(CachedToken {
        token_id: row.token_id.parse().map_err(corrupt("scim_tokens"))?,
        connection: ScimConnection {
            id: connection_id,
            workspace_id,
            strict_immutability: row.strict_immutability,
            attributes: std::sync::Arc::new(attributes),
        },
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        checked,
    })
}

/// The principal of a token the database accepted, unless it has expired since.
fn principal(token: CachedToken, now: Timestamp) -> StoreResult<ScimPrincipal> {
    if token.expires_at.is_some_and(|at| at <= now.as_micros()) {
        return Err(StoreError::Unauthorized);
    }
    let stale_before = now.plus_seconds(-LAST_USED_RESOLUTION_SECONDS).as_micros();
    Ok(ScimPrincipal {
        token_id: token.token_id,
        connection: token.connection,
        last_used_stale: token.last_used_at.is_none_or(|at| at < stale_before),
    })
}

#[derive(Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = scim_tokens)]
pub(crate) struct TokenRow {
    pub(crate) id: String,
    pub(crate) workspace_id: String,
    pub(crate) connection_id: String,
    pub(crate) name: String,
    pub(crate) token_hash: String,
    pub(crate) hint: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
}

impl TokenRow {
    fn info(&self) -> StoreResult<ScimTokenInfo> {
        let bad = corrupt("scim_tokens");
        Ok(ScimTokenInfo {
            id: self.id.parse().map_err(&bad)?,
            workspace_id: self.workspace_id.parse().map_err(&bad)?,
            connection_id: self.connection_id.parse().map_err(&bad)?,
            name: self.name.clone(),
            hint: self.hint.clone(),
            created_at: Timestamp::from_micros(self.created_at),
            expires_at: self.expires_at.map(Timestamp::from_micros),
            last_used_at: self.last_used_at.map(Timestamp::from_micros),
        })
    }
}

/// `last_used_at` is refreshed at most this often, so authentication is not a write per request.
const LAST_USED_RESOLUTION_SECONDS: i64 = 60;

/// A `scim_token.*` event (the token's id, connection, name and hint; never the secret).
#[expect(clippy::too_many_arguments, reason = "one flat event record")]
pub(crate) fn token_event(
    conn: &mut DbConnection,
    actor: &Actor,
    workspace_id: WorkspaceId,
    event_type: &'static str,
    id: &str,
    connection_id: &str,
    name: &str,
    hint: &str,
) -> StoreResult<()> {
    super::events::record_event(
        conn,
        super::events::NewEvent {
            workspace_id,
            event_type,
            actor,
            resource_kind: "scim_token",
            resource_id: id.to_owned(),
            resource: serde_json::json!({ "id": id, "connectionId": connection_id, "name": name, "hint": hint }),
            changed: None,
        },
    )
}

impl Store {
    /// Creates a token for a connection of the workspace; returns it once in plaintext.
    pub fn create_scim_token(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        connection_id: ConnectionId,
        name: &str,
        expires_at: Option<Timestamp>,
    ) -> StoreResult<(ScimTokenInfo, SecretToken)> {
        let secret = SecretToken::generate(SecretKind::ScimToken)?;
        let row = TokenRow {
            id: TokenId::new().to_string(),
            workspace_id: workspace_id.to_string(),
            connection_id: connection_id.to_string(),
            name: name.to_owned(),
            token_hash: secret.hash().0,
            hint: secret.hint(),
            created_at: Timestamp::now().as_micros(),
            expires_at: expires_at.map(|at| at.as_micros()),
            last_used_at: None,
        };
        self.write(|conn| {
            let owned: i64 = connections::table
                .filter(connections::workspace_id.eq(workspace_id.to_string()))
                .filter(connections::id.eq(connection_id.to_string()))
                .count()
                .get_result(conn)?;
            if owned == 0 {
                return Err(StoreError::NotFound { what: "connection" });
            }
            diesel::insert_into(scim_tokens::table)
                .values(&row)
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("scim_token.created"),
                    target_kind: "scim_token",
                    target_id: row.id.clone(),
                    detail: serde_json::json!({
                        "connection_id": row.connection_id,
                        "name": row.name,
                        "hint": row.hint,
                        "expires_at": expires_at.map(|at| at.to_rfc3339()),
                    })
                    .to_string(),
                },
            )?;
            token_event(
                conn,
                actor,
                workspace_id,
                "scim_token.created",
                &row.id,
                &row.connection_id,
                &row.name,
                &row.hint,
            )
        })?;
        Ok((row.info()?, secret))
    }

    /// Resolves a presented bearer token to its connection, or refuses it.
    ///
    /// `Unauthorized` for an unknown, revoked or expired token; `Forbidden` when the token is
    /// valid but its connection is revoked or has SCIM switched off. Answers from the cache of
    /// recently accepted tokens when it can (see [`token_cache`](super::token_cache)).
    pub fn authenticate_scim_token(&self, presented: &str) -> StoreResult<ScimPrincipal> {
        let hash = SecretToken::from_presented(presented).hash();
        if let Some(answer) = self.cached_principal(&hash) {
            return answer;
        }
        let ticket = self.token_cache.ticket();
        let checked = Instant::now();
        let token = self.read(|conn| check_token(conn, &hash, checked))?;
        self.token_cache.insert(ticket, hash.0, token.clone());
        principal(token, Timestamp::now())
    }

    /// [`Store::authenticate_scim_token`] without the database: the answer when the token was
    /// accepted less than a second ago, `None` when the database has to be asked. It never
    /// blocks, so a request can try it before handing work to a pool thread.
    pub fn recently_authenticated_scim_token(
        &self,
        presented: &str,
    ) -> Option<StoreResult<ScimPrincipal>> {
        self.cached_principal(&SecretToken::from_presented(presented).hash())
    }

    fn cached_principal(&self, hash: &SecretHash) -> Option<StoreResult<ScimPrincipal>> {
        let token = self.token_cache.get(&hash.0, Instant::now())?;
        Some(principal(token, Timestamp::now()))
    }

    /// Moves a token's `last_used_at` to now (when authentication said it is stale).
    pub fn touch_scim_token(&self, token_id: TokenId) -> StoreResult<()> {
        let now = Timestamp::now().as_micros();
        self.write(|conn| {
            diesel::update(scim_tokens::table.find(token_id.to_string()))
                .set(scim_tokens::last_used_at.eq(now))
                .execute(conn)?;
            Ok(())
        })?;
        self.token_cache.touched(token_id, now);
        Ok(())
    }

    /// Revokes (deletes) a token of the workspace; requests with it are refused from now on.
    pub fn revoke_scim_token(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        token_id: TokenId,
    ) -> StoreResult<()> {
        self.write_token_change(|conn| {
            let found: Option<(String, String, String)> = scim_tokens::table
                .filter(scim_tokens::workspace_id.eq(workspace_id.to_string()))
                .filter(scim_tokens::id.eq(token_id.to_string()))
                .select((
                    scim_tokens::connection_id,
                    scim_tokens::name,
                    scim_tokens::hint,
                ))
                .get_result(conn)
                .optional()?;
            let Some((connection_id, name, hint)) = found else {
                return Err(StoreError::NotFound { what: "SCIM token" });
            };
            diesel::delete(scim_tokens::table.find(token_id.to_string())).execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("scim_token.revoked"),
                    target_kind: "scim_token",
                    target_id: token_id.to_string(),
                    detail: "{}".to_owned(),
                },
            )?;
            token_event(
                conn,
                actor,
                workspace_id,
                "scim_token.revoked",
                &token_id.to_string(),
                &connection_id,
                &name,
                &hint,
            )
        })
    }

    pub fn list_scim_tokens(
        &self,
        workspace_id: WorkspaceId,
        connection_id: ConnectionId,
    ) -> StoreResult<Vec<ScimTokenInfo>> {
        let rows: Vec<TokenRow> = self.read(|conn| {
            Ok(scim_tokens::table
                .filter(scim_tokens::workspace_id.eq(workspace_id.to_string()))
                .filter(scim_tokens::connection_id.eq(connection_id.to_string()))
                .order(scim_tokens::created_at.asc())
                .select(TokenRow::as_select())
                .load(conn)?)
        })?;
        rows.iter().map(TokenRow::info).collect()
    }
}
