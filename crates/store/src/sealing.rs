//! Secrets at rest: the columns that must hold a usable secret are sealed with the deployment's
//! data key, so a copy of the database (a backup, a dump, a stolen disk) yields no private key
//! and no secret.
//!
//! Hashing covers what Roster only compares (SCIM tokens, API keys, client secrets of its own
//! OAuth apps, passwords). What it must use again cannot be hashed: the private halves of session,
//! OAuth and SAML keys, webhook signing secrets and the client secrets of upstream OpenID
//! providers. Those are sealed here with AES-256-GCM under `security.data_key`, and opened only
//! when read through the store, so the callers see the plain value and nothing else changes.
//!
//! A sealed value is text: `sealed:v1:<key id>:<base64 of nonce, ciphertext and tag>`. The key id
//! (the first 8 hex digits of the key's SHA-256) says which key opens it, so a new key can take
//! over while the old ones still open what they sealed (`security.previous_data_keys`); the
//! start-up pass ([`crate::Store::seal_stored_secrets`]) seals values stored before sealing
//! existed and re-seals those of a previous key. The associated data is the column and the row
//! (`webhook_endpoints.secret:<id>`), so a sealed value moved to another row or column does not
//! open.
//!
//! An empty value (a private half erased when its key expired) stays empty: nothing to hide.

use base64::Engine as _;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use sha2::{Digest, Sha256};

use crate::{StoreError, StoreResult};

/// The prefix of every sealed value of format 1.
const SEALED_V1: &str = "sealed:v1:";
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
const KEY_BYTES: usize = 32;

/// One AES-256 key, as `security.data_key` gives it (standard base64 of 32 random bytes).
#[derive(Clone)]
pub struct DataKey {
    id: String,
    key: [u8; KEY_BYTES],
}

/// The key never reaches a log through `{:?}`; its id does.
impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl DataKey {
    /// Parses a key from its base64 text; the error says what is wrong, never the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "is not base64 (make one with `roster data-key generate`)".to_owned())?;
        let key: [u8; KEY_BYTES] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            format!(
                "must be {KEY_BYTES} bytes, this one is {} (make one with `roster data-key generate`)",
                bytes.len()
            )
        })?;
        let id = hex::encode(&Sha256::digest(key)[..4]);
        Ok(Self { id, key })
    }

    /// A new random key, as base64 text.
    pub fn generate() -> StoreResult<String> {
        let mut key = [0u8; KEY_BYTES];
        getrandom::fill(&mut key)
            .map_err(|err| StoreError::DataKey(format!("no randomness for a data key: {err}")))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(key))
    }

    /// The key's public name: the first 8 hex digits of its SHA-256.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The deployment's data keys: the current one seals and opens, the previous ones only open.
#[derive(Debug, Clone, Default)]
pub struct DataKeys {
    current: Option<DataKey>,
    previous: Vec<DataKey>,
}

/// Where a secret lives: its column and row, the associated data of its seal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub(crate) column: &'static str,
    pub(crate) row: &'a str,
}

impl Place<'_> {
    fn associated_data(&self) -> Vec<u8> {
        format!("roster:{}:{}", self.column, self.row).into_bytes()
    }
}

impl DataKeys {
    pub fn new(current: Option<DataKey>, previous: Vec<DataKey>) -> Self {
        Self { current, previous }
    }

    /// The id of the key that seals, if there is one.
    pub fn current_id(&self) -> Option<&str> {
        self.current.as_ref().map(DataKey::id)
    }

    /// `plain` sealed with the current key. Refused without one: no new secret is ever stored
    /// in the clear.
    pub(crate) fn seal(&self, place: Place<'_>, plain: &str) -> StoreResult<String> {
        if plain.is_empty() {
            return Ok(String::new());
        }
        let key = self.current.as_ref().ok_or_else(|| {
            StoreError::DataKey(format!(
                "{} holds a secret, and security.data_key is not set: Roster stores no secret \
                 unsealed (make a key with `roster data-key generate`)",
                place.column
            ))
        })?;
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)
            .map_err(|err| StoreError::DataKey(format!("no randomness for a nonce: {err}")))?;
        let mut tag = [0u8; TAG_BYTES];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &key.key,
            Some(&nonce),
            &place.associated_data(),
            plain.as_bytes(),
            &mut tag,
        )
        .map_err(|err| StoreError::DataKey(format!("sealing {}: {err}", place.column)))?;
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len() + TAG_BYTES);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed.extend_from_slice(&tag);
        Ok(format!(
            "{SEALED_V1}{}:{}",
            key.id,
            base64::engine::general_purpose::STANDARD.encode(sealed)
        ))
    }

    /// The plain value of what `seal` stored. A value stored before sealing existed is returned
    /// as it is (the start-up pass seals it).
    pub(crate) fn open(&self, place: Place<'_>, stored: &str) -> StoreResult<String> {
        let Some(rest) = stored.strip_prefix(SEALED_V1) else {
            return Ok(stored.to_owned());
        };
        let unreadable =
            |why: &str| StoreError::DataKey(format!("{} of {}: {why}", place.column, place.row));
        let (key_id, body) = rest
            .split_once(':')
            .ok_or_else(|| unreadable("a sealed value without its key id"))?;
        let key = self
            .current
            .iter()
            .chain(&self.previous)
            .find(|key| key.id == key_id)
            .ok_or_else(|| {
                unreadable(&format!(
                    "sealed with data key {key_id}, which is neither security.data_key nor one \
                     of security.previous_data_keys"
                ))
            })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| unreadable("a sealed value that is not base64"))?;
        if bytes.len() < NONCE_BYTES + TAG_BYTES {
            return Err(unreadable("a sealed value too short to be one"));
        }
        let (nonce, rest) = bytes.split_at(NONCE_BYTES);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_BYTES);
        let plain = decrypt_aead(
            Cipher::aes_256_gcm(),
            &key.key,
            Some(nonce),
            &place.associated_data(),
            ciphertext,
            tag,
        )
        .map_err(|_| unreadable("the seal does not open: the value was altered or moved"))?;
        String::from_utf8(plain).map_err(|_| unreadable("the opened value is not text"))
    }

    /// Whether `stored` is as the start-up pass leaves it: empty, or sealed with the current
    /// key. Without a current key nothing can be resealed, so everything counts as settled.
    pub(crate) fn is_settled(&self, stored: &str) -> bool {
        match &self.current {
            None => true,
            Some(key) => {
                stored.is_empty()
                    || stored
                        .strip_prefix(SEALED_V1)
                        .and_then(|rest| rest.split_once(':'))
                        .is_some_and(|(key_id, _)| key_id == key.id)
            }
        }
    }
}

/// A stored key whose private half is sealed: the session, OpenID Provider and SAML keys.
pub(crate) trait SealedPrivateKey: Clone {
    /// The sealed column, as the associated data names it.
    const COLUMN: &'static str;
    /// The row's key, as the associated data names it.
    fn row_id(&self) -> &str;
    fn private_pem_mut(&mut self) -> &mut String;

    /// This record as stored: its private half sealed.
    fn sealed(&self, keys: &DataKeys) -> StoreResult<Self> {
        let mut stored = self.clone();
        let id = stored.row_id().to_owned();
        let place = Place {
            column: Self::COLUMN,
            row: &id,
        };
        let sealed = keys.seal(place, stored.private_pem_mut())?;
        *stored.private_pem_mut() = sealed;
        Ok(stored)
    }

    /// This record as read: its private half opened.
    fn opened(mut self, keys: &DataKeys) -> StoreResult<Self> {
        let id = self.row_id().to_owned();
        let place = Place {
            column: Self::COLUMN,
            row: &id,
        };
        let opened = keys.open(place, self.private_pem_mut())?;
        *self.private_pem_mut() = opened;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::parse(&DataKey::generate().unwrap()).unwrap()
    }

    const HERE: Place<'static> = Place {
        column: "webhook_endpoints.secret",
        row: "endpoint-1",
    };

    #[test]
    fn a_sealed_value_opens_to_the_plain_one_and_shows_nothing_of_it() {
        let keys = DataKeys::new(Some(key()), vec![]);
        let sealed = keys.seal(HERE, "whsec_plain-secret").unwrap();
        assert!(sealed.starts_with(&format!("sealed:v1:{}:", keys.current_id().unwrap())));
        assert!(!sealed.contains("plain-secret"));
        assert_ne!(
            sealed,
            keys.seal(HERE, "whsec_plain-secret").unwrap(),
            "a fresh nonce"
        );
        assert_eq!(keys.open(HERE, &sealed).unwrap(), "whsec_plain-secret");
        assert!(keys.is_settled(&sealed));
    }

    #[test]
    fn a_value_from_before_sealing_reads_as_it_is_and_awaits_the_pass() {
        let keys = DataKeys::new(Some(key()), vec![]);
        assert_eq!(keys.open(HERE, "legacy").unwrap(), "legacy");
        assert!(!keys.is_settled("legacy"));
        assert!(keys.is_settled(""));
        assert_eq!(
            keys.seal(HERE, "").unwrap(),
            "",
            "an erased key stays empty"
        );
    }

    #[test]
    fn a_previous_key_opens_but_does_not_seal_and_its_values_await_the_pass() {
        let old = key();
        let sealed_by_old = DataKeys::new(Some(old.clone()), vec![])
            .seal(HERE, "s")
            .unwrap();
        let rotated = DataKeys::new(Some(key()), vec![old]);
        assert_eq!(rotated.open(HERE, &sealed_by_old).unwrap(), "s");
        assert!(!rotated.is_settled(&sealed_by_old));
        let forgotten = DataKeys::new(Some(key()), vec![]);
        let refused = forgotten
            .open(HERE, &sealed_by_old)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("security.previous_data_keys"), "{refused}");
    }

    #[test]
    fn a_seal_moved_to_another_row_or_altered_does_not_open() {
        let keys = DataKeys::new(Some(key()), vec![]);
        let sealed = keys.seal(HERE, "s").unwrap();
        let elsewhere = Place {
            column: "webhook_endpoints.secret",
            row: "endpoint-2",
        };
        assert!(keys.open(elsewhere, &sealed).is_err());
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(keys
            .open(HERE, std::str::from_utf8(&altered).unwrap())
            .is_err());
    }

    #[test]
    fn without_a_key_nothing_is_sealed_and_sealed_values_do_not_open() {
        let none = DataKeys::default();
        let refused = none.seal(HERE, "s").unwrap_err().to_string();
        assert!(refused.contains("security.data_key"), "{refused}");
        let sealed = DataKeys::new(Some(key()), vec![]).seal(HERE, "s").unwrap();
        assert!(none.open(HERE, &sealed).is_err());
    }

    #[test]
    fn a_key_that_is_not_32_bytes_of_base64_is_refused_without_echoing_it() {
        for bad in ["not base64!", "c2hvcnQ="] {
            let refused = DataKey::parse(bad).unwrap_err();
            assert!(!refused.contains(bad), "{refused}");
        }
        assert_eq!(key().id().len(), 8);
    }
}
