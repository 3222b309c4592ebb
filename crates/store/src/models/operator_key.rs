//! Operator keys: the SaaS operator's bearer keys to `/api/v1/operator`, which reaches every
//! workspace (creating them, and each workspace's admin routes). They belong to the deployment,
//! not to a workspace, so they live in their own table: an admin API key can never be mistaken
//! for one, whatever the code around it does. Stored as SHA-256, shown once, compared in
//! constant time, revoked by deletion; read from the database on every request (no cache), so a
//! revoked key is refused from its next request on. Their creation and revocation are audited
//! at deployment level (no workspace).

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, NewAuditEvent, SecretHash, SecretKind, SecretToken, Timestamp, TokenId,
};

use super::{corrupt, record_audit, KeyInfo};
use crate::schema::operator_keys;
use crate::{Store, StoreError, StoreResult};

type Row = (String, String, String, i64, Option<i64>);

fn info((id, name, hint, created_at, last_used_at): Row) -> StoreResult<KeyInfo> {
    Ok(KeyInfo {
        id: id.parse().map_err(corrupt("operator_keys"))?,
        name,
        hint,
        created_at: Timestamp::from_micros(created_at),
        last_used_at: last_used_at.map(Timestamp::from_micros),
    })
}

fn audit(action: &'static str, actor: &Actor, key: &KeyInfo) -> NewAuditEvent {
    NewAuditEvent {
        workspace_id: None,
        actor: actor.clone(),
        action: Action(action),
        target_kind: "operator_key",
        target_id: key.id.to_string(),
        detail: serde_json::json!({ "name": key.name, "hint": key.hint }).to_string(),
    }
}

impl Store {
    /// Creates an operator key; returns it once in plaintext. Audited as `operator_key.created`.
    pub fn create_operator_key(
        &self,
        actor: &Actor,
        name: &str,
    ) -> StoreResult<(KeyInfo, SecretToken)> {
        let secret = SecretToken::generate(SecretKind::OperatorKey)?;
        let key = KeyInfo {
            id: TokenId::new(),
            name: name.to_owned(),
            hint: secret.hint(),
            created_at: Timestamp::now(),
            last_used_at: None,
        };
        self.write(|conn| {
            diesel::insert_into(operator_keys::table)
                .values((
                    operator_keys::id.eq(key.id.to_string()),
                    operator_keys::name.eq(&key.name),
                    operator_keys::key_hash.eq(secret.hash().0),
                    operator_keys::hint.eq(&key.hint),
                    operator_keys::created_at.eq(key.created_at.as_micros()),
                ))
                .execute(conn)?;
            record_audit(conn, &audit("operator_key.created", actor, &key))
        })?;
        Ok((key, secret))
    }

    /// Every operator key, oldest first.
    pub fn list_operator_keys(&self) -> StoreResult<Vec<KeyInfo>> {
        let rows: Vec<Row> = self.read(|conn| {
            Ok(operator_keys::table
                .order((operator_keys::created_at.asc(), operator_keys::id.asc()))
                .select((
                    operator_keys::id,
                    operator_keys::name,
                    operator_keys::hint,
                    operator_keys::created_at,
                    operator_keys::last_used_at,
                ))
                .load(conn)?)
        })?;
        rows.into_iter().map(info).collect()
    }

    /// Revokes (deletes) an operator key: requests with it are refused from now on. Audited as
    /// `operator_key.revoked`; `NotFound` when there is no such key.
    pub fn revoke_operator_key(&self, actor: &Actor, id: TokenId) -> StoreResult<KeyInfo> {
        let key = self
            .list_operator_keys()?
            .into_iter()
            .find(|key| key.id == id)
            .ok_or(StoreError::NotFound {
                what: "operator key",
            })?;
        self.write(|conn| {
            let deleted =
                diesel::delete(operator_keys::table.find(id.to_string())).execute(conn)?;
            if deleted == 0 {
                return Err(StoreError::NotFound {
                    what: "operator key",
                });
            }
            record_audit(conn, &audit("operator_key.revoked", actor, &key))
        })?;
        Ok(key)
    }

    /// Resolves a presented operator key to its id, or `Unauthorized`. Moves its `last_used_at`
    /// to now when that is more than a minute old (a failure to do so is logged, not fatal).
    pub fn authenticate_operator_key(&self, presented: &str) -> StoreResult<TokenId> {
        let presented = SecretToken::from_presented(presented);
        let hash = presented.hash();
        let found: Option<(String, String, Option<i64>)> = self.read(|conn| {
            Ok(operator_keys::table
                .filter(operator_keys::key_hash.eq(&hash.0))
                .select((
                    operator_keys::id,
                    operator_keys::key_hash,
                    operator_keys::last_used_at,
                ))
                .get_result(conn)
                .optional()?)
        })?;
        let Some((id, stored, last_used_at)) = found else {
            return Err(StoreError::Unauthorized);
        };
        if !SecretHash(stored).matches(&presented) {
            return Err(StoreError::Unauthorized);
        }
        let key_id: TokenId = id.parse().map_err(corrupt("operator_keys"))?;
        let now = Timestamp::now().as_micros();
        if last_used_at.is_none_or(|at| now - at > 60_000_000) {
            let touched = self.write(|conn| {
                diesel::update(operator_keys::table.find(&id))
                    .set(operator_keys::last_used_at.eq(now))
                    .execute(conn)?;
                Ok(())
            });
            if let Err(err) = touched {
                tracing::warn!(key = %key_id, error = %err, "could not record the operator key's last use");
            }
        }
        Ok(key_id)
    }
}
