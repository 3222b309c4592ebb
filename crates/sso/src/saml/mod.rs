//! SAML 2.0 service provider: IdP metadata, AuthnRequests, and the validation policy wrapped
//! around samael. Pure: no HTTP, no database; the `/sso` handlers move bytes between the
//! browser, these functions and the store.
//!
//! # Why a policy layer on samael
//!
//! samael 0.0.22 verifies XML signatures well (every `ds:Signature` must verify against the
//! configured certificates, embedded KeyInfo is not trusted, unsigned content is stripped), but
//! leaves the rest to the caller (`docs/security.md`, notes §2.2). This module adds:
//!
//! - **fail closed without certificates** (A2): samael skips verification when the IdP has no
//!   signing certificate; metadata without one is refused, and every validation checks again;
//! - **a pre-scan** with quick-xml before libxml2 sees the document: no DOCTYPE, nothing but an
//!   XML declaration and whitespace around the root, exactly one `Assertion` or
//!   `EncryptedAssertion` anywhere, 256 KiB decoded at most, a non-success status reported as the
//!   IdP's error (S27), and signatures of the one shape IdPs use — one in the Response and one
//!   in its Assertion at most, one reference to the signed element, two transforms at most
//!   (S38) — see `prescan.rs`;
//! - **one signature check per CPU at a time** (`slots.rs`), so a burst cannot pile up
//!   documents in xmlsec;
//! - **an algorithm allowlist**: RSA/ECDSA with SHA-256/384/512, no SHA-1, no XPath/XSLT
//!   transforms; given to samael too;
//! - **required conditions**: `AudienceRestriction` with our entity id (exact compare),
//!   `NotBefore` and `NotOnOrAfter` with skew at both ends, issuer, recipient, destination,
//!   `InResponseTo` bound to a pending request — see `checks.rs`;
//! - **`ReduceMode::ValidateAndMarkNoAncestors`**, never the legacy `ValidateAndMark`;
//! - **128-bit request ids** instead of samael's 32-bit ones, and our own SP metadata and
//!   escaped POST form.
//!
//! # Clock
//!
//! samael reads `Utc::now()` with no way to inject a clock. Its time checks are widened to about
//! a century (`verify.rs`) and ours decide, using the `now_unix` given to
//! [`validate_response_at`] ([`validate_response`] passes the system time). This is what lets
//! the recorded SSOReady fixtures be validated at their own `now`, and the boundary tests run at
//! an exact instant.
//!
//! # What samael cannot do (refused, documented)
//!
//! - Encrypted assertions: samael decrypts only aes128-cbc/gcm, takes RSA PKCS#1 v1.5 key
//!   transport, and does not verify a signature inside the decrypted assertion; `decrypt.rs`
//!   decrypts instead, and the decrypted response goes through the whole pipeline.
//! - samael requires *every* `ds:Signature` in the document to verify. SSOReady's recorded Okta
//!   response has a valid assertion signature but a Response signature whose digest no longer
//!   matches (`xmlsec1 --verify` agrees); it is refused as `signature_invalid`.
//! - samael matches the verified pre-digest tree against the document; a comment or CDATA
//!   section inside signed text (Duo 2018, S15) makes that fail, so such responses are refused
//!   as `signature_invalid` (processing instructions are kept and the text is concatenated).
//! - An `AudienceRestriction` mismatch found by samael (it checks before us when the restriction
//!   is present) is reported without the audiences it found: samael does not return them.

mod checks;
mod claims;
mod decrypt;
mod error;
mod escape;
mod form;
mod keys;
mod logout;
mod metadata;
mod prescan;
mod request;
mod slots;
mod validate;
mod verify;

pub use claims::{claims_from_assertion, is_login_claim};
pub use error::SamlError;
pub use escape::{auto_post_form, escape_html, hidden_inputs};
pub use form::{AcsForm, DuplicateField};
pub use keys::{
    generate_sp_key, import_sp_key, NewSpKeyPair, SpKey, SpKeyUse, SpKeys, SP_KEY_VALIDITY_DAYS,
};
pub use logout::{
    idp_slo_url, logout_request_url, logout_response_url, read_logout_message, LogoutBinding,
    LogoutMessage, LogoutSubject,
};
pub use metadata::{parse_idp_metadata, sp_metadata_xml, IdpMetadata, SpSettings};
pub use prescan::MAX_RESPONSE_BYTES;
pub use request::{
    authn_ask, authn_request_post_form, authn_request_url, new_request_id, AuthnAsk, ForceAuthn,
};
/// How often IdP certificates were loaded into keys, and how often a loaded one was reused.
pub use roster_xmlsec_keys::{counts as certificate_key_counts, KeyCacheCounts};
pub use validate::{
    validate_response, validate_response_at, AssertionEncryption, ValidationPolicy,
    VerifiedAssertion,
};

/// The `InResponseTo` a response claims, read by the pre-scan without any verification: only to
/// tell which pending request it says it answers (a test sign-in's or a real login's). Nothing
/// may trust it; [`validate_response`] then requires it to be exactly that request. `None` for
/// anything the pre-scan refuses or a response without one (IdP-initiated).
pub fn claimed_request_id(saml_response_b64: &str) -> Option<String> {
    let xml = prescan::decode_post_binding(saml_response_b64).ok()?;
    prescan::scan(&xml).ok()?.in_response_to
}

/// The audiences a response's assertion names, read by the pre-scan without verification: for
/// a test sign-in's report of an audience mismatch, where samael does not say what it found.
/// Never for a decision.
pub fn claimed_audiences(saml_response_b64: &str) -> Vec<String> {
    prescan::decode_post_binding(saml_response_b64)
        .ok()
        .and_then(|xml| prescan::scan(&xml).ok())
        .map(|envelope| envelope.audiences)
        .unwrap_or_default()
}
