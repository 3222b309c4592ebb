//! Roster as an OpenID Provider for products: a product registers once (`roster app create`),
//! points any certified OpenID Connect client library at Roster's issuer, and gets enterprise
//! SSO for every workspace — Roster runs the workspace's own SAML or OIDC connection upstream and
//! answers the product with a code, an ID token and back-channel logouts.
//!
//! This crate owns the provider's protocol: app registration rules ([`apps`],
//! [`redirect_uri`]) and the authorization endpoint's rules ([`authorize`]). It asks `roster-sso`
//! to run the upstream login and `roster-store` for apps, codes, grants and refresh tokens.
//!
//! **Architecture invariant:** the protocol rules are pure functions with table tests; handlers
//! only parse, call one rule or store operation, and render; every error is a
//! [`ProviderError`], answered in the caller's format in one place (`error.rs`).

pub mod apps;
pub mod authorize;
mod error;
mod pages;
pub mod redirect_uri;

pub use error::ProviderError;
