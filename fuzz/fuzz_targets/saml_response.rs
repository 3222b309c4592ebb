//! The SAML response path must never panic or hang on hostile input: the pre-scan (DOCTYPE,
//! structure, sizes), the decryption of an `EncryptedAssertion` (with a fixed test key, so that
//! mutations of `seeds/saml_response/encrypted.xml` reach the key unwrap, the content cipher
//! and the re-scan of the decrypted tree) and everything behind it (libxml2 and xmlsec through
//! samael) get arbitrary XML as an IdP's POST would carry it. Nothing here is signed by the
//! configured certificate, so every input must be refused.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use roster_sso::saml::{
    import_sp_key, parse_idp_metadata, validate_response_at, SpKey, SpKeyUse, SpKeys,
    SpSettings, ValidationPolicy,
};

const METADATA: &str = include_str!("../../crates/sso/tests/fixtures/ssoready/assertions/okta/metadata.xml");
/// A throw-away key pair made for the fuzzer (not a secret): the seed is encrypted to it.
const SP_KEY: &str = include_str!("../keys/sp-encryption.key");
const SP_CERTIFICATE: &str = include_str!("../keys/sp-encryption.crt");
const NOW: i64 = 1_714_076_000;

fn sp_keys() -> &'static SpKeys {
    static KEYS: OnceLock<SpKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pair = import_sp_key(SP_KEY, SP_CERTIFICATE, NOW).expect("the fuzz key pair");
        let key = SpKey::load(
            "fuzz".to_owned(),
            SpKeyUse::Encryption,
            &pair.private_pem,
            pair.certificate,
            pair.not_after_unix,
        )
        .expect("the fuzz key");
        SpKeys::new(vec![key])
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(idp) = parse_idp_metadata(METADATA) else {
        return;
    };
    let sp = SpSettings {
        entity_id: "http://localhost:8080".to_owned(),
        acs_url: "http://localhost:8080/acs".to_owned(),
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let result = validate_response_at(
        &encoded,
        &idp,
        &sp,
        sp_keys(),
        &["_request".to_owned()],
        &ValidationPolicy::default(),
        NOW,
    );
    assert!(result.is_err(), "an unsigned or foreign-signed response was accepted");
});
