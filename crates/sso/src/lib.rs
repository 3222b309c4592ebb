//! SAML 2.0 service provider and OpenID Connect relying party with JIT provisioning, mounted at
//! `/sso`.
//!
//! **Architecture invariant:** validation policy (signatures, audience, time, replay) is pure and
//! unit-tested; handlers only move bytes between the browser, the validator and the store.

pub mod saml;

use actix_web::web;

/// Mounts the SSO endpoints (relative to the `/sso` scope the server gives).
pub fn configure(_cfg: &mut web::ServiceConfig) {}
