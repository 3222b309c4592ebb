//! The back-channel logout outbox (OpenID Connect Back-Channel Logout 1.0 §2.5): each queued
//! logout is POSTed to its app's `backchannel_logout_uri` as
//! `application/x-www-form-urlencoded` with one field, `logout_token`.
//!
//! The token is minted for every attempt (a fresh `jti`, `iat` now and a short `exp`), so a
//! retry never carries an expired token or a `jti` the app already saw. Minting needs the
//! OpenID Provider's signing keys, which this crate does not know: the server passes a
//! [`LogoutTokenSigner`] built from them, so `roster-webhooks` does not depend on
//! `roster-provider`.

use std::sync::Arc;

use roster_outbound::{Client, ReadBody};
use roster_store::{BackchannelClaim, DeliveryOutcome, OutboxWake, SigningAlg, Store, StoreResult};

use crate::worker::{Attempts, Failure, Outbox};

/// Whom one logout token signs out, of which app, signed how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogoutTokenRequest<'a> {
    /// The token's `aud`.
    pub client_id: &'a str,
    /// The Roster user id (`sub`).
    pub sub: &'a str,
    /// The session id the app saw (`sid`).
    pub sid: &'a str,
    /// The app's ID-token algorithm: logout tokens are signed with the same key.
    pub alg: SigningAlg,
}

/// Why no logout token could be minted (no current key, the random source failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot mint the logout token: {0}")]
pub struct MintError(pub String);

/// Mints the logout token of one attempt.
pub trait LogoutTokenSigner: Send + Sync {
    /// Loads what minting needs (the signing keys; on a fresh deployment, creates them), on the
    /// claiming thread before a batch is handed out, so the delivery threads of a burst do not
    /// all load or create the keys at once.
    fn prepare(&self) -> Result<(), MintError>;
    fn mint(&self, request: &LogoutTokenRequest<'_>) -> Result<String, MintError>;
}

/// Back-channel logouts, for the [`crate::Worker`].
pub struct BackchannelLogouts {
    signer: Arc<dyn LogoutTokenSigner>,
}

impl std::fmt::Debug for BackchannelLogouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackchannelLogouts").finish_non_exhaustive()
    }
}

impl BackchannelLogouts {
    pub fn new(signer: Arc<dyn LogoutTokenSigner>) -> Self {
        Self { signer }
    }
}

impl Outbox for BackchannelLogouts {
    type Job = BackchannelClaim;
    const NAME: &'static str = "backchannel-logout";

    fn describe(&self, claim: &BackchannelClaim) -> String {
        format!(
            "logout {} of app {}",
            claim.logout.id, claim.logout.client_id
        )
    }

    fn claim(
        &self,
        store: &Store,
        lease_secs: i64,
        limit: usize,
    ) -> StoreResult<Vec<BackchannelClaim>> {
        let claimed = store.claim_backchannel_logouts(lease_secs, limit)?;
        if !claimed.is_empty() {
            if let Err(err) = self.signer.prepare() {
                // Each attempt mints on its own and fails (and is retried) if this persists.
                tracing::warn!(error = %err, "the logout token signer is not ready");
            }
        }
        Ok(claimed)
    }

    fn wake<'s>(&self, store: &'s Store) -> &'s OutboxWake {
        store.outbox_wake()
    }

    /// One attempt. Every earlier attempt of a logout failed (a delivered one is never claimed
    /// again), so the attempt number is also the run of failures.
    fn deliver(&self, attempts: &Attempts<'_>, claim: &BackchannelClaim) -> Vec<DeliveryOutcome> {
        let attempt = u32::try_from(claim.logout.attempts).unwrap_or(0) + 1;
        vec![attempts.make(
            || self.describe(claim),
            (attempt, attempt),
            |client| self.send(client, claim),
        )]
    }

    fn finish(
        &self,
        store: &Store,
        claim: &BackchannelClaim,
        outcomes: &[DeliveryOutcome],
        _follow_on: Option<i64>,
    ) -> StoreResult<Option<BackchannelClaim>> {
        match outcomes.first() {
            // A logout has no follow-on: the claiming thread takes the next.
            Some(outcome) => store
                .finish_backchannel_logout(claim, outcome)
                .map(|()| None),
            // No attempt made: the lease runs out and the logout is claimed again.
            None => Ok(None),
        }
    }
}

impl BackchannelLogouts {
    fn send(&self, client: &Client, claim: &BackchannelClaim) -> Result<u16, Failure> {
        let token = self
            .signer
            .mint(&LogoutTokenRequest {
                client_id: &claim.logout.client_id,
                sub: &claim.logout.user_id,
                sid: &claim.logout.sid,
                alg: claim.id_token_alg,
            })
            .map_err(|err| Failure::before_sending(err.to_string()))?;
        let headers = [("user-agent", "Roster-Backchannel-Logout/1")];
        client
            .post_form(
                &claim.uri,
                &headers,
                &[("logout_token", &token)],
                ReadBody::Discard,
            )
            .map(|response| response.status().as_u16())
            .map_err(|err| Failure::outbound(&err, &claim.uri))
    }
}
