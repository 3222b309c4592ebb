//! The keys that sign session tokens, shared by every replica through the database.
//!
//! A key is *current* while it signs (one at a time). A rotation makes a new key current and the
//! old one *retiring*: it signs nothing more, but still verifies the sessions it signed and stays
//! in the JWKS until `verify_until`, the end of the longest session it could have signed. After
//! that it is *expired*: refused and unpublished. A rotation is one transaction with its audit
//! event, so replicas agree on which key signs, and it erases the private half of keys that have
//! expired, since nothing may sign with them again.

use diesel::prelude::*;
use roster_domain::{Action, Actor, NewAuditEvent, Timestamp};

use super::record_audit;
use crate::schema::session_keys;
use crate::sealing::SealedPrivateKey;
use crate::{Store, StoreResult};

/// How long a key retired before `verify_until` existed keeps verifying after `retired_at`
/// (the session lifetime of that time).
const LEGACY_VERIFY_MICROS: i64 = 8 * 3600 * 1_000_000;

/// A signing key of session tokens, as stored.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = session_keys)]
pub struct SessionKeyRecord {
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 PEM; empty once the key has expired and a rotation erased it. Sealed in the
    /// database; the store's reads return it opened.
    pub private_pem: String,
    /// The public half as a JWK (JSON text), served at `/.well-known/jwks.json`.
    pub public_jwk: String,
    pub created_at: i64,
    /// When the key stopped signing; `None` while it is current.
    pub retired_at: Option<i64>,
    /// When a retired key stops verifying.
    pub verify_until: Option<i64>,
}

/// The private half never reaches a log through `{:?}`.
impl std::fmt::Debug for SessionKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("verify_until", &self.verify_until)
            .finish_non_exhaustive()
    }
}

/// Where a key is in its life, at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKeyStatus {
    /// Signs new sessions and verifies.
    Current,
    /// Verifies the sessions it signed; published in the JWKS.
    Retiring,
    /// Refused and unpublished.
    Expired,
}

impl SessionKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKeyStatus::Current => "current",
            SessionKeyStatus::Retiring => "retiring",
            SessionKeyStatus::Expired => "expired",
        }
    }
}

impl SealedPrivateKey for SessionKeyRecord {
    const COLUMN: &'static str = "session_keys.private_pem";

    fn row_id(&self) -> &str {
        &self.kid
    }

    fn private_pem_mut(&mut self) -> &mut String {
        &mut self.private_pem
    }
}

impl SessionKeyRecord {
    /// Until when (microseconds) the key verifies; `None` while it is current.
    pub fn verifies_until(&self) -> Option<i64> {
        self.retired_at.map(|retired| {
            self.verify_until
                .unwrap_or(retired.saturating_add(LEGACY_VERIFY_MICROS))
        })
    }

    /// The key's status at `now`.
    pub fn status_at(&self, now: Timestamp) -> SessionKeyStatus {
        match self.verifies_until() {
            None => SessionKeyStatus::Current,
            Some(until) if until > now.as_micros() => SessionKeyStatus::Retiring,
            Some(_) => SessionKeyStatus::Expired,
        }
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    /// The new current key.
    pub kid: String,
    /// The keys that were current until now (normally one).
    pub retired_kids: Vec<String>,
    /// When the retired keys stop verifying.
    pub previous_valid_until: Timestamp,
}

impl Store {
    /// Every session key, newest first.
    pub fn session_keys(&self) -> StoreResult<Vec<SessionKeyRecord>> {
        let rows: Vec<SessionKeyRecord> = self.read(|conn| {
            Ok(session_keys::table
                .order(session_keys::created_at.desc())
                .select(SessionKeyRecord::as_select())
                .load(conn)?)
        })?;
        rows.into_iter()
            .map(|row| row.opened(self.data_keys()))
            .collect()
    }

    /// Adds a session key unless a current one exists (replicas starting together agree on one).
    pub fn ensure_session_key(&self, candidate: &SessionKeyRecord) -> StoreResult<()> {
        let candidate = &candidate.sealed(self.data_keys())?;
        self.write(|conn| {
            let active: i64 = session_keys::table
                .filter(session_keys::retired_at.is_null())
                .count()
                .get_result(conn)?;
            if active == 0 {
                diesel::insert_into(session_keys::table)
                    .values(candidate)
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// Makes `new_key` the current key at `now`: the current key(s) retire and verify until
    /// `previous_valid_until`; keys already retiring past that time are cut short to it (so a
    /// rotation with `previous_valid_until = now` ends every older key at once); expired keys
    /// lose their private half. Writes the audit event `session_key.rotated`.
    pub fn rotate_session_key(
        &self,
        actor: &Actor,
        new_key: &SessionKeyRecord,
        now: Timestamp,
        previous_valid_until: Timestamp,
    ) -> StoreResult<KeyRotation> {
        let now = now.as_micros();
        let until = previous_valid_until.as_micros();
        let new_key = &new_key.sealed(self.data_keys())?;
        self.write(|conn| {
            let retired_kids: Vec<String> = session_keys::table
                .filter(session_keys::retired_at.is_null())
                .order(session_keys::created_at.desc())
                .select(session_keys::kid)
                .load(conn)?;
            diesel::update(session_keys::table.filter(session_keys::retired_at.is_null()))
                .set((
                    session_keys::retired_at.eq(Some(now)),
                    session_keys::verify_until.eq(Some(until)),
                ))
                .execute(conn)?;
            diesel::update(session_keys::table.filter(session_keys::verify_until.gt(until)))
                .set(session_keys::verify_until.eq(Some(until)))
                .execute(conn)?;
            diesel::update(session_keys::table.filter(session_keys::verify_until.le(now)))
                .set(session_keys::private_pem.eq(""))
                .execute(conn)?;
            let row = SessionKeyRecord {
                created_at: now,
                retired_at: None,
                verify_until: None,
                ..new_key.clone()
            };
            diesel::insert_into(session_keys::table)
                .values(&row)
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: None,
                    actor: actor.clone(),
                    action: Action("session_key.rotated"),
                    target_kind: "session_key",
                    target_id: row.kid.clone(),
                    detail: serde_json::json!({
                        "retired_kids": retired_kids,
                        "previous_keys_valid_until": previous_valid_until.to_rfc3339(),
                    })
                    .to_string(),
                },
            )?;
            Ok(KeyRotation {
                kid: row.kid,
                retired_kids,
                previous_valid_until,
            })
        })
    }
}
