//! Who a browser session belongs to, as the protocol crates share it: the SSO crate signs and
//! verifies sessions, the admin crate accepts them for the console. The trait lets the server
//! hand the verifier to the admin crate without the two protocol crates depending on each other.

use crate::{UserId, WorkspaceId};

/// A verified, live session (signature, expiry, not logged out, user active at its epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPrincipal {
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    /// The session id (unique per login).
    pub session_id: String,
    /// The login went through an IdP (not a local password).
    pub via_sso: bool,
    /// The value cookie-authenticated writes must echo in `X-CSRF-Token`.
    pub csrf_token: String,
}

/// Verifies a session token; `None` for anything but a live session.
pub trait SessionVerifier: Send + Sync {
    fn verify_session(&self, token: &str) -> Option<SessionPrincipal>;
}
