//! Admin API keys: bearer secrets that act as a workspace admin for automation. Stored as
//! SHA-256, shown once, compared in constant time, revoked by deletion.

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

impl Store {
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

    /// Resolves a presented API key, or `Unauthorized`.
    pub fn authenticate_api_key(&self, presented: &str) -> StoreResult<ApiKeyPrincipal> {
        let presented = SecretToken::from_presented(presented);
        let hash = presented.hash();
        let found: Option<(String, String, String)> = self.read(|conn| {
            Ok(api_keys::table
                .filter(api_keys::key_hash.eq(&hash.0))
                .select((api_keys::id, api_keys::workspace_id, api_keys::key_hash))
                .get_result(conn)
                .optional()?)
        })?;
        let Some((id, workspace_id, stored)) = found else {
            return Err(StoreError::Unauthorized);
        };
        if !SecretHash(stored).matches(&presented) {
            return Err(StoreError::Unauthorized);
        }
        let bad = corrupt("api_keys");
        Ok(ApiKeyPrincipal {
            workspace_id: workspace_id.parse().map_err(&bad)?,
            key_id: id.parse().map_err(&bad)?,
        })
    }
}
