//! A SAML connection's own keys as a service provider (`saml_sp_keys`): what signs its requests
//! and decrypts its assertions. The key material is made by `roster-sso` (`saml::keys`); this
//! file keeps it, one row per key, with its rotation.
//!
//! A key is *published* (in the SP metadata, and used) from its creation until it is retired.
//! A connection always has at least one published key of each use: a rotation adds a key beside
//! the current one, and retiring refuses the last one. A retired key's private half is erased in
//! the same transaction. Rotations and retirements are audited in the connection's workspace.

use diesel::prelude::*;
use roster_domain::{Action, Actor, Connection, ConnectionId, NewAuditEvent, Timestamp};

use super::record_audit;
use crate::schema::saml_sp_keys;
use crate::sealing::{DataKeys, SealedPrivateKey};
use crate::{Store, StoreError, StoreResult};

/// A key as stored.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = saml_sp_keys)]
pub struct SpKeyRecord {
    pub id: String,
    pub connection_id: String,
    /// `signing` or `encryption`.
    pub key_use: String,
    /// 1 for a connection's first key of a use, then one more per rotation.
    pub generation: i32,
    /// PKCS#8 PEM; empty once retired. Sealed in the database; the store's reads return it
    /// opened.
    pub private_pem: String,
    /// Base64 DER, as published.
    pub certificate: String,
    /// The certificate's expiry (microseconds).
    pub not_after: i64,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// The private half never reaches a log through `{:?}`.
impl std::fmt::Debug for SpKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpKeyRecord")
            .field("id", &self.id)
            .field("connection_id", &self.connection_id)
            .field("key_use", &self.key_use)
            .field("generation", &self.generation)
            .field("not_after", &self.not_after)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl SealedPrivateKey for SpKeyRecord {
    const COLUMN: &'static str = "saml_sp_keys.private_pem";

    fn row_id(&self) -> &str {
        &self.id
    }

    fn private_pem_mut(&mut self) -> &mut String {
        &mut self.private_pem
    }
}

impl SpKeyRecord {
    pub fn is_published(&self) -> bool {
        self.retired_at.is_none()
    }
}

/// `rows` as read: their private halves opened.
fn opened(rows: Vec<SpKeyRecord>, keys: &DataKeys) -> StoreResult<Vec<SpKeyRecord>> {
    rows.into_iter().map(|row| row.opened(keys)).collect()
}

/// What the certificate checks read of a published key: when it expires, and no key material
/// (they run at every `/metrics` scrape and hourly, and have no use for a private key).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = saml_sp_keys)]
pub struct SpKeyExpiry {
    pub connection_id: String,
    /// `signing` or `encryption`.
    pub key_use: String,
    pub generation: i32,
    /// The certificate's expiry (microseconds).
    pub not_after: i64,
}

/// What the rule of which key signs reads of a stored key: a whole record, or only its expiry.
pub trait SpKeyFacts {
    /// `signing` or `encryption`.
    fn key_use(&self) -> &str;
    fn generation(&self) -> i32;
    fn is_published(&self) -> bool;
}

impl SpKeyFacts for SpKeyRecord {
    fn key_use(&self) -> &str {
        &self.key_use
    }

    fn generation(&self) -> i32 {
        self.generation
    }

    fn is_published(&self) -> bool {
        SpKeyRecord::is_published(self)
    }
}

/// Only published keys have an expiry read (see [`Store::published_sp_key_expiries`]).
impl SpKeyFacts for SpKeyExpiry {
    fn key_use(&self) -> &str {
        &self.key_use
    }

    fn generation(&self) -> i32 {
        self.generation
    }

    fn is_published(&self) -> bool {
        true
    }
}

/// The key that signs a connection's requests, among its keys: the oldest published signing
/// key, so a new one is published ahead and signs once the older one is retired. roster-sso's
/// `SpKeys::signing_key` applies the same rule to the keys it parsed (the store's order).
pub fn signing_sp_key<'a, K: SpKeyFacts + 'a>(
    keys: impl IntoIterator<Item = &'a K>,
) -> Option<&'a K> {
    keys.into_iter()
        .filter(|key| key.key_use() == "signing" && key.is_published())
        .min_by_key(|key| key.generation())
}

/// A key to store.
pub struct NewSpKey {
    pub key_use: &'static str,
    pub private_pem: String,
    pub certificate: String,
    pub not_after: Timestamp,
}

impl std::fmt::Debug for NewSpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSpKey")
            .field("key_use", &self.key_use)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// A fresh key id: `spk_` and 16 hex digits.
fn new_key_id() -> StoreResult<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|err| StoreError::Unavailable(err.to_string()))?;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(format!("spk_{hex}"))
}

impl Store {
    /// The connection's published keys, oldest first (per use, the first one signs).
    pub fn sp_keys(&self, connection_id: ConnectionId) -> StoreResult<Vec<SpKeyRecord>> {
        let rows = self.read(|conn| {
            Ok(saml_sp_keys::table
                .filter(saml_sp_keys::connection_id.eq(connection_id.to_string()))
                .filter(saml_sp_keys::retired_at.is_null())
                .order((saml_sp_keys::generation.asc(), saml_sp_keys::key_use.asc()))
                .select(SpKeyRecord::as_select())
                .load(conn)?)
        })?;
        opened(rows, self.data_keys())
    }

    /// Every key the connection ever had, retired ones included: by use, oldest first.
    pub fn sp_key_history(&self, connection_id: ConnectionId) -> StoreResult<Vec<SpKeyRecord>> {
        let rows = self.read(|conn| {
            Ok(saml_sp_keys::table
                .filter(saml_sp_keys::connection_id.eq(connection_id.to_string()))
                .order((saml_sp_keys::key_use.asc(), saml_sp_keys::generation.asc()))
                .select(SpKeyRecord::as_select())
                .load(conn)?)
        })?;
        opened(rows, self.data_keys())
    }

    /// When every connection's published keys expire (for the certificate expiry metric and
    /// warnings), without their key material.
    pub fn published_sp_key_expiries(&self) -> StoreResult<Vec<SpKeyExpiry>> {
        self.read(|conn| {
            Ok(saml_sp_keys::table
                .filter(saml_sp_keys::retired_at.is_null())
                .order((saml_sp_keys::connection_id.asc(), saml_sp_keys::id.asc()))
                .select(SpKeyExpiry::as_select())
                .load(conn)?)
        })
    }

    /// The connection's published keys, after giving it a first key of each use in `uses` that
    /// it has none of, made by `make` (outside any transaction: making an RSA key takes a
    /// while). Two replicas racing here store one key of each use: generation 1 is unique, and the
    /// loser of the race reads the winner's.
    pub fn ensure_sp_keys(
        &self,
        connection_id: ConnectionId,
        uses: &[&'static str],
        make: &dyn Fn(&'static str) -> Result<NewSpKey, String>,
    ) -> StoreResult<Vec<SpKeyRecord>> {
        let keys = self.sp_keys(connection_id)?;
        let missing: Vec<&'static str> = uses
            .iter()
            .copied()
            .filter(|key_use| !keys.iter().any(|key| key.key_use == *key_use))
            .collect();
        if missing.is_empty() {
            return Ok(keys);
        }
        let mut rows = Vec::with_capacity(missing.len());
        for key_use in missing {
            let key = make(key_use).map_err(StoreError::Unavailable)?;
            let row = SpKeyRecord {
                id: new_key_id()?,
                connection_id: connection_id.to_string(),
                key_use: key_use.to_owned(),
                generation: 1,
                private_pem: key.private_pem,
                certificate: key.certificate,
                not_after: key.not_after.as_micros(),
                created_at: Timestamp::now().as_micros(),
                retired_at: None,
            };
            rows.push(row.sealed(self.data_keys())?);
        }
        let stored = self.write(|conn| {
            for row in &rows {
                let taken: i64 = saml_sp_keys::table
                    .filter(saml_sp_keys::connection_id.eq(&row.connection_id))
                    .filter(saml_sp_keys::key_use.eq(&row.key_use))
                    .count()
                    .get_result(conn)?;
                if taken == 0 {
                    diesel::insert_into(saml_sp_keys::table)
                        .values(row)
                        .execute(conn)?;
                }
            }
            Ok(())
        });
        match stored {
            // Another replica stored its first key in the meantime: that one is the key.
            Ok(()) | Err(StoreError::Conflict { .. }) => self.sp_keys(connection_id),
            Err(other) => Err(other),
        }
    }

    /// Publishes `key` beside the connection's current keys of its use (a rotation's first
    /// step; the old key keeps working until [`Store::retire_sp_key`]). Audited as
    /// `connection.sp_key_added`.
    pub fn add_sp_key(
        &self,
        actor: &Actor,
        connection: &Connection,
        key: NewSpKey,
    ) -> StoreResult<SpKeyRecord> {
        let id = new_key_id()?;
        self.write(|conn| {
            let generation: Option<i32> = saml_sp_keys::table
                .filter(saml_sp_keys::connection_id.eq(connection.id.to_string()))
                .filter(saml_sp_keys::key_use.eq(key.key_use))
                .select(diesel::dsl::max(saml_sp_keys::generation))
                .first(conn)?;
            let row = SpKeyRecord {
                id: id.clone(),
                connection_id: connection.id.to_string(),
                key_use: key.key_use.to_owned(),
                generation: generation.unwrap_or(0) + 1,
                private_pem: key.private_pem.clone(),
                certificate: key.certificate.clone(),
                not_after: key.not_after.as_micros(),
                created_at: Timestamp::now().as_micros(),
                retired_at: None,
            };
            diesel::insert_into(saml_sp_keys::table)
                .values(&row.sealed(self.data_keys())?)
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(connection.workspace_id),
                    actor: actor.clone(),
                    action: Action("connection.sp_key_added"),
                    target_kind: "connection",
                    target_id: connection.id.to_string(),
                    detail: serde_json::json!({
                        "key": row.id,
                        "use": row.key_use,
                        "generation": row.generation,
                        "expires_at": key.not_after.to_rfc3339(),
                    })
                    .to_string(),
                },
            )?;
            Ok(row)
        })
    }

    /// Retires one of the connection's published keys: unpublished, its private half erased.
    /// Refuses (`Conflict`) the last published key of its use, and a key already retired.
    /// Audited as `connection.sp_key_retired`.
    pub fn retire_sp_key(
        &self,
        actor: &Actor,
        connection: &Connection,
        key_id: &str,
    ) -> StoreResult<SpKeyRecord> {
        self.write(|conn| {
            let key: SpKeyRecord = saml_sp_keys::table
                .filter(saml_sp_keys::connection_id.eq(connection.id.to_string()))
                .filter(saml_sp_keys::id.eq(key_id))
                .select(SpKeyRecord::as_select())
                .first(conn)
                .optional()?
                .ok_or(StoreError::NotFound { what: "SP key" })?;
            if !key.is_published() {
                return Err(StoreError::Conflict {
                    what: "SP key",
                    detail: format!("{key_id} is already retired"),
                });
            }
            let published_of_use: i64 = saml_sp_keys::table
                .filter(saml_sp_keys::connection_id.eq(connection.id.to_string()))
                .filter(saml_sp_keys::key_use.eq(&key.key_use))
                .filter(saml_sp_keys::retired_at.is_null())
                .count()
                .get_result(conn)?;
            if published_of_use < 2 {
                return Err(StoreError::Conflict {
                    what: "SP key",
                    detail: format!(
                        "{key_id} is the connection's only {} key: add its successor first",
                        key.key_use
                    ),
                });
            }
            let now = Timestamp::now().as_micros();
            diesel::update(saml_sp_keys::table.filter(saml_sp_keys::id.eq(key_id)))
                .set((
                    saml_sp_keys::retired_at.eq(Some(now)),
                    saml_sp_keys::private_pem.eq(""),
                ))
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(connection.workspace_id),
                    actor: actor.clone(),
                    action: Action("connection.sp_key_retired"),
                    target_kind: "connection",
                    target_id: connection.id.to_string(),
                    detail: serde_json::json!({ "key": key_id, "use": key.key_use }).to_string(),
                },
            )?;
            Ok(SpKeyRecord {
                retired_at: Some(now),
                private_pem: String::new(),
                ..key
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, key_use: &str, generation: i32, retired: bool) -> SpKeyRecord {
        SpKeyRecord {
            id: id.to_owned(),
            connection_id: "c".to_owned(),
            key_use: key_use.to_owned(),
            generation,
            private_pem: String::new(),
            certificate: String::new(),
            not_after: 0,
            created_at: 0,
            retired_at: retired.then_some(1),
        }
    }

    #[test]
    fn the_oldest_published_signing_key_signs() {
        let cases: [(&str, Vec<SpKeyRecord>, Option<&str>); 5] = [
            ("no keys", vec![], None),
            (
                "encryption only",
                vec![key("e1", "encryption", 1, false)],
                None,
            ),
            (
                "a rotation: the older key signs until retired",
                vec![
                    key("s2", "signing", 2, false),
                    key("s1", "signing", 1, false),
                ],
                Some("s1"),
            ),
            (
                "the older key retired",
                vec![
                    key("s1", "signing", 1, true),
                    key("s2", "signing", 2, false),
                ],
                Some("s2"),
            ),
            (
                "an older encryption key is not a signer",
                vec![
                    key("e1", "encryption", 1, false),
                    key("s3", "signing", 3, false),
                ],
                Some("s3"),
            ),
        ];
        for (case, keys, signer) in cases {
            assert_eq!(
                signing_sp_key(&keys).map(|key| key.id.as_str()),
                signer,
                "{case}"
            );
        }
    }
}
