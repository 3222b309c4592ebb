//! The verbs that show what exists and take it back: `api-key list|revoke`, `operator-key
//! list|revoke`, `token
//! list|revoke`, `connection list|revoke`, `role list` and `workspace delete`. Listings print ids,
//! names, hints, dates and status — never a secret — so an operator can find a leaked key or
//! token and revoke it. Each revocation is the store operation the admin API uses too, audited
//! with the CLI as actor.

use anyhow::{anyhow, bail};
use roster_store::domain::{Actor, Connection, ConnectionStatus, Domain, Timestamp, TokenId};
use roster_store::{KeyInfo, ScimTokenInfo, Store, StoreError};
use serde_json::{json, Value};

use crate::commands::{find_connection, find_workspace};
use crate::output;

fn rfc3339(at: Timestamp) -> String {
    at.to_rfc3339()
}

/// `id` as the id of a `what`, or an operator error naming it.
fn parse_token_id(id: &str, what: &str) -> anyhow::Result<TokenId> {
    id.parse().map_err(|_| anyhow!("{id:?} is not {what} id"))
}

/// `roster api-key list --workspace SLUG`.
pub(crate) fn api_key_list(workspace: &str, store: &Store) -> anyhow::Result<()> {
    let workspace = find_workspace(store, workspace)?;
    let list: Vec<Value> = store
        .list_api_keys(workspace.id)?
        .iter()
        .map(key_json)
        .collect();
    output::json(&json!(list))
}

/// A key as the listings print it (never the key itself).
fn key_json(key: &KeyInfo) -> Value {
    json!({
        "id": key.id.to_string(),
        "name": key.name,
        "hint": key.hint,
        "created_at": rfc3339(key.created_at),
        "last_used_at": key.last_used_at.map(rfc3339),
    })
}

/// `roster operator-key list`.
pub(crate) fn operator_key_list(store: &Store) -> anyhow::Result<()> {
    let list: Vec<Value> = store.list_operator_keys()?.iter().map(key_json).collect();
    output::json(&json!(list))
}

/// `roster operator-key revoke ID`.
pub(crate) fn operator_key_revoke(id: &str, store: &Store) -> anyhow::Result<()> {
    let key_id = parse_token_id(id, "an operator key")?;
    let revoked = store
        .revoke_operator_key(&Actor::Cli, key_id)
        .map_err(|err| match err {
            StoreError::NotFound { .. } => anyhow!("no operator key {id}"),
            other => other.into(),
        })?;
    output::json(&json!({ "revoked": key_id.to_string(), "name": revoked.name }))
}

/// `roster api-key revoke --workspace SLUG ID`.
pub(crate) fn api_key_revoke(workspace: &str, id: &str, store: &Store) -> anyhow::Result<()> {
    let workspace = find_workspace(store, workspace)?;
    let key_id = parse_token_id(id, "an API key")?;
    let revoked = store
        .revoke_api_key(&Actor::Cli, workspace.id, key_id)
        .map_err(|err| match err {
            StoreError::NotFound { .. } => {
                anyhow!("no API key {id} in workspace {}", workspace.slug)
            }
            other => other.into(),
        })?;
    output::json(&json!({ "revoked": key_id.to_string(), "name": revoked.name }))
}

fn token_json(token: &ScimTokenInfo, connection: &Connection, now: Timestamp) -> Value {
    json!({
        "id": token.id.to_string(),
        "name": token.name,
        "hint": token.hint,
        "connection": connection.name.as_str(),
        "connection_id": connection.id.to_string(),
        "created_at": rfc3339(token.created_at),
        "expires_at": token.expires_at.map(rfc3339),
        "last_used_at": token.last_used_at.map(rfc3339),
        "expired": token.expires_at.is_some_and(|at| at <= now),
    })
}

/// `roster token list --workspace SLUG [--connection NAME]`: every token of the workspace, or
/// of one connection, by connection then creation.
pub(crate) fn token_list(
    workspace: &str,
    connection: Option<&str>,
    store: &Store,
) -> anyhow::Result<()> {
    let workspace = find_workspace(store, workspace)?;
    let connections = match connection {
        Some(name) => vec![find_connection(store, &workspace, name)?],
        None => store.list_connections(workspace.id)?,
    };
    let now = Timestamp::now();
    let mut list = Vec::new();
    for connection in &connections {
        for token in store.list_scim_tokens(workspace.id, connection.id)? {
            list.push(token_json(&token, connection, now));
        }
    }
    output::json(&json!(list))
}

/// `roster token revoke --workspace SLUG ID`.
pub(crate) fn token_revoke(workspace: &str, id: &str, store: &Store) -> anyhow::Result<()> {
    let workspace = find_workspace(store, workspace)?;
    let token_id = parse_token_id(id, "a SCIM token")?;
    store
        .revoke_scim_token(&Actor::Cli, workspace.id, token_id)
        .map_err(|err| match err {
            StoreError::NotFound { .. } => {
                anyhow!("no SCIM token {id} in workspace {}", workspace.slug)
            }
            other => other.into(),
        })?;
    output::json(&json!({ "revoked": token_id.to_string() }))
}

/// `roster connection list --workspace SLUG`, oldest first.
pub(crate) fn connection_list(workspace: &str, store: &Store) -> anyhow::Result<()> {
    let workspace = find_workspace(store, workspace)?;
    let list: Vec<Value> = store
        .list_connections(workspace.id)?
        .iter()
        .map(|connection| {
            json!({
                "id": connection.id.to_string(),
                "name": connection.name.as_str(),
                "kind": connection.kind.as_str(),
                "vendor": connection.vendor.as_str(),
                "status": connection.status.as_str(),
                "scim_enabled": connection.scim_enabled,
                "domains": connection.domains.iter().map(Domain::as_str).collect::<Vec<_>>(),
                "created_at": rfc3339(connection.created_at),
                "last_sync_at": connection.last_sync_at.map(rfc3339),
            })
        })
        .collect();
    output::json(&json!(list))
}

/// `roster connection revoke --workspace SLUG NAME`: status `revoked`, SCIM off, every token
/// deleted (the admin API's `DELETE /connections/{id}`). Revoking twice is an error.
pub(crate) fn connection_revoke(workspace: &str, name: &str, store: &Store) -> anyhow::Result<()> {
    let workspace = find_workspace(store, workspace)?;
    let connection = find_connection(store, &workspace, name)?;
    if connection.status == ConnectionStatus::Revoked {
        bail!(
            "connection {name:?} of workspace {} is already revoked",
            workspace.slug
        );
    }
    let tokens = store.list_scim_tokens(workspace.id, connection.id)?.len();
    store.revoke_connection(&Actor::Cli, workspace.id, connection.id)?;
    output::json(&json!({
        "id": connection.id.to_string(),
        "name": connection.name.as_str(),
        "status": ConnectionStatus::Revoked.as_str(),
        "tokens_revoked": tokens,
    }))
}

/// `roster role list` (`create` is in `commands`).
pub(crate) fn role_list(workspace: &str, store: &Store) -> anyhow::Result<()> {
    let workspace = find_workspace(store, workspace)?;
    let list: Vec<Value> = store
        .list_roles(workspace.id)?
        .iter()
        .map(|role| json!({ "id": role.id.to_string(), "name": role.name.as_str(), "rank": role.rank }))
        .collect();
    output::json(&json!(list))
}

/// `roster workspace delete SLUG --confirm SLUG`: everything of the workspace goes, at once.
pub(crate) fn workspace_delete(
    slug: &str,
    confirm: Option<&str>,
    store: &Store,
) -> anyhow::Result<()> {
    let workspace = find_workspace(store, slug)?;
    if confirm != Some(slug) {
        bail!(
            "deleting workspace {slug:?} removes everything in it and cannot be undone: repeat its slug with --confirm {slug}"
        );
    }
    let users = store.count_users(workspace.id)?;
    let connections = store.list_connections(workspace.id)?.len();
    store.delete_workspace(&Actor::Cli, workspace.id)?;
    output::json(&json!({
        "deleted": workspace.slug.as_str(),
        "id": workspace.id.to_string(),
        "users": users,
        "connections": connections,
    }))
}
