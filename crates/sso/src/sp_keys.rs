//! A SAML connection's own keys, from the store: made on first use (a connection created
//! before keys existed gets them the first time its metadata is read or a login starts), then
//! loaded for every request that signs or decrypts.

use std::sync::{Mutex, PoisonError};

use roster_domain::{Connection, Timestamp};
use roster_store::{NewSpKey, SpKeyRecord, Store, StoreResult};

use crate::saml::{generate_sp_key, SpKey, SpKeyUse, SpKeys};

/// The connection's published keys, after making any first key it lacks.
///
/// Making a key is an RSA-2048 generation, tens to hundreds of milliseconds of CPU. The first
/// logins of a connection arrive together (an IdP-initiated wave, a bench's 16 clients), and
/// each used to generate both keys before finding another had stored its own: a profile of the
/// first seconds of the bench's ACS phase had a quarter of the server's CPU in those discarded
/// generations. So one thread of this process makes keys at a time, and looks again once it
/// may.
pub fn connection_keys(store: &Store, connection: &Connection) -> StoreResult<SpKeys> {
    let uses: Vec<&'static str> = SpKeyUse::ALL.iter().map(|u| u.as_str()).collect();
    let stored = store.sp_keys(connection.id)?;
    if uses
        .iter()
        .all(|key_use| stored.iter().any(|key| key.key_use == *key_use))
    {
        return Ok(loaded(stored));
    }
    let _one_maker = MAKING.lock().unwrap_or_else(PoisonError::into_inner);
    let common_name = format!("Roster SP {}", connection.id);
    let make =
        |key_use: &'static str| -> Result<NewSpKey, String> { new_key(key_use, &common_name) };
    let records = store.ensure_sp_keys(connection.id, &uses, &make)?;
    Ok(loaded(records))
}

/// Held while a thread makes a connection's first keys (see [`connection_keys`]).
static MAKING: Mutex<()> = Mutex::new(());

/// A freshly generated key of `key_use`, for a rotation or a first key.
pub fn new_key(key_use: &'static str, common_name: &str) -> Result<NewSpKey, String> {
    let now = Timestamp::now().as_micros() / 1_000_000;
    let pair = generate_sp_key(common_name, now)?;
    Ok(NewSpKey {
        key_use,
        private_pem: pair.private_pem,
        certificate: pair.certificate,
        not_after: Timestamp::from_micros(pair.not_after_unix.saturating_mul(1_000_000)),
    })
}

/// Stored rows as keys; a row whose private half cannot be read is left out (and logged).
pub fn loaded(records: Vec<SpKeyRecord>) -> SpKeys {
    let keys = records
        .into_iter()
        .filter_map(|record| {
            let key_use = SpKeyUse::parse(&record.key_use)?;
            let key = SpKey::load(
                record.id.clone(),
                key_use,
                &record.private_pem,
                record.certificate,
                record.not_after / 1_000_000,
            );
            if key.is_none() {
                tracing::error!(key = %record.id, "an SP key's private half cannot be read; it is not used");
            }
            key
        })
        .collect();
    SpKeys::new(keys)
}
