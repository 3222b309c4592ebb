//! HTTP handlers: parse, call the protocol module and the store, render. The login routes live
//! under `/sso`; the session routes (`/api/v1/me`, `/logout`, the `/` landing page) at the root.

pub mod login;
pub mod oidc;
pub mod password;
pub mod saml;
pub mod session;
pub mod slo;

use roster_store::domain::{Connection, ConnectionId, ConnectionKind, LoginFailure, Workspace};
use roster_store::StoreError;

use crate::flow::{Attempt, LoginError, SsoState};

/// Why a protocol's checks stopped: a refusal (with its login-event detail), which the caller
/// records for a real login or reports for a test sign-in; or Roster's own trouble.
pub(crate) enum Stop {
    Refused(LoginFailure, serde_json::Value),
    Trouble(LoginError),
}

impl From<StoreError> for Stop {
    fn from(err: StoreError) -> Self {
        Stop::Trouble(err.into())
    }
}

/// Whether `connection` takes logins. A draft's refusal is recorded as a login event (someone
/// tried a connection that is not finished: its admin wants to know); a revoked one is refused
/// plainly. A test sign-in skips this: a connection is tested before it is activated.
pub(crate) fn takes_logins(
    state: &SsoState,
    workspace: &Workspace,
    connection: &Connection,
) -> Result<(), LoginError> {
    match connection.status.login_refusal() {
        None => Ok(()),
        Some(LoginFailure::ConnectionDraft) => Err(refuse_draft(state, workspace, connection)),
        Some(failure) => Err(LoginError::plain(failure)),
    }
}

/// The connection of `kind` named by a path's connection id, with its workspace, when its SP
/// values are served (a draft's are: the IdP needs them before it gives its metadata).
pub(crate) fn sp_connection(
    state: &SsoState,
    id: &str,
    kind: ConnectionKind,
) -> Result<(Workspace, Connection), LoginError> {
    let unavailable = || LoginError::plain(LoginFailure::ConnectionUnavailable);
    let id: ConnectionId = id.parse().map_err(|_| unavailable())?;
    let connection = match state.store.connection_by_id(id) {
        Ok(connection) => connection,
        Err(StoreError::NotFound { .. }) => return Err(unavailable()),
        Err(err) => return Err(err.into()),
    };
    if connection.kind != kind || !connection.status.serves_sp_metadata() {
        return Err(unavailable());
    }
    let workspace = state.store.workspace(connection.workspace_id)?;
    Ok((workspace, connection))
}

/// Records and answers a login through a draft connection.
pub(crate) fn refuse_draft(
    state: &SsoState,
    workspace: &Workspace,
    connection: &Connection,
) -> LoginError {
    let attempt = Attempt {
        workspace,
        connection,
        protocol: connection.kind.as_str(),
    };
    attempt.refuse(
        &state.store,
        LoginFailure::ConnectionDraft,
        serde_json::json!({
            "reason": "idp_metadata_missing",
            "want": "the IdP's metadata on the connection",
            "got": "a draft connection without it",
        }),
        None,
    )
}
