//! A successful SSO login in one write transaction: the SAML assertion's replay-cache entry, the
//! JIT changes (`jit`) and the success row of the login log.
//!
//! A login used to take three write transactions (replay cache, JIT, login log). On SQLite each
//! is a turn on the one writer, and together they were most of an ACS login's cost after the
//! signature check. A refusal rolls all of it back; the caller then records the refusal in a
//! write of its own (`login_events`) and consumes a refused SAML assertion there as well, so a
//! refused assertion cannot be replayed either.

use roster_domain::{Connection, LoginClaims, LoginFailure, Timestamp, Workspace};

use super::jit::{login_in_transaction, JitError, JitOutcome};
use super::login_events::{insert_login_event, NewLoginEvent};
use super::sso_state::consume_in;
use crate::Store;

/// A SAML assertion a login consumes: it is refused as a replay if seen before.
#[derive(Debug, Clone, Copy)]
pub struct OneTimeAssertion<'a> {
    pub assertion_id: &'a str,
    /// Until when the id must be remembered (the assertion's own validity).
    pub valid_until: Timestamp,
}

impl Store {
    /// Signs `claims` in at `connection` in one transaction: consumes `assertion` (a replay is
    /// refused with [`LoginFailure::Replay`]), resolves the user as [`Store::jit_login`] does and
    /// records the login event that `event` describes. Returns the outcome and the event's id.
    pub fn sign_in(
        &self,
        workspace: &Workspace,
        connection: &Connection,
        claims: &LoginClaims,
        assertion: Option<OneTimeAssertion<'_>>,
        event: impl FnOnce(&JitOutcome) -> NewLoginEvent,
    ) -> Result<(JitOutcome, String), JitError> {
        let (outcome, row) = self.write_with(|conn| {
            if let Some(assertion) = assertion {
                let fresh = consume_in(
                    conn,
                    connection.id,
                    assertion.assertion_id,
                    assertion.valid_until,
                )?;
                if !fresh {
                    return Err(JitError::Refused {
                        failure: LoginFailure::Replay,
                        detail: serde_json::json!({
                            "reason": "assertion_replayed",
                            "assertion_id": assertion.assertion_id,
                        }),
                        user_id: None,
                    });
                }
            }
            let outcome = login_in_transaction(conn, workspace, connection, claims)?;
            let row = insert_login_event(conn, event(&outcome))?;
            Ok((outcome, row))
        })?;
        self.login_outcomes.count(&row);
        Ok((outcome, row.id))
    }
}
