//! The start-up pass over the sealed columns (see `sealing`): it seals what was stored before
//! sealing existed and re-seals what a previous data key sealed, so once every replica runs with
//! a new key, the previous one can be dropped from the configuration.
//!
//! Each value is replaced only if it is still what the pass read (compare and set), so a replica
//! that rotates a key meanwhile, or another replica's pass, loses nothing; running it again
//! finds nothing to do.

use diesel::prelude::*;

use super::connection::{map_client_secret, CLIENT_SECRET, CLIENT_SECRET_COLUMN};
use crate::schema::{
    connections, oauth_signing_keys, saml_sp_keys, session_keys, webhook_endpoints,
};
use crate::sealing::{DataKeys, Place};
use crate::{Store, StoreResult};

/// What the pass did, per column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealingReport {
    /// `(column, values sealed)` for every column that had some.
    pub sealed: Vec<(&'static str, usize)>,
}

impl SealingReport {
    pub fn total(&self) -> usize {
        self.sealed.iter().map(|(_, count)| count).sum()
    }
}

/// `stored` sealed with the current key, or `None` when it already is (or is empty).
fn resealed(keys: &DataKeys, place: Place<'_>, stored: &str) -> StoreResult<Option<String>> {
    if keys.is_settled(stored) {
        return Ok(None);
    }
    let plain = keys.open(place, stored)?;
    keys.seal(place, &plain).map(Some)
}

/// Reseals one plain column of one table, keyed by its text id.
macro_rules! reseal_column {
    ($store:expr, $table:ident, $id:ident, $secret:ident) => {{
        let column = concat!(stringify!($table), ".", stringify!($secret));
        let keys = $store.data_keys();
        let rows: Vec<(String, String)> = $store.read(|conn| {
            Ok($table::table
                .select(($table::$id, $table::$secret))
                .load(conn)?)
        })?;
        let mut sealed = 0;
        for (id, stored) in rows {
            let place = Place { column, row: &id };
            if let Some(value) = resealed(keys, place, &stored)? {
                sealed += $store.write(|conn| {
                    Ok(diesel::update(
                        $table::table
                            .filter($table::$id.eq(&id))
                            .filter($table::$secret.eq(&stored)),
                    )
                    .set($table::$secret.eq(&value))
                    .execute(conn)?)
                })?;
            }
        }
        (column, sealed)
    }};
}

impl Store {
    /// Seals every secret stored unsealed or sealed with a previous data key; does nothing
    /// without a data key. Run by `roster serve` at start.
    pub fn seal_stored_secrets(&self) -> StoreResult<SealingReport> {
        if self.data_keys().current_id().is_none() {
            return Ok(SealingReport::default());
        }
        let counts = [
            reseal_column!(self, session_keys, kid, private_pem),
            reseal_column!(self, oauth_signing_keys, kid, private_pem),
            reseal_column!(self, saml_sp_keys, id, private_pem),
            reseal_column!(self, webhook_endpoints, id, secret),
            self.seal_client_secrets()?,
        ];
        Ok(SealingReport {
            sealed: counts.into_iter().filter(|(_, count)| *count > 0).collect(),
        })
    }

    /// The pass over the client secrets inside OIDC connections' configs.
    fn seal_client_secrets(&self) -> StoreResult<(&'static str, usize)> {
        let keys = self.data_keys();
        let rows: Vec<(String, String)> = self.read(|conn| {
            Ok(connections::table
                .filter(connections::protocol_config.like(format!("%{CLIENT_SECRET}%")))
                .select((connections::id, connections::protocol_config))
                .load(conn)?)
        })?;
        let mut sealed = 0;
        for (id, stored) in rows {
            let changed = std::cell::Cell::new(false);
            let config = map_client_secret(stored.clone(), &id, |place, value| {
                let resealed = resealed(keys, place, value)?;
                changed.set(changed.get() || resealed.is_some());
                Ok(resealed.unwrap_or_else(|| value.to_owned()))
            })?;
            if changed.get() {
                sealed += self.write(|conn| {
                    Ok(diesel::update(
                        connections::table
                            .filter(connections::id.eq(&id))
                            .filter(connections::protocol_config.eq(&stored)),
                    )
                    .set(connections::protocol_config.eq(&config))
                    .execute(conn)?)
                })?;
            }
        }
        Ok((CLIENT_SECRET_COLUMN, sealed))
    }
}
