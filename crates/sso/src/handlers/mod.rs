//! HTTP handlers: parse, call the protocol module and the store, render. The login routes live
//! under `/sso`; the session routes (`/api/v1/me`, `/logout`, the `/` landing page) at the root.

pub mod login;
pub mod oidc;
pub mod password;
pub mod saml;
pub mod session;

use roster_store::domain::{
    Connection, ConnectionId, ConnectionKind, ConnectionStatus, LoginFailure, Workspace,
};
use roster_store::StoreError;

use crate::flow::{LoginError, SsoState};

/// The active login connection of `kind` named by a path's connection id, with its workspace.
pub(crate) fn login_connection(
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
    if connection.kind != kind || connection.status != ConnectionStatus::Active {
        return Err(unavailable());
    }
    let workspace = state.store.workspace(connection.workspace_id)?;
    Ok((workspace, connection))
}
