//! An IdP's side of XML Encryption, for tests: encrypts an assertion to an SP certificate the
//! way SimpleSAMLphp, ADFS or Okta do (`EncryptedKey` inside `EncryptedData/KeyInfo`). Shared
//! by roster-sso's unit and integration tests and the server's wire tests (`#[path]`), so that
//! production code carries no encryptor.
#![allow(dead_code)]

use base64::Engine as _;
use openssl::md::{Md, MdRef};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{self, Cipher};
use openssl::x509::X509;

pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const RSA_OAEP_11: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
pub const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
pub const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";

/// How an IdP encrypts.
#[derive(Debug, Clone, Copy)]
pub struct Encryption<'a> {
    /// The content algorithm (`EncryptedData`).
    pub data: &'a str,
    /// The key transport (`EncryptedKey`).
    pub transport: &'a str,
    /// OAEP's `DigestMethod`, when written.
    pub digest: Option<&'a str>,
    /// XML Encryption 1.1's `MGF`, when written.
    pub mgf: Option<&'a str>,
}

/// SimpleSAMLphp's defaults: AES-128-CBC, RSA-OAEP (MGF1 with SHA-1).
pub const SSP_DEFAULT: Encryption<'static> = Encryption {
    data: AES128_CBC,
    transport: RSA_OAEP_MGF1P,
    digest: None,
    mgf: None,
};

fn cipher(uri: &str) -> (Cipher, bool) {
    match uri {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => (Cipher::aes_128_cbc(), false),
        "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => (Cipher::aes_192_cbc(), false),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => (Cipher::aes_256_cbc(), false),
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => (Cipher::aes_128_gcm(), true),
        "http://www.w3.org/2009/xmlenc11#aes192-gcm" => (Cipher::aes_192_gcm(), true),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => (Cipher::aes_256_gcm(), true),
        other => panic!("no test encryptor for {other}"),
    }
}

fn md(uri: Option<&str>) -> &'static MdRef {
    match uri {
        None
        | Some("http://www.w3.org/2000/09/xmldsig#sha1")
        | Some("http://www.w3.org/2009/xmlenc11#mgf1sha1") => Md::sha1(),
        Some("http://www.w3.org/2001/04/xmlenc#sha256")
        | Some("http://www.w3.org/2009/xmlenc11#mgf1sha256") => Md::sha256(),
        Some("http://www.w3.org/2001/04/xmldsig-more#sha384")
        | Some("http://www.w3.org/2009/xmlenc11#mgf1sha384") => Md::sha384(),
        Some("http://www.w3.org/2001/04/xmlenc#sha512")
        | Some("http://www.w3.org/2009/xmlenc11#mgf1sha512") => Md::sha512(),
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha224") => Md::sha224(),
        // An algorithm the SP must refuse by name: any digest makes the ciphertext.
        Some(_) => Md::sha1(),
    }
}

/// `<saml:EncryptedAssertion>` of `plaintext` to `certificate` (base64 DER); the `saml:` prefix
/// must be bound by the response it goes in.
pub fn encrypt(plaintext: &[u8], certificate: &str, how: Encryption<'_>) -> String {
    let (cipher, gcm) = cipher(how.data);
    let mut key = vec![0u8; cipher.key_len()];
    openssl::rand::rand_bytes(&mut key).unwrap();
    let data = if gcm {
        let mut iv = [0u8; 12];
        openssl::rand::rand_bytes(&mut iv).unwrap();
        let mut tag = [0u8; 16];
        let ciphertext =
            symm::encrypt_aead(cipher, &key, Some(&iv), &[], plaintext, &mut tag).unwrap();
        [iv.as_slice(), &ciphertext, &tag].concat()
    } else {
        let mut iv = [0u8; 16];
        openssl::rand::rand_bytes(&mut iv).unwrap();
        let ciphertext = symm::encrypt(cipher, &key, Some(&iv), plaintext).unwrap();
        [iv.as_slice(), &ciphertext].concat()
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(certificate)
        .unwrap();
    let public = X509::from_der(&der).unwrap().public_key().unwrap();
    let mut ctx = PkeyCtx::new(&public).unwrap();
    ctx.encrypt_init().unwrap();
    if how.transport == RSA_1_5 {
        ctx.set_rsa_padding(Padding::PKCS1).unwrap();
    } else {
        ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
        ctx.set_rsa_oaep_md(md(how.digest)).unwrap();
        ctx.set_rsa_mgf1_md(md(how.mgf)).unwrap();
    }
    let mut wrapped = Vec::new();
    ctx.encrypt_to_vec(&key, &mut wrapped).unwrap();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let digest = how
        .digest
        .map(|uri| format!(r#"<ds:DigestMethod Algorithm="{uri}"/>"#))
        .unwrap_or_default();
    let mgf = how
        .mgf
        .map(|uri| {
            format!(
                r#"<xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="{uri}"/>"#
            )
        })
        .unwrap_or_default();
    format!(
        r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{data}"/><ds:KeyInfo><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{transport}">{digest}{mgf}</xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{wrapped}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{ciphertext}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
        data = how.data,
        transport = how.transport,
        wrapped = b64(&wrapped),
        ciphertext = b64(&data),
    )
}

/// `encrypted` (an `EncryptedAssertion`) with one byte of its content ciphertext changed, the
/// 17th from the end, so that decryption fails whatever the key: under GCM it is the last byte
/// of the ciphertext (the tag no longer matches); under CBC it is the last byte of the block
/// before the last, so the padding length (the last plaintext byte) becomes itself XOR 0x80,
/// always over 16. (Changing the last CBC block instead garbles the padding at random, and 1 in
/// 16 times it still reads as valid.)
pub fn tampered(encrypted: &str) -> String {
    let start = encrypted.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let end = encrypted.rfind("</xenc:CipherValue>").unwrap();
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(&encrypted[start..end])
        .unwrap();
    let index = bytes.len() - 17;
    bytes[index] ^= 0x80;
    format!(
        "{}{}{}",
        &encrypted[..start],
        base64::engine::general_purpose::STANDARD.encode(bytes),
        &encrypted[end..]
    )
}
