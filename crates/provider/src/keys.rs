//! The provider's signing keys: made here, kept in the store (`oauth_signing_keys`), published in
//! the JWKS next to the session keys.
//!
//! Products verify Roster's tokens offline with whatever key set they cached, so the store gives
//! each key a life of timestamps (next → current → retiring → expired; see
//! `roster_store::SigningKeyRecord`) and every replica reads the same answer from it. One key
//! per algorithm signs: RS256 (OpenID Connect Core §15.1 requires it; the default for ID tokens)
//! and ES256 (per app, and much cheaper to sign). The first replica that needs a key for an
//! algorithm creates it, so a fresh deployment has both without an operator step.
//!
//! Like the session keys, the parsed keys are cached per replica for `sso.key_cache_secs`:
//! the JWKS costs no key query while fresh, and a rotation done elsewhere shows within that time.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use roster_store::domain::Timestamp;
use roster_store::{SigningAlg, SigningKeyRecord, Store};
use serde_json::{json, Value};

use crate::tokens::{SigningKey, VerifyingKey};
use crate::ProviderError;

/// RSA modulus size of RS256 keys.
const RSA_BITS: u32 = 2048;

fn key_error(err: openssl::error::ErrorStack) -> ProviderError {
    ProviderError::Key(err.to_string())
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh random key id.
fn new_kid() -> Result<String, ProviderError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|err| ProviderError::Key(err.to_string()))?;
    Ok(hex::encode(bytes))
}

/// A new key for `alg`, published from `now` and signing from `now`, as the store keeps it: the
/// private half as PKCS#8 PEM, the public half as a JWK with `kid`, `alg` and `use: "sig"`.
pub fn generate_key(alg: SigningAlg, now: Timestamp) -> Result<SigningKeyRecord, ProviderError> {
    let kid = new_kid()?;
    let (private, public) = match alg {
        SigningAlg::Rs256 => {
            let rsa = Rsa::generate(RSA_BITS).map_err(key_error)?;
            let public = json!({
                "kty": "RSA",
                "n": base64url(&rsa.n().to_vec()),
                "e": base64url(&rsa.e().to_vec()),
            });
            (PKey::from_rsa(rsa).map_err(key_error)?, public)
        }
        SigningAlg::Es256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(key_error)?;
            let ec = EcKey::generate(&group).map_err(key_error)?;
            let (mut x, mut y) = (
                BigNum::new().map_err(key_error)?,
                BigNum::new().map_err(key_error)?,
            );
            let mut context = BigNumContext::new().map_err(key_error)?;
            ec.public_key()
                .affine_coordinates(&group, &mut x, &mut y, &mut context)
                .map_err(key_error)?;
            let public = json!({
                "kty": "EC",
                "crv": "P-256",
                "x": base64url(&x.to_vec_padded(32).map_err(key_error)?),
                "y": base64url(&y.to_vec_padded(32).map_err(key_error)?),
            });
            (PKey::from_ec_key(ec).map_err(key_error)?, public)
        }
    };
    let mut jwk = public;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    let pem = private.private_key_to_pem_pkcs8().map_err(key_error)?;
    Ok(SigningKeyRecord {
        kid,
        algorithm: alg.as_str().to_owned(),
        private_pem: String::from_utf8(pem).map_err(|err| ProviderError::Key(err.to_string()))?,
        public_jwk: jwk.to_string(),
        created_at: now.as_micros(),
        signs_from: now.as_micros(),
        retired_at: None,
        verify_until: None,
    })
}

/// A stored key, parsed once per load: its JWK and both halves, so minting a token never
/// parses a PEM (an RSA private key takes longer to parse than to sign with).
struct LoadedKey {
    record: SigningKeyRecord,
    jwk: Value,
    signing: Arc<SigningKey>,
    verifying: VerifyingKey,
}

/// Every key of the store, parsed at `loaded_at`.
struct KeySet {
    loaded_at: Instant,
    keys: Vec<LoadedKey>,
}

/// The provider's keys as a replica uses them: loaded from the store, created when missing,
/// cached for a short time.
#[derive(Clone)]
pub struct ProviderKeys {
    store: Store,
    cache_for: Duration,
    cache: Arc<RwLock<Option<Arc<KeySet>>>>,
    /// Held by the one thread loading the set, so the requests that find it stale together
    /// wait for that load instead of each parsing every key again (and, on a first start,
    /// each generating an RSA key to discard: a profile of the bench's first code exchanges had
    /// a fifth of the server's CPU there).
    loading: Arc<Mutex<()>>,
    /// Key sets loaded from the store (for the tests).
    loads: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeys")
            .field("cache_for", &self.cache_for)
            .finish_non_exhaustive()
    }
}

impl ProviderKeys {
    pub fn new(store: Store, cache_for: Duration) -> Self {
        Self {
            store,
            cache_for,
            cache: Arc::default(),
            loading: Arc::default(),
            loads: Arc::default(),
        }
    }

    /// The public keys that belong in the JWKS at `now`: every key not expired, `next` ones
    /// included so products know them before their first token.
    pub fn published_at(&self, now: Timestamp) -> Result<Vec<Value>, ProviderError> {
        let set = self.key_set(now)?;
        Ok(set
            .keys
            .iter()
            .filter(|key| key.record.status_at(now).is_published())
            .map(|key| key.jwk.clone())
            .collect())
    }

    /// The key that signs `alg` tokens at `now`: the current key of that algorithm (the most
    /// recent one if a rotation overlaps).
    pub fn signing_key(
        &self,
        alg: SigningAlg,
        now: Timestamp,
    ) -> Result<Arc<SigningKey>, ProviderError> {
        let set = self.key_set(now)?;
        set.keys
            .iter()
            .filter(|key| {
                key.signing.alg() == alg
                    && key.record.status_at(now) == roster_store::SigningKeyStatus::Current
            })
            .max_by_key(|key| key.record.signs_from)
            .map(|key| Arc::clone(&key.signing))
            .ok_or_else(|| ProviderError::Key(format!("no current {} key", alg.as_str())))
    }

    /// The keys that verify the provider's tokens at `now`: every published one, so tokens and
    /// `id_token_hint`s signed before a rotation still verify while their key is published.
    pub fn verifying_keys(&self, now: Timestamp) -> Result<Vec<VerifyingKey>, ProviderError> {
        let set = self.key_set(now)?;
        Ok(set
            .keys
            .iter()
            .filter(|key| key.record.status_at(now).is_published())
            .map(|key| key.verifying.clone())
            .collect())
    }

    /// The cached key set while fresh, else the store's (creating a key for any algorithm that
    /// has none that could sign).
    fn key_set(&self, now: Timestamp) -> Result<Arc<KeySet>, ProviderError> {
        if let Some(set) = self.fresh() {
            return Ok(set);
        }
        let _one_loader = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have loaded it while this one waited.
        if let Some(set) = self.fresh() {
            return Ok(set);
        }
        let set = Arc::new(self.load(now)?);
        *self.cache.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&set));
        Ok(set)
    }

    /// The cached key set, while fresh.
    fn fresh(&self) -> Option<Arc<KeySet>> {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        cache
            .as_ref()
            .filter(|set| set.loaded_at.elapsed() < self.cache_for)
            .map(Arc::clone)
    }

    fn load(&self, now: Timestamp) -> Result<KeySet, ProviderError> {
        self.loads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut records = self.store.oauth_signing_keys()?;
        let mut created = false;
        for alg in SigningAlg::ALL {
            let has_key = records
                .iter()
                .any(|key| key.algorithm == alg.as_str() && key.retired_at.is_none());
            if !has_key {
                // A key made because there was none signs from the start of time, not from
                // this request's `now`: requests racing to create it (each with its own clock
                // reading) must all find it current, whichever one's insert won.
                let mut first = generate_key(alg, now)?;
                first.signs_from = 0;
                self.store.ensure_oauth_signing_key(&first)?;
                created = true;
            }
        }
        if created {
            records = self.store.oauth_signing_keys()?;
        }
        let mut keys = Vec::with_capacity(records.len());
        // Expired keys are never published and the store has wiped their private half.
        for record in records
            .into_iter()
            .filter(|record| record.status_at(now).is_published())
        {
            match parse(&record) {
                Ok((jwk, signing, verifying)) => keys.push(LoadedKey {
                    record,
                    jwk,
                    signing: Arc::new(signing),
                    verifying,
                }),
                Err(err) => {
                    let kid = &record.kid;
                    tracing::error!(%kid, error = %err, "unusable provider key skipped");
                }
            }
        }
        Ok(KeySet {
            loaded_at: Instant::now(),
            keys,
        })
    }
}

/// A stored key's JWK and halves.
fn parse(record: &SigningKeyRecord) -> Result<(Value, SigningKey, VerifyingKey), ProviderError> {
    let jwk = serde_json::from_str::<Value>(&record.public_jwk)
        .map_err(|err| ProviderError::Key(err.to_string()))?;
    let signing = SigningKey::from_record(record)?;
    let verifying = signing.verifying_key()?;
    Ok((jwk, signing, verifying))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests that find no key set (a first start, or the cache just expired) wait for one
    /// load instead of each loading, and generating, their own.
    #[test]
    fn requests_that_find_the_set_stale_together_share_one_load() {
        let db = roster_store::testing::TestStore::new();
        let keys = ProviderKeys::new(db.store.clone(), Duration::from_secs(60));
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|threads| {
            for _ in 0..8 {
                threads.spawn(|| {
                    start.wait();
                    keys.signing_key(SigningAlg::Es256, Timestamp::now())
                        .unwrap();
                });
            }
        });
        assert_eq!(keys.loads.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(db.store.oauth_signing_keys().unwrap().len(), 2);
    }
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use openssl::hash::MessageDigest;
    use openssl::sign::Signer;
    use pretty_assertions::assert_eq;

    /// A JWS signed by the stored private half, in the shape products receive.
    fn sign(record: &SigningKeyRecord, claims: &Value) -> String {
        let key = PKey::private_key_from_pem(record.private_pem.as_bytes()).unwrap();
        let header = json!({ "alg": record.algorithm, "kid": record.kid, "typ": "JWT" });
        let input = format!(
            "{}.{}",
            base64url(header.to_string().as_bytes()),
            base64url(claims.to_string().as_bytes())
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
        signer.update(input.as_bytes()).unwrap();
        let mut signature = signer.sign_to_vec().unwrap();
        if record.algorithm == "ES256" {
            // DER to JWS (r || s).
            let der = openssl::ecdsa::EcdsaSig::from_der(&signature).unwrap();
            signature = der.r().to_vec_padded(32).unwrap();
            signature.extend(der.s().to_vec_padded(32).unwrap());
        }
        format!("{input}.{}", base64url(&signature))
    }

    /// The published JWK of each algorithm verifies what its private half signs, in a JOSE
    /// library that products use; it carries `kid`, `alg`, `use` and nothing private.
    #[test]
    fn published_keys_verify_what_their_private_half_signs() {
        for (alg, algorithm, kty) in [
            (SigningAlg::Rs256, Algorithm::RS256, "RSA"),
            (SigningAlg::Es256, Algorithm::ES256, "EC"),
        ] {
            let record = generate_key(alg, Timestamp::now()).unwrap();
            let jwk: Value = serde_json::from_str(&record.public_jwk).unwrap();
            assert_eq!(jwk["kid"], record.kid.as_str());
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["kty"], kty);
            for private_member in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(jwk.get(private_member).is_none(), "{private_member}");
            }
            let claims = json!({ "sub": "user", "aud": "app", "exp": 4_000_000_000_i64 });
            let token = sign(&record, &claims);
            let typed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).unwrap();
            let key = DecodingKey::from_jwk(&typed).unwrap();
            let mut validation = Validation::new(algorithm);
            validation.set_audience(&["app"]);
            let decoded = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
            assert_eq!(decoded.claims, claims);

            let other = generate_key(alg, Timestamp::now()).unwrap();
            assert_ne!(other.kid, record.kid);
            let forged = sign(&other, &claims);
            assert!(jsonwebtoken::decode::<Value>(&forged, &key, &validation).is_err());
        }
    }
}
