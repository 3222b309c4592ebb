//! Creating a connection: the one implementation behind `roster connection create` and `POST
//! /api/v1/admin/connections`. Each surface parses its own input (flags and files, or a JSON
//! body) into a [`ProtocolInput`] and a [`ConnectionSpec`]; from there the IdP settings are
//! checked ([`check_protocol`]: metadata with a signing certificate, discovery answering for
//! exactly the issuer), the status at creation decided (a SAML connection without metadata is a
//! draft) and the connection written, so the CLI and the console can never disagree on what a
//! valid connection is. The admin API asks its policy before it calls this.

use roster_outbound::Client;
use roster_store::domain::{
    Actor, Connection, ConnectionKind, ConnectionStatus, DisplayName, Domain, GroupSync,
    ProfileSync, Vendor, WorkspaceId,
};
use roster_store::{NewConnection, Store, StoreError};

use super::{oidc_config, saml_config, saml_draft_config, OidcInput, SamlInput, SetupError};
use crate::oidc::OidcRp;

/// The IdP settings a new (or reconfigured) connection is given, before they are checked.
#[derive(Debug, Clone)]
pub enum ProtocolInput {
    /// A SCIM-only connection: no IdP settings.
    Scim,
    /// A SAML connection whose IdP metadata comes later: a draft.
    SamlDraft {
        allow_idp_initiated: bool,
        authn: crate::config::AuthnContextSettings,
        keys: crate::config::SamlKeySettings,
    },
    /// A SAML connection with its IdP metadata (the document or its URL).
    Saml(SamlInput),
    /// An OIDC connection: issuer and client.
    Oidc(OidcInput),
}

impl ProtocolInput {
    /// The kind of connection these settings are for.
    pub fn kind(&self) -> ConnectionKind {
        match self {
            ProtocolInput::Scim => ConnectionKind::Scim,
            ProtocolInput::SamlDraft { .. } | ProtocolInput::Saml(_) => ConnectionKind::Saml,
            ProtocolInput::Oidc(_) => ConnectionKind::Oidc,
        }
    }
}

/// Settings the checks accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProtocol {
    pub kind: ConnectionKind,
    /// The `protocol_config` to store (JSON text).
    pub config: String,
    /// Whether the IdP's settings are in it (a draft's are not).
    pub with_idp_settings: bool,
}

/// Checks `input` against the IdP as it is now: SAML metadata is fetched (off the async
/// runtime) and must carry a signing certificate; OIDC discovery must answer for exactly the
/// issuer. Never writes.
pub async fn check_protocol(
    rp: &OidcRp,
    outbound: &Client,
    input: ProtocolInput,
) -> Result<CheckedProtocol, SetupError> {
    let kind = input.kind();
    let (config, with_idp_settings) = match input {
        ProtocolInput::Scim => ("{}".to_owned(), true),
        ProtocolInput::SamlDraft {
            allow_idp_initiated,
            authn,
            keys,
        } => (saml_draft_config(allow_idp_initiated, authn, keys)?, false),
        ProtocolInput::Saml(saml) => (check_saml(outbound, saml).await?, true),
        ProtocolInput::Oidc(oidc) => (oidc_config(rp, oidc).await?, true),
    };
    Ok(CheckedProtocol {
        kind,
        config,
        with_idp_settings,
    })
}

async fn check_saml(outbound: &Client, input: SamlInput) -> Result<String, SetupError> {
    let outbound = outbound.clone();
    let (config, idp) = actix_web::web::block(move || saml_config(input, &outbound))
        .await
        .map_err(|err| SetupError::Unreachable(err.to_string()))??;
    tracing::info!(entity_id = %idp.entity_id, certificates = idp.signing_certificates.len(), "IdP metadata accepted");
    Ok(config)
}

/// A new connection's settings other than its IdP's.
#[derive(Debug, Clone)]
pub struct ConnectionSpec {
    pub workspace_id: WorkspaceId,
    pub name: DisplayName,
    pub vendor: Vendor,
    pub domains: Vec<Domain>,
    /// SCIM provisioning on for a login connection (always on for a SCIM-only one).
    pub scim: bool,
    pub profile_sync: ProfileSync,
    pub group_sync: GroupSync,
}

/// Why a connection was not created; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The IdP settings were refused, or the IdP could not be asked.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The store refused the write (a name taken in the workspace) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks the IdP settings, then creates the connection — a draft for a SAML one without
/// metadata, active otherwise — in one write with its audit and directory events.
pub async fn create_connection(
    store: &Store,
    rp: &OidcRp,
    outbound: &Client,
    actor: &Actor,
    spec: ConnectionSpec,
    protocol: ProtocolInput,
) -> Result<Connection, CreateError> {
    let checked = check_protocol(rp, outbound, protocol).await?;
    let status = ConnectionStatus::at_creation(checked.kind, checked.with_idp_settings)
        .map_err(|err| SetupError::Invalid(err.to_string()))?;
    let new = NewConnection {
        workspace_id: spec.workspace_id,
        name: spec.name,
        kind: checked.kind,
        vendor: spec.vendor,
        protocol_config: checked.config,
        domains: spec.domains,
        scim_enabled: checked.kind == ConnectionKind::Scim || spec.scim,
        profile_sync: spec.profile_sync,
        group_sync: spec.group_sync,
        strict_immutability: false,
    };
    let (store, actor) = (store.clone(), actor.clone());
    Ok(roster_store::blocking(move || store.create_connection_in(&actor, new, status)).await?)
}
