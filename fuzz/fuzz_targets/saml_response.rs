//! The SAML response path must never panic or hang on hostile input: the pre-scan (DOCTYPE,
//! structure, sizes) and everything behind it (libxml2 and xmlsec through samael) get arbitrary
//! XML as an IdP's POST would carry it. Nothing here is signed by the configured certificate, so
//! every input must be refused.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use roster_sso::saml::{parse_idp_metadata, validate_response_at, SpSettings, ValidationPolicy};

const METADATA: &str = include_str!("../../crates/sso/tests/fixtures/ssoready/assertions/okta/metadata.xml");

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
        &["_request".to_owned()],
        &ValidationPolicy::default(),
        1_714_076_000,
    );
    assert!(result.is_err(), "an unsigned or foreign-signed response was accepted");
});
