//! The keys that sign the OpenID Provider's tokens (ID tokens, access tokens, logout tokens),
//! shared by every replica through the database, as the session keys are (`session_keys.rs`).
//!
//! One key signs per algorithm (RS256, ES256) at a time. Unlike session keys, which only Roster
//! verifies, these are verified by products that cache the JWKS, so a key goes through four
//! states, all decided by its timestamps so that replicas agree without talking:
//! *next* (published from `created_at`, not signing before `signs_from`: a rotation publishes the
//! new key ahead so a cached JWKS already holds it when the first token arrives), *current*
//! (signs), *retiring* (from `retired_at`: signs nothing more, still published so tokens it
//! signed verify) and *expired* (from `verify_until`: unpublished, and its private half erased by
//! the next rotation). A rotation is one transaction with its audit event.

use diesel::prelude::*;
use roster_domain::{Action, Actor, NewAuditEvent, Timestamp};

use super::{corrupt, record_audit, SigningAlg};
use crate::schema::oauth_signing_keys;
use crate::sealing::SealedPrivateKey;
use crate::{Store, StoreResult};

/// A signing key of the provider, as stored.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_signing_keys)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// `RS256` or `ES256` (see [`SigningKeyRecord::alg`]).
    pub algorithm: String,
    /// PKCS#8 PEM; empty once the key has expired and a rotation erased it. Sealed in the
    /// database; the store's reads return it opened.
    pub private_pem: String,
    /// The public half as a JWK (JSON text with `kid`, `alg` and `use: "sig"`).
    pub public_jwk: String,
    /// Published from here.
    pub created_at: i64,
    /// Signs from here (until `retired_at`).
    pub signs_from: i64,
    pub retired_at: Option<i64>,
    /// Unpublished from here.
    pub verify_until: Option<i64>,
}

/// The private half never reaches a log through `{:?}`.
impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("signs_from", &self.signs_from)
            .field("retired_at", &self.retired_at)
            .field("verify_until", &self.verify_until)
            .finish_non_exhaustive()
    }
}

/// Where a provider key is in its life, at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningKeyStatus {
    /// Published, not signing yet.
    Next,
    /// Signs and is published.
    Current,
    /// Signs nothing more; published until its tokens are dead.
    Retiring,
    /// Unpublished; nothing it signed is accepted.
    Expired,
}

impl SigningKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningKeyStatus::Next => "next",
            SigningKeyStatus::Current => "current",
            SigningKeyStatus::Retiring => "retiring",
            SigningKeyStatus::Expired => "expired",
        }
    }

    /// Whether the key belongs in the JWKS.
    pub fn is_published(self) -> bool {
        self != SigningKeyStatus::Expired
    }
}

impl SealedPrivateKey for SigningKeyRecord {
    const COLUMN: &'static str = "oauth_signing_keys.private_pem";

    fn row_id(&self) -> &str {
        &self.kid
    }

    fn private_pem_mut(&mut self) -> &mut String {
        &mut self.private_pem
    }
}

impl SigningKeyRecord {
    pub fn alg(&self) -> StoreResult<SigningAlg> {
        SigningAlg::parse(&self.algorithm).map_err(corrupt("oauth_signing_keys"))
    }

    /// The key's status at `now`.
    pub fn status_at(&self, now: Timestamp) -> SigningKeyStatus {
        let now = now.as_micros();
        if self.verify_until.is_some_and(|until| until <= now) {
            SigningKeyStatus::Expired
        } else if self.retired_at.is_some_and(|retired| retired <= now) {
            SigningKeyStatus::Retiring
        } else if self.signs_from > now {
            SigningKeyStatus::Next
        } else {
            SigningKeyStatus::Current
        }
    }
}

/// What a rotation of the provider's keys did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRotation {
    /// The new key.
    pub kid: String,
    /// When it starts signing.
    pub signs_from: Timestamp,
    /// The keys of the same algorithm it replaces (normally one).
    pub retired_kids: Vec<String>,
    /// When the replaced keys leave the JWKS.
    pub previous_valid_until: Timestamp,
}

impl Store {
    /// Every provider key, newest first.
    pub fn oauth_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows: Vec<SigningKeyRecord> = self.read(|conn| {
            Ok(oauth_signing_keys::table
                .order((
                    oauth_signing_keys::signs_from.desc(),
                    oauth_signing_keys::kid.desc(),
                ))
                .select(SigningKeyRecord::as_select())
                .load(conn)?)
        })?;
        rows.into_iter()
            .map(|row| row.opened(self.data_keys()))
            .collect()
    }

    /// Adds `candidate` unless a key of its algorithm that has not retired exists (the first
    /// replica to need a key creates it; two racing on PostgreSQL may both add one, which is
    /// harmless: both are published and the newest signs).
    pub fn ensure_oauth_signing_key(&self, candidate: &SigningKeyRecord) -> StoreResult<()> {
        let candidate = &candidate.sealed(self.data_keys())?;
        self.write(|conn| {
            let unretired: i64 = oauth_signing_keys::table
                .filter(oauth_signing_keys::algorithm.eq(&candidate.algorithm))
                .filter(oauth_signing_keys::retired_at.is_null())
                .count()
                .get_result(conn)?;
            if unretired == 0 {
                diesel::insert_into(oauth_signing_keys::table)
                    .values(candidate)
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// Publishes `new_key` at `now` to sign from `signs_from`: the keys of its algorithm that
    /// have not retired retire at `signs_from` and stay published until `previous_valid_until`
    /// (keys published past that are cut short to it, so passing `now` for both ends every older
    /// key at once); expired keys lose their private half. Audited as
    /// `oauth_signing_key.rotated`.
    pub fn rotate_oauth_signing_key(
        &self,
        actor: &Actor,
        new_key: &SigningKeyRecord,
        now: Timestamp,
        signs_from: Timestamp,
        previous_valid_until: Timestamp,
    ) -> StoreResult<SigningKeyRotation> {
        let retire_at = signs_from.as_micros().max(now.as_micros());
        let until = previous_valid_until.as_micros().max(retire_at);
        let new_key = &new_key.sealed(self.data_keys())?;
        self.write(|conn| {
            let same_alg = oauth_signing_keys::algorithm.eq(&new_key.algorithm);
            let retired_kids: Vec<String> = oauth_signing_keys::table
                .filter(same_alg)
                .filter(oauth_signing_keys::retired_at.is_null())
                .order(oauth_signing_keys::signs_from.desc())
                .select(oauth_signing_keys::kid)
                .load(conn)?;
            diesel::update(
                oauth_signing_keys::table
                    .filter(same_alg)
                    .filter(oauth_signing_keys::retired_at.is_null()),
            )
            .set((
                oauth_signing_keys::retired_at.eq(Some(retire_at)),
                oauth_signing_keys::verify_until.eq(Some(until)),
            ))
            .execute(conn)?;
            diesel::update(
                oauth_signing_keys::table
                    .filter(same_alg)
                    .filter(oauth_signing_keys::verify_until.gt(until)),
            )
            .set(oauth_signing_keys::verify_until.eq(Some(until)))
            .execute(conn)?;
            diesel::update(
                oauth_signing_keys::table
                    .filter(oauth_signing_keys::verify_until.le(now.as_micros())),
            )
            .set(oauth_signing_keys::private_pem.eq(""))
            .execute(conn)?;
            let row = SigningKeyRecord {
                created_at: now.as_micros(),
                signs_from: retire_at,
                retired_at: None,
                verify_until: None,
                ..new_key.clone()
            };
            diesel::insert_into(oauth_signing_keys::table)
                .values(&row)
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: None,
                    actor: actor.clone(),
                    action: Action("oauth_signing_key.rotated"),
                    target_kind: "oauth_signing_key",
                    target_id: row.kid.clone(),
                    detail: serde_json::json!({
                        "algorithm": row.algorithm,
                        "signs_from": Timestamp::from_micros(retire_at).to_rfc3339(),
                        "retired_kids": retired_kids,
                        "previous_keys_valid_until": Timestamp::from_micros(until).to_rfc3339(),
                    })
                    .to_string(),
                },
            )?;
            Ok(SigningKeyRotation {
                kid: row.kid,
                signs_from: Timestamp::from_micros(retire_at),
                retired_kids,
                previous_valid_until: Timestamp::from_micros(until),
            })
        })
    }
}
