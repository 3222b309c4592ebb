//! Compact JWS (RFC 7515) over the provider's own keys, with OpenSSL — the one place that turns
//! bytes into signatures and back.
//!
//! Verification never trusts the header's `alg`: the key named by `kid` carries the algorithm it
//! was registered with, and a header that says anything else (`none`, `HS256` keyed with the
//! public key, RFC 8725 §3.1) is refused before any cryptography runs.

use base64::Engine;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use roster_store::{SigningAlg, SigningKeyRecord};
use serde::{Deserialize, Serialize};

use super::TokenRefusal;
use crate::ProviderError;

/// Length of each of `r` and `s` in a P-256 JWS signature (RFC 7518 §3.4).
const P256_COORDINATE: i32 = 32;

pub(crate) fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn from_base64url(text: &str) -> Result<Vec<u8>, TokenRefusal> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| TokenRefusal::Malformed)
}

fn key_error(err: openssl::error::ErrorStack) -> ProviderError {
    ProviderError::Key(err.to_string())
}

/// A JOSE header as Roster writes and reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// A private key that signs, with the `kid` and algorithm it is published under.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    key: PKey<Private>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The signing half of a stored key.
    pub fn from_record(record: &SigningKeyRecord) -> Result<Self, ProviderError> {
        Ok(Self {
            kid: record.kid.clone(),
            alg: record.alg()?,
            key: PKey::private_key_from_pem(record.private_pem.as_bytes()).map_err(key_error)?,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public half, for verifying what this key signed.
    pub fn verifying_key(&self) -> Result<VerifyingKey, ProviderError> {
        let der = self.key.public_key_to_der().map_err(key_error)?;
        Ok(VerifyingKey {
            kid: self.kid.clone(),
            alg: self.alg,
            key: PKey::public_key_from_der(&der).map_err(key_error)?,
        })
    }

    /// `header.claims.signature` with header `{alg, kid, typ}`.
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, ProviderError> {
        let header = Header {
            alg: self.alg.as_str().to_owned(),
            kid: Some(self.kid.clone()),
            typ: Some(typ.to_owned()),
        };
        let input = format!(
            "{}.{}",
            base64url(&to_json(&header)?),
            base64url(&to_json(claims)?)
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).map_err(key_error)?;
        signer.update(input.as_bytes()).map_err(key_error)?;
        let mut signature = signer.sign_to_vec().map_err(key_error)?;
        if self.alg == SigningAlg::Es256 {
            // OpenSSL writes DER; JWS wants r || s, each 32 bytes.
            let der = EcdsaSig::from_der(&signature).map_err(key_error)?;
            signature = der.r().to_vec_padded(P256_COORDINATE).map_err(key_error)?;
            signature.extend(der.s().to_vec_padded(P256_COORDINATE).map_err(key_error)?);
        }
        Ok(format!("{input}.{}", base64url(&signature)))
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(value).map_err(|err| ProviderError::Key(err.to_string()))
}

/// A public key that verifies, with the algorithm it was registered with.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: String,
    alg: SigningAlg,
    key: PKey<Public>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// The public half of a stored key.
    pub fn from_record(record: &SigningKeyRecord) -> Result<Self, ProviderError> {
        SigningKey::from_record(record)?.verifying_key()
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// A token whose signature verified under one of our keys: its header and claims, not yet
/// read as any kind of token (the caller checks `typ` first).
#[derive(Debug)]
pub struct Verified {
    pub header: Header,
    pub claims: serde_json::Value,
}

/// Checks `token`'s signature with the key its `kid` names among `keys`, using that key's
/// registered algorithm; the header's `alg` must say the same. Claims are not looked at.
pub fn verify(token: &str, keys: &[VerifyingKey]) -> Result<Verified, TokenRefusal> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenRefusal::Malformed);
    };
    let header: Header = serde_json::from_slice(&from_base64url(header_b64)?)
        .map_err(|_| TokenRefusal::Malformed)?;
    let kid = header.kid.as_deref().ok_or(TokenRefusal::UnknownKey)?;
    let key = keys
        .iter()
        .find(|key| key.kid == kid)
        .ok_or(TokenRefusal::UnknownKey)?;
    if header.alg != key.alg.as_str() {
        return Err(TokenRefusal::WrongAlgorithm);
    }
    let mut signature = from_base64url(signature_b64)?;
    if key.alg == SigningAlg::Es256 {
        signature = es256_to_der(&signature)?;
    }
    let input = &token[..header_b64.len() + 1 + claims_b64.len()];
    let verified = Verifier::new(MessageDigest::sha256(), &key.key)
        .and_then(|mut verifier| verifier.verify_oneshot(&signature, input.as_bytes()))
        .unwrap_or(false);
    if !verified {
        return Err(TokenRefusal::BadSignature);
    }
    let claims = serde_json::from_slice(&from_base64url(claims_b64)?)
        .map_err(|_| TokenRefusal::Malformed)?;
    Ok(Verified { header, claims })
}

/// A JWS ES256 signature (r || s) as the DER OpenSSL verifies.
fn es256_to_der(signature: &[u8]) -> Result<Vec<u8>, TokenRefusal> {
    let coordinate = P256_COORDINATE as usize;
    if signature.len() != 2 * coordinate {
        return Err(TokenRefusal::BadSignature);
    }
    let (r, s) = signature.split_at(coordinate);
    let bad = |_| TokenRefusal::BadSignature;
    let sig = EcdsaSig::from_private_components(
        BigNum::from_slice(r).map_err(bad)?,
        BigNum::from_slice(s).map_err(bad)?,
    )
    .map_err(bad)?;
    sig.to_der().map_err(bad)
}
