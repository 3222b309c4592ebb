//! `EncryptedAssertion` → `Assertion` (XML Encryption 1.1), before any assertion check runs.
//!
//! [`decrypt_response`] finds the one `EncryptedAssertion` of a response, unwraps its content
//! key with one of the connection's encryption keys, decrypts the assertion, and answers the
//! response with the plaintext `Assertion` in its place — the document that the pre-scan,
//! samael's signature check and `checks.rs` then see exactly as if it had come unencrypted. The
//! response's own signature covered the ciphertext; it is verified by the caller *before*
//! decryption and removed here (its digest cannot match the decrypted document).
//!
//! # Algorithms
//!
//! Key transport: RSA-OAEP (`rsa-oaep-mgf1p`, and XML Encryption 1.1's `rsa-oaep` with its
//! `DigestMethod` and `MGF`). RSA PKCS#1 v1.5 (`rsa-1_5`) is refused before any key is used: its
//! padding oracle (Bleichenbacher; Jager, Schwenk and Somorovsky against XML Encryption in 2012)
//! lets whoever can submit responses decrypt any of them. Content: AES-128/192/256 in GCM or CBC.
//! Triple DES and everything else is refused by name.
//!
//! # No oracle
//!
//! Whatever depends on the key — the key unwrap, the key's length, CBC padding, the GCM tag, the
//! plaintext being UTF-8 — fails with one error, [`SamlError::DecryptionFailed`], and the same
//! work: when no key unwraps the content key, a random one decrypts the content anyway and that
//! fails (or produces garbage that fails) just as a wrong key would. What the response says in
//! the clear (its algorithms, its structure) is reported precisely, since it is no secret.

use openssl::md::{Md, MdRef};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{self, Cipher, Crypter, Mode};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

use base64::Engine as _;

use super::error::SamlError;
use super::keys::SpKey;

const XENC_NS: &[u8] = b"http://www.w3.org/2001/04/xmlenc#";
const XENC11_NS: &[u8] = b"http://www.w3.org/2009/xmlenc11#";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const SAML_ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";

const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP_11: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

/// At most this many `EncryptedKey`s are tried (one per recipient is the norm; a few allow a
/// rotation at the IdP), so a response cannot make Roster run thousands of RSA operations.
const MAX_ENCRYPTED_KEYS: usize = 4;

/// The key transports accepted (what a refusal of another one lists).
pub(crate) const ALLOWED_KEY_TRANSPORT: &[&str] = &[RSA_OAEP_MGF1P, RSA_OAEP_11];
/// The content encryption algorithms accepted: [`content_cipher`] knows each.
pub(crate) const ALLOWED_CONTENT: &[&str] = &[
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2009/xmlenc11#aes192-gcm",
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
];
/// OAEP digests accepted: [`oaep_digest`] knows each.
pub(crate) const ALLOWED_OAEP_DIGESTS: &[&str] = &[
    "http://www.w3.org/2000/09/xmldsig#sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
/// MGF1 digests accepted: [`oaep_mgf`] knows each.
pub(crate) const ALLOWED_MGFS: &[&str] = &[
    "http://www.w3.org/2009/xmlenc11#mgf1sha1",
    "http://www.w3.org/2009/xmlenc11#mgf1sha224",
    "http://www.w3.org/2009/xmlenc11#mgf1sha256",
    "http://www.w3.org/2009/xmlenc11#mgf1sha384",
    "http://www.w3.org/2009/xmlenc11#mgf1sha512",
];

/// The content encryption algorithms accepted, by URI.
fn content_cipher(uri: &str) -> Option<ContentCipher> {
    let (cipher, mode) = match uri {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => (Cipher::aes_128_cbc(), BlockMode::Cbc),
        "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => (Cipher::aes_192_cbc(), BlockMode::Cbc),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => (Cipher::aes_256_cbc(), BlockMode::Cbc),
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => (Cipher::aes_128_gcm(), BlockMode::Gcm),
        "http://www.w3.org/2009/xmlenc11#aes192-gcm" => (Cipher::aes_192_gcm(), BlockMode::Gcm),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => (Cipher::aes_256_gcm(), BlockMode::Gcm),
        _ => return None,
    };
    Some(ContentCipher { cipher, mode })
}

/// OAEP's digest (`DigestMethod`, SHA-1 when absent, as the spec says).
fn oaep_digest(uri: Option<&str>) -> Option<&'static MdRef> {
    match uri {
        None | Some("http://www.w3.org/2000/09/xmldsig#sha1") => Some(Md::sha1()),
        Some("http://www.w3.org/2001/04/xmlenc#sha256") => Some(Md::sha256()),
        Some("http://www.w3.org/2001/04/xmldsig-more#sha384") => Some(Md::sha384()),
        Some("http://www.w3.org/2001/04/xmlenc#sha512") => Some(Md::sha512()),
        Some(_) => None,
    }
}

/// XML Encryption 1.1's mask generation function (`MGF`, MGF1 with SHA-1 when absent).
fn oaep_mgf(uri: Option<&str>) -> Option<&'static MdRef> {
    match uri {
        None | Some("http://www.w3.org/2009/xmlenc11#mgf1sha1") => Some(Md::sha1()),
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha224") => Some(Md::sha224()),
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha256") => Some(Md::sha256()),
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha384") => Some(Md::sha384()),
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha512") => Some(Md::sha512()),
        Some(_) => None,
    }
}

#[derive(Clone, Copy)]
enum BlockMode {
    Cbc,
    Gcm,
}

struct ContentCipher {
    cipher: Cipher,
    mode: BlockMode,
}

/// An `EncryptedKey` as read: its algorithms checked, its ciphertext decoded.
struct KeyTransport {
    digest: &'static MdRef,
    mgf: &'static MdRef,
    label: Option<Vec<u8>>,
    cipher_value: Vec<u8>,
}

/// What the walk over the `EncryptedAssertion` collected.
#[derive(Default)]
struct Found {
    /// Byte range of the response's own `ds:Signature` (a child of the root).
    response_signature: Option<(usize, usize)>,
    /// Byte range of the `EncryptedAssertion`.
    encrypted_assertion: Option<(usize, usize)>,
    data_algorithm: Option<String>,
    data_cipher_value: Option<String>,
    keys: Vec<RawKey>,
    /// A `CipherReference` (ciphertext fetched from elsewhere): never followed.
    cipher_reference: bool,
    n_encrypted_data: usize,
}

#[derive(Default)]
struct RawKey {
    algorithm: Option<String>,
    digest: Option<String>,
    mgf: Option<String>,
    label: Option<String>,
    cipher_value: Option<String>,
}

/// Decrypts the one `EncryptedAssertion` of `xml` (a response whose envelope the caller has
/// verified or will verify) with `keys` (the connection's encryption keys) and answers the
/// response with the plaintext assertion in its place and without its own signature.
pub(crate) fn decrypt_response<'a>(
    xml: &str,
    keys: impl IntoIterator<Item = &'a SpKey>,
) -> Result<String, SamlError> {
    let found = walk(xml)?;
    let (start, end) = found
        .encrypted_assertion
        .ok_or(SamlError::AssertionMissing)?;
    if found.n_encrypted_data != 1 {
        return Err(malformed("exactly one EncryptedData is accepted"));
    }
    if found.cipher_reference {
        return Err(malformed("a CipherReference is not followed"));
    }
    let algorithm = found
        .data_algorithm
        .ok_or_else(|| malformed("EncryptedData has no EncryptionMethod"))?;
    let content =
        content_cipher(&algorithm).ok_or_else(|| forbidden("EncryptedData", &algorithm))?;
    let ciphertext = decode(
        found
            .data_cipher_value
            .as_deref()
            .ok_or_else(|| malformed("EncryptedData has no CipherValue"))?,
    )?;
    if found.keys.is_empty() {
        return Err(malformed("no EncryptedKey"));
    }
    if found.keys.len() > MAX_ENCRYPTED_KEYS {
        return Err(malformed("more than 4 EncryptedKeys"));
    }
    let transports = found
        .keys
        .into_iter()
        .map(key_transport)
        .collect::<Result<Vec<_>, _>>()?;

    // From here on, every failure is the same failure.
    let keys: Vec<&SpKey> = keys.into_iter().collect();
    let content_key = unwrap_content_key(&transports, &keys, content.cipher.key_len())
        .unwrap_or_else(|| random_key(content.cipher.key_len()));
    let plaintext =
        decrypt_content(&content, &content_key, &ciphertext).ok_or(SamlError::DecryptionFailed)?;
    let assertion = String::from_utf8(plaintext).map_err(|_| SamlError::DecryptionFailed)?;
    let assertion = strip_declaration(&assertion).ok_or(SamlError::DecryptionFailed)?;

    let mut out = String::with_capacity(xml.len() + assertion.len());
    match found.response_signature {
        Some((sig_start, sig_end)) if sig_end <= start => {
            out.push_str(&xml[..sig_start]);
            out.push_str(&xml[sig_end..start]);
            out.push_str(assertion);
            out.push_str(&xml[end..]);
        }
        Some((sig_start, sig_end)) => {
            out.push_str(&xml[..start]);
            out.push_str(assertion);
            out.push_str(&xml[end..sig_start]);
            out.push_str(&xml[sig_end..]);
        }
        None => {
            out.push_str(&xml[..start]);
            out.push_str(assertion);
            out.push_str(&xml[end..]);
        }
    }
    Ok(out)
}

/// The plaintext must be an element; an XML declaration in front of it (some encryptors write
/// one) is dropped, anything else in front of the first `<` is not an assertion.
fn strip_declaration(plaintext: &str) -> Option<&str> {
    let text = plaintext.trim_start_matches('\u{feff}').trim_start();
    let text = match text.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>")?.1.trim_start(),
        None => text,
    };
    text.starts_with('<').then_some(text)
}

fn unwrap_content_key(
    transports: &[KeyTransport],
    keys: &[&SpKey],
    key_len: usize,
) -> Option<Vec<u8>> {
    // Every pair is tried even after one unwraps, so the work does not say which key matched.
    let mut found = None;
    for transport in transports {
        for key in keys {
            if let Some(content_key) = rsa_oaep_decrypt(transport, key) {
                if content_key.len() == key_len && found.is_none() {
                    found = Some(content_key);
                }
            }
        }
    }
    found
}

fn rsa_oaep_decrypt(transport: &KeyTransport, key: &SpKey) -> Option<Vec<u8>> {
    let mut ctx = PkeyCtx::new(key.private_key()).ok()?;
    ctx.decrypt_init().ok()?;
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).ok()?;
    ctx.set_rsa_oaep_md(transport.digest).ok()?;
    ctx.set_rsa_mgf1_md(transport.mgf).ok()?;
    if let Some(label) = &transport.label {
        ctx.set_rsa_oaep_label(label).ok()?;
    }
    let mut out = Vec::new();
    ctx.decrypt_to_vec(&transport.cipher_value, &mut out).ok()?;
    Some(out)
}

fn random_key(len: usize) -> Vec<u8> {
    let mut key = vec![0u8; len];
    // Should the system's randomness fail, the zero key decrypts nothing either.
    let _ = openssl::rand::rand_bytes(&mut key);
    key
}

/// AES-GCM: a 12-byte IV, the ciphertext, a 16-byte tag. AES-CBC: a 16-byte IV, then blocks
/// padded as XML Encryption pads (the last byte counts the padding; the others are arbitrary,
/// so this is not PKCS#7 and OpenSSL's own unpadding is off).
fn decrypt_content(content: &ContentCipher, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    match content.mode {
        BlockMode::Gcm => {
            const IV: usize = 12;
            const TAG: usize = 16;
            if data.len() < IV + TAG {
                return None;
            }
            let (iv, rest) = data.split_at(IV);
            let (ciphertext, tag) = rest.split_at(rest.len() - TAG);
            symm::decrypt_aead(content.cipher, key, Some(iv), &[], ciphertext, tag).ok()
        }
        BlockMode::Cbc => {
            const BLOCK: usize = 16;
            if data.len() < 2 * BLOCK || data.len() % BLOCK != 0 {
                return None;
            }
            let (iv, ciphertext) = data.split_at(BLOCK);
            let mut crypter = Crypter::new(content.cipher, Mode::Decrypt, key, Some(iv)).ok()?;
            crypter.pad(false);
            let mut out = vec![0u8; ciphertext.len() + BLOCK];
            let mut len = crypter.update(ciphertext, &mut out).ok()?;
            len += crypter.finalize(&mut out[len..]).ok()?;
            out.truncate(len);
            let padding = usize::from(*out.last()?);
            if padding == 0 || padding > BLOCK || padding > out.len() {
                return None;
            }
            out.truncate(out.len() - padding);
            Some(out)
        }
    }
}

fn key_transport(raw: RawKey) -> Result<KeyTransport, SamlError> {
    let algorithm = raw
        .algorithm
        .ok_or_else(|| malformed("EncryptedKey has no EncryptionMethod"))?;
    let mgf = match algorithm.as_str() {
        RSA_OAEP_MGF1P => match raw.mgf {
            None => Md::sha1(),
            Some(_) => return Err(malformed("rsa-oaep-mgf1p takes no MGF")),
        },
        RSA_OAEP_11 => oaep_mgf(raw.mgf.as_deref())
            .ok_or_else(|| forbidden("MGF", raw.mgf.as_deref().unwrap_or_default()))?,
        RSA_1_5 => return Err(forbidden("EncryptedKey", &algorithm)),
        other => return Err(forbidden("EncryptedKey", other)),
    };
    let digest = oaep_digest(raw.digest.as_deref())
        .ok_or_else(|| forbidden("DigestMethod", raw.digest.as_deref().unwrap_or_default()))?;
    let label = raw.label.as_deref().map(decode).transpose()?;
    let cipher_value = decode(
        raw.cipher_value
            .as_deref()
            .ok_or_else(|| malformed("EncryptedKey has no CipherValue"))?,
    )?;
    Ok(KeyTransport {
        digest,
        mgf,
        label,
        cipher_value,
    })
}

fn decode(text: &str) -> Result<Vec<u8>, SamlError> {
    let compact: String = text.split_ascii_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| malformed("a CipherValue is not base64"))
}

fn malformed(what: &str) -> SamlError {
    SamlError::Malformed(format!("EncryptedAssertion: {what}"))
}

fn forbidden(element: &str, algorithm: &str) -> SamlError {
    SamlError::EncryptionAlgorithmForbidden {
        element: element.to_owned(),
        algorithm: algorithm.to_owned(),
    }
}

/// Which element of XML Encryption (or around it) an open element is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    EncryptedAssertion,
    EncryptedData,
    EncryptedKey,
    EncryptionMethod,
    DigestMethod,
    Mgf,
    OaepParams,
    CipherData,
    CipherValue,
    CipherReference,
    Signature,
    Other,
}

impl Part {
    fn of(namespace: &ResolveResult<'_>, local: &[u8]) -> Part {
        let ResolveResult::Bound(ns) = namespace else {
            return Part::Other;
        };
        match (ns.as_ref(), local) {
            (SAML_ASSERTION_NS, b"EncryptedAssertion") => Part::EncryptedAssertion,
            (XENC_NS, b"EncryptedData") => Part::EncryptedData,
            (XENC_NS, b"EncryptedKey") => Part::EncryptedKey,
            (XENC_NS, b"EncryptionMethod") => Part::EncryptionMethod,
            (XENC_NS, b"OAEPparams") => Part::OaepParams,
            (XENC_NS, b"CipherData") => Part::CipherData,
            (XENC_NS, b"CipherValue") => Part::CipherValue,
            (XENC_NS, b"CipherReference") => Part::CipherReference,
            (XENC11_NS, b"MGF") => Part::Mgf,
            (DSIG_NS, b"DigestMethod") => Part::DigestMethod,
            (DSIG_NS, b"Signature") => Part::Signature,
            _ => Part::Other,
        }
    }
}

/// One pass over the document: the spans to cut and what the `EncryptedAssertion` holds.
fn walk(xml: &str) -> Result<Found, SamlError> {
    let mut reader = NsReader::from_str(xml);
    let mut found = Found::default();
    let mut stack: Vec<(Part, usize)> = Vec::new();
    let mut text = String::new();
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|_| malformed("not well-formed"))?;
        match event {
            Event::Start(start) => {
                let part = Part::of(&namespace, start.local_name().as_ref());
                open(&mut found, &stack, part, &start)?;
                stack.push((part, before));
                text.clear();
            }
            Event::Empty(start) => {
                let part = Part::of(&namespace, start.local_name().as_ref());
                open(&mut found, &stack, part, &start)?;
                let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                stack.push((part, before));
                close(&mut found, &stack, after, "");
                stack.pop();
            }
            Event::Text(content) => {
                text.push_str(&content.xml10_content().map_err(|_| malformed("bad text"))?);
            }
            Event::End(_) => {
                let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                close(&mut found, &stack, after, &text);
                stack.pop();
                text.clear();
            }
            Event::Eof => return Ok(found),
            _ => {}
        }
    }
}

fn open(
    found: &mut Found,
    stack: &[(Part, usize)],
    part: Part,
    start: &BytesStart<'_>,
) -> Result<(), SamlError> {
    let parts: Vec<Part> = stack.iter().map(|(part, _)| *part).collect();
    let in_assertion = parts.contains(&Part::EncryptedAssertion);
    if part == Part::EncryptedAssertion && stack.len() != 1 {
        return Err(malformed(
            "the EncryptedAssertion is not a child of the Response",
        ));
    }
    if !in_assertion {
        return Ok(());
    }
    if part == Part::CipherReference {
        found.cipher_reference = true;
    }
    let algorithm = || {
        start
            .try_get_attribute("Algorithm")
            .ok()
            .flatten()
            .and_then(|attribute| {
                attribute
                    .decoded_and_normalized_value(XmlVersion::Implicit1_0, start.decoder())
                    .ok()
            })
            .map(|value| value.trim().to_owned())
    };
    match (parts.as_slice(), part) {
        (_, Part::EncryptedKey) => found.keys.push(RawKey::default()),
        (_, Part::EncryptedData) => found.n_encrypted_data += 1,
        ([.., Part::EncryptedData], Part::EncryptionMethod) => {
            found.data_algorithm = algorithm();
        }
        ([.., Part::EncryptedKey], Part::EncryptionMethod) => {
            if let Some(key) = found.keys.last_mut() {
                key.algorithm = algorithm();
            }
        }
        ([.., Part::EncryptedKey, Part::EncryptionMethod], Part::DigestMethod) => {
            if let Some(key) = found.keys.last_mut() {
                key.digest = algorithm();
            }
        }
        ([.., Part::EncryptedKey, Part::EncryptionMethod], Part::Mgf) => {
            if let Some(key) = found.keys.last_mut() {
                key.mgf = algorithm();
            }
        }
        _ => {}
    }
    Ok(())
}

fn close(found: &mut Found, stack: &[(Part, usize)], after: usize, text: &str) {
    let Some(&(part, start)) = stack.last() else {
        return;
    };
    let parents: Vec<Part> = stack[..stack.len() - 1]
        .iter()
        .map(|(part, _)| *part)
        .collect();
    match (parents.as_slice(), part) {
        ([_], Part::Signature) => found.response_signature = Some((start, after)),
        (_, Part::EncryptedAssertion) if found.encrypted_assertion.is_none() => {
            found.encrypted_assertion = Some((start, after));
        }
        ([.., Part::EncryptedData, Part::CipherData], Part::CipherValue)
            if parents.contains(&Part::EncryptedAssertion)
                && !parents.contains(&Part::EncryptedKey) =>
        {
            found.data_cipher_value = Some(text.to_owned());
        }
        ([.., Part::EncryptedKey, Part::CipherData], Part::CipherValue) => {
            if let Some(key) = found.keys.last_mut() {
                key.cipher_value = Some(text.to_owned());
            }
        }
        ([.., Part::EncryptedKey, Part::EncryptionMethod], Part::OaepParams) => {
            if let Some(key) = found.keys.last_mut() {
                key.label = Some(text.to_owned());
            }
        }
        _ => {}
    }
}

/// The encryptor the integration tests use too (an IdP's side of XML Encryption).
#[cfg(test)]
#[path = "../../tests/support/xmlenc.rs"]
mod xmlenc;

#[cfg(test)]
mod tests {
    use super::xmlenc::{encrypt, tampered, Encryption, SSP_DEFAULT};
    use super::*;
    use crate::saml::keys::{generate_sp_key, SpKeyUse};
    use pretty_assertions::assert_eq;

    const GCM256: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
    const CBC128: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
    const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    const MGF_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";

    fn sp_key(name: &str) -> SpKey {
        let pair = generate_sp_key(name, 1_800_000_000).unwrap();
        SpKey::load(
            name.into(),
            SpKeyUse::Encryption,
            &pair.private_pem,
            pair.certificate,
            pair.not_after_unix,
        )
        .unwrap()
    }

    const ASSERTION: &str = r#"<saml:Assertion ID="_a1" Version="2.0"><saml:Issuer>https://idp</saml:Issuer></saml:Assertion>"#;
    const SIGNATURE: &str = r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>"#;

    fn response(inner: &str) -> String {
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1"><saml:Issuer>https://idp</saml:Issuer>{SIGNATURE}<samlp:Status/>{inner}</samlp:Response>"#
        )
    }

    #[test]
    fn every_accepted_algorithm_decrypts_into_the_response_in_place() {
        let key = sp_key("sp");
        let transports = [
            (RSA_OAEP_MGF1P, None, None),
            (RSA_OAEP_MGF1P, Some(SHA256), None),
            (RSA_OAEP_11, None, None),
            (RSA_OAEP_11, Some(SHA256), Some(MGF_SHA256)),
        ];
        for data in ALLOWED_CONTENT {
            for (transport, digest, mgf) in transports {
                let how = Encryption {
                    data,
                    transport,
                    digest,
                    mgf,
                };
                let xml = response(&encrypt(ASSERTION.as_bytes(), &key.certificate, how));
                let decrypted = decrypt_response(&xml, [&key])
                    .unwrap_or_else(|err| panic!("{data} {transport}: {err}"));
                assert_eq!(
                    decrypted,
                    format!(
                        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1"><saml:Issuer>https://idp</saml:Issuer><samlp:Status/>{ASSERTION}</samlp:Response>"#
                    ),
                    "{data} {transport}: the assertion in place, the response's signature gone"
                );
            }
        }
    }

    #[test]
    fn every_allowlisted_uri_is_known() {
        for uri in ALLOWED_CONTENT {
            assert!(content_cipher(uri).is_some(), "{uri}");
        }
        for uri in ALLOWED_OAEP_DIGESTS {
            assert!(oaep_digest(Some(uri)).is_some(), "{uri}");
        }
        for uri in ALLOWED_MGFS {
            assert!(oaep_mgf(Some(uri)).is_some(), "{uri}");
        }
    }

    #[test]
    fn during_a_rotation_either_key_decrypts() {
        let (old, new) = (sp_key("old"), sp_key("new"));
        for to in [&old, &new] {
            let xml = response(&encrypt(ASSERTION.as_bytes(), &to.certificate, SSP_DEFAULT));
            assert!(decrypt_response(&xml, [&new, &old]).is_ok());
        }
        let xml = response(&encrypt(
            ASSERTION.as_bytes(),
            &old.certificate,
            SSP_DEFAULT,
        ));
        assert_eq!(
            decrypt_response(&xml, [&new]).unwrap_err(),
            SamlError::DecryptionFailed,
            "the old key retired"
        );
    }

    /// Whatever depends on the key fails as one failure: nothing tells an attacker which step.
    #[test]
    fn every_key_dependent_failure_is_the_same_failure() {
        let key = sp_key("sp");
        let other = sp_key("other");
        let gcm = Encryption {
            data: GCM256,
            ..SSP_DEFAULT
        };
        let cases = [
            (
                "encrypted to another SP",
                encrypt(ASSERTION.as_bytes(), &other.certificate, SSP_DEFAULT),
            ),
            (
                "a GCM tag that does not match",
                tampered(&encrypt(ASSERTION.as_bytes(), &key.certificate, gcm)),
            ),
            (
                "CBC padding that is wrong",
                tampered(&encrypt(
                    ASSERTION.as_bytes(),
                    &key.certificate,
                    SSP_DEFAULT,
                )),
            ),
            (
                "a plaintext that is not UTF-8",
                encrypt(&[0xff, 0xfe, 0x00], &key.certificate, gcm),
            ),
            (
                "a plaintext that is not an element",
                encrypt(b"hello", &key.certificate, gcm),
            ),
        ];
        for (name, encrypted) in cases {
            assert_eq!(
                decrypt_response(&response(&encrypted), [&key]).unwrap_err(),
                SamlError::DecryptionFailed,
                "{name}"
            );
        }
    }

    #[test]
    fn refused_algorithms_are_named_before_any_key_is_used() {
        let key = sp_key("sp");
        let refused = |how: Encryption<'_>| {
            decrypt_response(
                &response(&encrypt(ASSERTION.as_bytes(), &key.certificate, how)),
                [&key],
            )
            .unwrap_err()
        };
        assert_eq!(
            refused(Encryption {
                transport: RSA_1_5,
                ..SSP_DEFAULT
            }),
            SamlError::EncryptionAlgorithmForbidden {
                element: "EncryptedKey".into(),
                algorithm: RSA_1_5.into(),
            }
        );
        let with_digest = |digest| Encryption {
            digest: Some(digest),
            ..SSP_DEFAULT
        };
        assert_eq!(
            refused(with_digest("http://www.w3.org/2001/04/xmldsig-more#md5")).reason(),
            "encryption_algorithm_forbidden"
        );
        let triple_des = response(
            &encrypt(ASSERTION.as_bytes(), &key.certificate, SSP_DEFAULT)
                .replace(CBC128, "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"),
        );
        assert_eq!(
            decrypt_response(&triple_des, [&key]).unwrap_err(),
            SamlError::EncryptionAlgorithmForbidden {
                element: "EncryptedData".into(),
                algorithm: "http://www.w3.org/2001/04/xmlenc#tripledes-cbc".into(),
            }
        );
    }

    #[test]
    fn refuses_shapes_an_idp_never_sends() {
        let key = sp_key("sp");
        let encrypted = encrypt(ASSERTION.as_bytes(), &key.certificate, SSP_DEFAULT);
        let data_start = encrypted.find("<xenc:EncryptedData").unwrap();
        let data_end = encrypted.find("</saml:EncryptedAssertion>").unwrap();
        let data = &encrypted[data_start..data_end];
        let key_start = encrypted.find("<xenc:EncryptedKey>").unwrap();
        let key_end = encrypted.find("</xenc:EncryptedKey>").unwrap() + 19;
        let one_key = &encrypted[key_start..key_end];
        let cases = [
            (
                "two EncryptedData",
                encrypted.replace(data, &format!("{data}{data}")),
            ),
            (
                "five EncryptedKeys",
                encrypted.replace(one_key, &one_key.repeat(5)),
            ),
            (
                "a CipherReference",
                encrypted.replacen(
                    "<xenc:CipherData><xenc:CipherValue>",
                    r#"<xenc:CipherData><xenc:CipherReference URI="https://evil/"/><xenc:CipherValue>"#,
                    2,
                ),
            ),
        ];
        for (name, inner) in cases {
            let error = decrypt_response(&response(&inner), [&key]).unwrap_err();
            assert_eq!(error.reason(), "malformed", "{name}: {error}");
        }
        let nested = format!("<samlp:Extensions>{encrypted}</samlp:Extensions>");
        let error = decrypt_response(&response(&nested), [&key]).unwrap_err();
        assert_eq!(
            error,
            SamlError::Malformed(
                "EncryptedAssertion: the EncryptedAssertion is not a child of the Response".into()
            )
        );
    }

    #[test]
    fn an_xml_declaration_in_the_plaintext_is_dropped() {
        let key = sp_key("sp");
        let plaintext = format!("<?xml version=\"1.0\"?>\n{ASSERTION}");
        let xml = response(&encrypt(
            plaintext.as_bytes(),
            &key.certificate,
            SSP_DEFAULT,
        ));
        assert!(decrypt_response(&xml, [&key])
            .unwrap()
            .contains(&format!("<samlp:Status/>{ASSERTION}</samlp:Response>")));
    }
}
