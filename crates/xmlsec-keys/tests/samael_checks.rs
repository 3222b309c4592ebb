//! samael's signature checks with the kept keys: they accept what the certificate signed and
//! nothing else, load each certificate once, and keep at most `CAPACITY` of them.
//!
//! One test, run in order: the counts are the process's, and a second test running alongside
//! would move them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};
use roster_xmlsec_keys::{counts, KeyCacheCounts, CAPACITY};
use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

/// A self-signed certificate of `key`; `serial` makes certificates of one key distinct.
fn certificate(key: &PKey<Private>, serial: u32) -> CertificateDer {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "idp.example.com").unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    builder
        .set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    builder.sign(key, MessageDigest::sha256()).unwrap();
    CertificateDer::from(builder.build().to_der().unwrap())
}

/// A document whose `<Assertion>` is signed (enveloped) with `key`.
fn signed(key: &PKey<Private>, text: &str) -> String {
    let template = format!(
        r##"<Response xmlns="urn:example"><Assertion ID="a1"><Text>{text}</Text><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{RSA_SHA256}"/><ds:Reference URI="#a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature></Assertion></Response>"##
    );
    Crypto::sign_xml(template, &key.private_key_to_der().unwrap()).unwrap()
}

fn verifies(xml: &str, certificate: &CertificateDer) -> bool {
    Crypto::verify_signed_xml(xml, certificate, Some("ID")).is_ok()
}

/// What changed in the counts since `before`.
fn since(before: KeyCacheCounts) -> KeyCacheCounts {
    let now = counts();
    KeyCacheCounts {
        loads: now.loads - before.loads,
        hits: now.hits - before.hits,
    }
}

#[test]
fn kept_keys_check_signatures_as_loaded_ones_do() {
    roster_xmlsec_keys::install();
    let (key_a, key_b) = (rsa_key(), rsa_key());
    let (cert_a, cert_b) = (certificate(&key_a, 1), certificate(&key_b, 1));
    let by_a = signed(&key_a, "hello");
    let by_b = signed(&key_b, "hello");
    // Signing loads a private key (DER): the library's own path, nothing kept.
    assert_eq!(counts(), KeyCacheCounts::default(), "signing keeps nothing");

    // The first check loads the certificate (the definition here is the one linked) ...
    let before = counts();
    assert!(verifies(&by_a, &cert_a));
    assert_eq!(since(before), KeyCacheCounts { loads: 1, hits: 0 });
    // ... later ones reuse it, and still accept only what its key signed.
    let before = counts();
    assert!(verifies(&by_a, &cert_a));
    assert!(
        !verifies(&by_b, &cert_a),
        "a kept key accepted another key's signature"
    );
    let tampered = by_a.replace("hello", "hellO");
    assert!(
        !verifies(&tampered, &cert_a),
        "a kept key accepted a changed document"
    );
    assert_eq!(since(before), KeyCacheCounts { loads: 0, hits: 3 });

    // The ACS path (verify, then reduce to the signed content) with a kept key.
    let before = counts();
    let reduced = Crypto::reduce_xml_to_signed(
        &by_a,
        std::slice::from_ref(&cert_a),
        ReduceMode::ValidateAndMarkNoAncestors,
    )
    .unwrap();
    assert!(reduced.contains("<Text>hello</Text>"), "{reduced}");
    assert!(Crypto::reduce_xml_to_signed(
        &by_b,
        std::slice::from_ref(&cert_a),
        ReduceMode::ValidateAndMarkNoAncestors
    )
    .is_err());
    assert_eq!(since(before), KeyCacheCounts { loads: 0, hits: 2 });

    // Another certificate is another key.
    let before = counts();
    assert!(verifies(&by_b, &cert_b));
    assert!(!verifies(&by_a, &cert_b));
    assert_eq!(since(before), KeyCacheCounts { loads: 1, hits: 1 });

    // Bytes that are no certificate fail as before, and are not kept.
    let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
    let before = counts();
    assert!(!verifies(&by_a, &garbage));
    assert!(!verifies(&by_a, &garbage));
    assert_eq!(since(before), KeyCacheCounts { loads: 2, hits: 0 });

    // At most CAPACITY certificates are kept: one more empties the cache, so the first of
    // them is loaded again (certificates of one key with distinct serials).
    let many: Vec<CertificateDer> = (0..=CAPACITY)
        .map(|serial| certificate(&key_a, 100 + u32::try_from(serial).unwrap()))
        .collect();
    let before = counts();
    for cert in &many {
        assert!(verifies(&by_a, cert));
    }
    assert!(verifies(&by_a, &many[CAPACITY]));
    assert_eq!(
        since(before),
        KeyCacheCounts {
            loads: u64::try_from(CAPACITY).unwrap() + 1,
            hits: 1
        }
    );
    let before = counts();
    assert!(verifies(&by_a, &many[0]));
    assert_eq!(
        since(before),
        KeyCacheCounts { loads: 1, hits: 0 },
        "evicted"
    );
}
