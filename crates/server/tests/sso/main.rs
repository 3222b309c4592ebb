//! SSO end to end: real browsers-in-a-script logging in through real IdPs (SimpleSAMLphp for
//! SAML, panva's oidc-provider for OIDC) into a real Roster over HTTP, against a real database;
//! then the JIT user, its groups and roles, the session, and the login log are checked.
//!
//! The IdPs come from `e2e/idps` and are installed by `cargo xtask test`, which sets
//! `ROSTER_E2E=1`. A plain `cargo test` without them skips these tests with a message
//! (`outbound` needs no IdP: it runs a fake OP of its own).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/browser.rs"]
mod browser;
#[path = "../common/idps.rs"]
mod idps;
#[path = "../common/process.rs"]
mod process;
#[path = "../common/receiver.rs"]
mod receiver;

mod attributes;
mod authn_context;
mod certificate_expiry;
mod console;
mod console_auth;
mod console_setup;
mod invitations;
mod keys;
mod oidc;
mod outbound;
mod password;
mod provider;
mod saml;
mod saml_encryption;
mod saml_exhaustion;
mod saml_logout;
mod saml_refusals;
mod support;
mod tenant;
mod test_sign_in;
