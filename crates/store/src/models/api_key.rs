//! Admin API keys: bearer secrets that act as a workspace admin for automation. Stored as
//! SHA-256, shown once, compared in constant time, revoked by deletion. Every request reads the
//! key from the database (no cache), so a revoked key is refused from the next request on.
//! Listings show the key's id, name, hint and dates, never the key.

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, NewAuditEvent, SecretHash, SecretKind, SecretToken, Timestamp, TokenId,
    WorkspaceId,
};

use super::{corrupt, record_audit};
use crate::schema::{api_keys, workspaces};
use crate::{Store, StoreError, StoreResult};

/// Who a valid API key speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyPrincipal {
    pub workspace_id: WorkspaceId,
    pub key_id: TokenId,
}

/// An admin API key or an operator key as listed (never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: TokenId,
    pub name: String,
    /// The first characters of the key, to tell keys apart (and find a leaked one).
    pub hint: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl Store {
    /// The workspace's API keys, oldest first.
    pub fn list_api_keys(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<KeyInfo>> {
        type Row = (String, String, String, i64, Option<i64>);
        let rows: Vec<Row> = self.read(|conn| {
            Ok(api_keys::table
                .filter(api_keys::workspace_id.eq(workspace_id.to_string()))
                .order((api_keys::created_at.asc(), api_keys::id.asc()))
                .select((
                    api_keys::id,
                    api_keys::name,
                    api_keys::hint,
                    api_keys::created_at,
                    api_keys::last_used_at,
                ))
                .load(conn)?)
        })?;
        rows.into_iter()
            .map(|(id, name, hint, created_at, last_used_at)| {
                Ok(KeyInfo {
                    id: id.parse().map_err(corrupt("api_keys"))?,
                    name,
                    hint,
                    created_at: Timestamp::from_micros(created_at),
                    last_used_at: last_used_at.map(Timestamp::from_micros),
                })
            })
            .collect()
    }

    /// Revokes (deletes) an API key of the workspace: requests with it are refused from now on.
    /// Audited as `api_key.revoked`; `NotFound` when the workspace has no such key.
    pub fn revoke_api_key(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        key_id: TokenId,
    ) -> StoreResult<KeyInfo> {
        let key = self
            .list_api_keys(workspace_id)?
            .into_iter()
            .find(|key| key.id == key_id)
            .ok_or(StoreError::NotFound { what: "API key" })?;
        self.write(|conn| {
            let deleted = diesel::delete(
                api_keys::table
                    .filter(api_keys::workspace_id.eq(workspace_id.to_string()))
                    .filter(api_keys::id.eq(key_id.to_string())),
            )
            .execute(conn)?;
            if deleted == 0 {
                return Err(StoreError::NotFound { what: "API key" });
            }
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("api_key.revoked"),
                    target_kind: "api_key",
                    target_id: key_id.to_string(),
                    detail: serde_json::json!({ "name": key.name, "hint": key.hint }).to_string(),
                },
            )
        })?;
        Ok(key)
    }

    /// Creates an API key for a workspace; returns it once in plaintext.
    pub fn create_api_key(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        name: &str,
    ) -> StoreResult<(TokenId, SecretToken)> {
        let secret = SecretToken::generate(SecretKind::ApiKey)?;
        let id = TokenId::new();
        self.write(|conn| {
            let exists: i64 = workspaces::table
                .find(workspace_id.to_string())
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(StoreError::NotFound { what: "workspace" });
            }
            diesel::insert_into(api_keys::table)
                .values((
                    api_keys::id.eq(id.to_string()),
                    api_keys::workspace_id.eq(workspace_id.to_string()),
                    api_keys::name.eq(name),
                    api_keys::key_hash.eq(secret.hash().0),
                    api_keys::hint.eq(secret.hint()),
                    api_keys::created_at.eq(Timestamp::now().as_micros()),
                ))
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("api_key.created"),
                    target_kind: "api_key",
                    target_id: id.to_string(),
                    detail: serde_json::json!({ "name": name, "hint": secret.hint() }).to_string(),
                },
            )
        })?;
        Ok((id, secret))
    }

    /// Resolves a presented API key, or `Unauthorized`. Moves the key's `last_used_at` to now
    /// when it is more than a minute old (a failure to do so is logged, not fatal).
    pub fn authenticate_api_key(&self, presented: &str) -> StoreResult<ApiKeyPrincipal> {
        let presented = SecretToken::from_presented(presented);
        let hash = presented.hash();
        type Row = (String, String, String, Option<i64>);
        let found: Option<Row> = self.read(|conn| {
            Ok(api_keys::table
                .filter(api_keys::key_hash.eq(&hash.0))
                .select((
                    api_keys::id,
                    api_keys::workspace_id,
                    api_keys::key_hash,
                    api_keys::last_used_at,
                ))
                .get_result(conn)
                .optional()?)
        })?;
        let Some((id, workspace_id, stored, last_used_at)) = found else {
            return Err(StoreError::Unauthorized);
        };
        if !SecretHash(stored).matches(&presented) {
            return Err(StoreError::Unauthorized);
        }
        let bad = corrupt("api_keys");
        let principal = ApiKeyPrincipal {
            workspace_id: workspace_id.parse().map_err(&bad)?,
            key_id: id.parse().map_err(&bad)?,
        };
        let now = Timestamp::now().as_micros();
        if last_used_at.is_none_or(|at| now - at > 60_000_000) {
            let touched = self.write(|conn| {
                diesel::update(api_keys::table.find(&id))
                    .set(api_keys::last_used_at.eq(now))
                    .execute(conn)?;
                Ok(())
            });
            if let Err(err) = touched {
                tracing::warn!(key = %principal.key_id, error = %err, "could not record the API key's last use");
            }
        }
        Ok(principal)
    }
}
