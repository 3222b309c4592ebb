//! The service provider's own keys: one pair to decrypt assertions and one to sign requests,
//! per SAML connection.
//!
//! A key is an RSA 2048 private key with a self-signed certificate: SAML uses certificates only
//! as a way to carry a public key (no chain is built, none is checked), but ADFS refuses to
//! encrypt to an expired certificate, so each one says when it expires ([`SP_KEY_VALIDITY_DAYS`])
//! and the certificate checks warn before it does. The operator may bring their own pair
//! ([`import_sp_key`]) instead of the generated one.
//!
//! Rotation overlaps: a new key is published next to the old one; every published encryption
//! key decrypts, and the *oldest* published signing key signs, so a new signing key only signs
//! once the old one is retired — by then the IdP has read the new certificate.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder, X509};

use base64::Engine as _;

/// How long a generated SP certificate is valid.
pub const SP_KEY_VALIDITY_DAYS: u32 = 5 * 365;
/// The smallest RSA key accepted, generated or imported.
const MIN_RSA_BITS: u32 = 2048;

/// What an SP key is for: the `use` of its `KeyDescriptor` in the SP metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpKeyUse {
    /// Signs AuthnRequests and logout messages.
    Signing,
    /// Decrypts `EncryptedAssertion`s.
    Encryption,
}

impl SpKeyUse {
    pub const ALL: [SpKeyUse; 2] = [SpKeyUse::Signing, SpKeyUse::Encryption];

    pub fn as_str(self) -> &'static str {
        match self {
            SpKeyUse::Signing => "signing",
            SpKeyUse::Encryption => "encryption",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|key_use| key_use.as_str() == text)
    }
}

/// A new key pair, before it is stored.
pub struct NewSpKeyPair {
    /// PKCS#8 PEM.
    pub private_pem: String,
    /// Base64 DER, as it appears in metadata.
    pub certificate: String,
    pub not_after_unix: i64,
}

/// The private half never reaches a log through `{:?}`.
impl std::fmt::Debug for NewSpKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSpKeyPair")
            .field("not_after_unix", &self.not_after_unix)
            .finish_non_exhaustive()
    }
}

/// One published key of a connection, loaded.
#[derive(Clone)]
pub struct SpKey {
    pub id: String,
    pub key_use: SpKeyUse,
    /// Base64 DER.
    pub certificate: String,
    pub not_after_unix: i64,
    private: PKey<Private>,
}

impl std::fmt::Debug for SpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpKey")
            .field("id", &self.id)
            .field("key_use", &self.key_use)
            .field("not_after_unix", &self.not_after_unix)
            .finish_non_exhaustive()
    }
}

impl SpKey {
    /// Loads a stored key; `None` when its private half cannot be read (it was erased, or the
    /// row is corrupt): such a key is neither published nor used.
    pub fn load(
        id: String,
        key_use: SpKeyUse,
        private_pem: &str,
        certificate: String,
        not_after_unix: i64,
    ) -> Option<Self> {
        let private = PKey::private_key_from_pem(private_pem.as_bytes()).ok()?;
        Some(Self {
            id,
            key_use,
            certificate,
            not_after_unix,
            private,
        })
    }

    pub(crate) fn private_key(&self) -> &PKey<Private> {
        &self.private
    }
}

/// A connection's published keys, oldest first.
#[derive(Debug, Clone, Default)]
pub struct SpKeys {
    keys: Vec<SpKey>,
}

impl SpKeys {
    /// `keys` oldest first (the store's order).
    pub fn new(keys: Vec<SpKey>) -> Self {
        Self { keys }
    }

    /// Every key of one use, oldest first.
    pub fn of_use(&self, key_use: SpKeyUse) -> impl Iterator<Item = &SpKey> {
        self.keys.iter().filter(move |key| key.key_use == key_use)
    }

    /// The key that signs: the oldest published signing key (see the module docs).
    pub fn signing_key(&self) -> Option<&SpKey> {
        self.of_use(SpKeyUse::Signing).next()
    }
}

/// Generates an RSA 2048 key pair with a self-signed SHA-256 certificate for `common_name`
/// (cut to 64 bytes), valid from an hour before `now_unix` (clock skew at the IdP) for
/// [`SP_KEY_VALIDITY_DAYS`].
pub fn generate_sp_key(common_name: &str, now_unix: i64) -> Result<NewSpKeyPair, String> {
    let rsa = Rsa::generate(MIN_RSA_BITS).map_err(|err| format!("RSA key generation: {err}"))?;
    let key = PKey::from_rsa(rsa).map_err(|err| err.to_string())?;
    let not_before = now_unix.saturating_sub(3600);
    let not_after = now_unix.saturating_add(i64::from(SP_KEY_VALIDITY_DAYS) * 86_400);
    let certificate = self_signed(&key, common_name, not_before, not_after)
        .map_err(|err| format!("certificate: {err}"))?;
    new_pair(&key, &certificate, not_after)
}

/// Checks an operator's own key pair: an RSA private key of at least 2048 bits (PEM, PKCS#1 or
/// PKCS#8) and a PEM certificate for that same key that has not expired at `now_unix`.
pub fn import_sp_key(
    private_pem: &str,
    certificate_pem: &str,
    now_unix: i64,
) -> Result<NewSpKeyPair, String> {
    let key = PKey::private_key_from_pem(private_pem.as_bytes())
        .map_err(|_| "the private key is not a PEM private key".to_owned())?;
    let rsa = key
        .rsa()
        .map_err(|_| "the private key is not an RSA key".to_owned())?;
    if rsa.size() * 8 < MIN_RSA_BITS {
        return Err(format!(
            "the RSA key has {} bits; at least {MIN_RSA_BITS} are required",
            rsa.size() * 8
        ));
    }
    let certificate = X509::from_pem(certificate_pem.as_bytes())
        .map_err(|_| "the certificate is not a PEM X.509 certificate".to_owned())?;
    let public = certificate
        .public_key()
        .map_err(|_| "the certificate's public key cannot be read".to_owned())?;
    if !public.public_eq(&key) {
        return Err("the certificate is not for this private key".into());
    }
    let not_after = asn1_unix(certificate.not_after())?;
    if not_after <= now_unix {
        return Err("the certificate has expired".into());
    }
    new_pair(&key, &certificate, not_after)
}

/// The pair as stored: PKCS#8 PEM and base64 DER.
fn new_pair(
    key: &PKey<Private>,
    certificate: &X509,
    not_after_unix: i64,
) -> Result<NewSpKeyPair, String> {
    let private_pem = key
        .private_key_to_pem_pkcs8()
        .map_err(|err| err.to_string())?;
    Ok(NewSpKeyPair {
        private_pem: String::from_utf8(private_pem).map_err(|err| err.to_string())?,
        certificate: base64_der(certificate)?,
        not_after_unix,
    })
}

fn self_signed(
    key: &PKey<Private>,
    common_name: &str,
    not_before: i64,
    not_after: i64,
) -> Result<X509, openssl::error::ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", truncate(common_name, 64))?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(key)?;
    let not_before = Asn1Time::from_unix(not_before)?;
    let not_after = Asn1Time::from_unix(not_after)?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    builder.sign(key, MessageDigest::sha256())?;
    Ok(builder.build())
}

fn truncate(text: &str, max_bytes: usize) -> &str {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn base64_der(certificate: &X509) -> Result<String, String> {
    let der = certificate.to_der().map_err(|err| err.to_string())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(der))
}

/// An ASN.1 time as Unix seconds.
fn asn1_unix(time: &openssl::asn1::Asn1TimeRef) -> Result<i64, String> {
    let epoch = Asn1Time::from_unix(0).map_err(|err| err.to_string())?;
    let diff = epoch.diff(time).map_err(|err| err.to_string())?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_generated_key_has_a_certificate_for_itself_that_expires_when_it_says() {
        let pair = generate_sp_key("roster-sp test", NOW).expect("generated");
        let der = base64::engine::general_purpose::STANDARD
            .decode(&pair.certificate)
            .expect("base64");
        let certificate = X509::from_der(&der).expect("DER");
        let key = PKey::private_key_from_pem(pair.private_pem.as_bytes()).expect("PEM");
        assert!(certificate.public_key().expect("public").public_eq(&key));
        assert_eq!(
            asn1_unix(certificate.not_after()).expect("time"),
            pair.not_after_unix
        );
        assert_eq!(
            pair.not_after_unix,
            NOW + i64::from(SP_KEY_VALIDITY_DAYS) * 86_400
        );
        assert!(!format!("{pair:?}").contains("PRIVATE"));
    }

    #[test]
    fn an_imported_pair_must_match_be_rsa_2048_and_unexpired() {
        let pem = |pair: &NewSpKeyPair| {
            let der = base64::engine::general_purpose::STANDARD
                .decode(&pair.certificate)
                .expect("base64");
            String::from_utf8(X509::from_der(&der).expect("DER").to_pem().expect("PEM"))
                .expect("utf8")
        };
        let one = generate_sp_key("one", NOW).expect("generated");
        let other = generate_sp_key("other", NOW).expect("generated");
        let imported = import_sp_key(&one.private_pem, &pem(&one), NOW).expect("imported");
        assert_eq!(imported.certificate, one.certificate);

        let refusals = [
            (
                import_sp_key(&one.private_pem, &pem(&other), NOW),
                "not for this private key",
            ),
            (
                import_sp_key(&one.private_pem, &pem(&one), one.not_after_unix),
                "expired",
            ),
            (
                import_sp_key("not a key", &pem(&one), NOW),
                "not a PEM private key",
            ),
            (
                import_sp_key(&one.private_pem, "not a certificate", NOW),
                "not a PEM X.509",
            ),
        ];
        for (result, want) in refusals {
            let err = result.expect_err(want);
            assert!(err.contains(want), "{err} should say {want}");
        }

        let small = PKey::from_rsa(Rsa::generate(1024).expect("rsa")).expect("pkey");
        let small_pem =
            String::from_utf8(small.private_key_to_pem_pkcs8().expect("pem")).expect("utf8");
        let small_cert = self_signed(&small, "small", NOW - 10, NOW + 1000).expect("cert");
        let small_cert = String::from_utf8(small_cert.to_pem().expect("pem")).expect("utf8");
        let err = import_sp_key(&small_pem, &small_cert, NOW).expect_err("1024 bits");
        assert!(err.contains("1024 bits"), "{err}");
    }
}
