//! Outbound HTTP: the one client for every request Roster makes on its own — SAML metadata
//! (at set-up and the hourly refresh), OIDC discovery, JWKS, token and userinfo, webhook
//! deliveries, and later back-channel logouts — and the DNS look-ups of domain verification
//! ([`dns`]).
//!
//! Each of those URLs comes from someone who is not the operator (a workspace admin, an IdP's
//! discovery document), so each is a way into the network Roster runs in (SSRF). Checking a URL
//! once when it is saved is not enough: its DNS can change (rebinding), the server can redirect,
//! and a discovery document names further URLs. So the checks live in the client itself and
//! apply at connect time, to every request: [`policy`] says which addresses are allowed,
//! [`Client`] connects only to addresses it checked, follows no redirect, caps the body it reads
//! and times out.
//!
//! **Architecture invariant:** no other crate of Roster's builds an HTTP agent for a request of
//! its own; they all take a [`Client`]. This crate depends on no other crate of Roster's.

mod client;
pub mod dns;
mod error;
pub mod policy;

pub use client::{Client, ReadBody, Timeouts, DRAIN_BYTES};
pub use dns::DnsResolver;
pub use error::OutboundError;
pub use policy::{IpNetwork, NetworkPolicy};
/// The `http` types requests and responses are made of (the same crate openidconnect uses).
pub use ureq::http;

/// The most an OIDC document, key set, token or userinfo response may weigh.
pub const OIDC_MAX_BYTES: u64 = 1024 * 1024;
/// The most SAML IdP metadata may weigh (federation metadata with many certificates is large).
pub const SAML_METADATA_MAX_BYTES: u64 = 5 * 1024 * 1024;
