//! `roster connection keys`: a SAML connection's own keys — list, rotate (a new key beside the
//! current one), retire (once the IdP has the new one). Rotation overlaps so that no login
//! breaks: see `roster_sso::saml::keys`.

use anyhow::{anyhow, bail, Context};
use roster_admin::sp_keys::sp_key_views;
use roster_domain::{Actor, Connection, ConnectionKind};
use roster_sso::saml::SpKeyUse;
use roster_store::Store;
use serde_json::json;

use crate::cli::{SpKeyUseArg, SpKeysCommand};
use crate::commands::{find_connection, find_workspace};
use crate::output;

pub(crate) fn run(command: SpKeysCommand, store: &Store) -> anyhow::Result<()> {
    match command {
        SpKeysCommand::List { workspace, name } => {
            let connection = saml_connection(store, &workspace, &name)?;
            // A connection that never served metadata gets its first keys now, as on first use.
            roster_sso::sp_keys::connection_keys(store, &connection)?;
            let keys = store.sp_key_history(connection.id)?;
            output::json(&json!({ "keys": sp_key_views(&keys) }))
        }
        SpKeysCommand::Rotate {
            workspace,
            name,
            key_use,
            key_file,
            cert_file,
        } => {
            let connection = saml_connection(store, &workspace, &name)?;
            roster_sso::sp_keys::connection_keys(store, &connection)?;
            let key_use = match key_use {
                SpKeyUseArg::Signing => SpKeyUse::Signing,
                SpKeyUseArg::Encryption => SpKeyUse::Encryption,
            };
            let key = match (key_file, cert_file) {
                (Some(key_file), Some(cert_file)) => {
                    let read = |path: &std::path::Path| {
                        std::fs::read_to_string(path)
                            .with_context(|| format!("cannot read {}", path.display()))
                    };
                    roster_sso::sp_keys::own_key(
                        key_use.as_str(),
                        &read(&key_file)?,
                        &read(&cert_file)?,
                    )
                    .map_err(|err| anyhow!("{}: {err}", key_file.display()))?
                }
                _ => roster_sso::sp_keys::new_key(
                    key_use.as_str(),
                    &format!("Roster SP {}", connection.id),
                )
                .map_err(|err| anyhow!(err))?,
            };
            let added = store.add_sp_key(&Actor::Cli, &connection, key)?;
            let keys = store.sp_key_history(connection.id)?;
            output::json(&json!({ "added": added.id, "keys": sp_key_views(&keys) }))
        }
        SpKeysCommand::Retire {
            workspace,
            name,
            key,
            confirm,
        } => {
            if confirm.as_deref() != Some(key.as_str()) {
                bail!(
                    "retiring {key} stops every IdP that still uses it: repeat it with --confirm {key}"
                );
            }
            let connection = saml_connection(store, &workspace, &name)?;
            store.retire_sp_key(&Actor::Cli, &connection, &key)?;
            let keys = store.sp_key_history(connection.id)?;
            output::json(&json!({ "retired": key, "keys": sp_key_views(&keys) }))
        }
    }
}

fn saml_connection(store: &Store, workspace: &str, name: &str) -> anyhow::Result<Connection> {
    let workspace = find_workspace(store, workspace)?;
    let connection = find_connection(store, &workspace, name)?;
    if connection.kind != ConnectionKind::Saml {
        bail!(
            "connection {name:?} is a {} connection; only a saml connection has SP keys",
            connection.kind.as_str()
        );
    }
    Ok(connection)
}
