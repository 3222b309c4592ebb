//! `roster connection create` and `set-metadata`: validates a login connection's IdP settings
//! before anything is written — SAML metadata must carry a signing certificate (a connection
//! without one would accept unsigned assertions), OIDC discovery must answer for exactly the
//! configured issuer — and prints the values an admin pastes into the IdP. A SAML connection
//! created without metadata is a draft: the IdP gets its SP values first, `set-metadata` then
//! completes it. A flag that cannot apply to the kind
//! (`--idp-metadata-file` on a SCIM connection, `--issuer` on a SAML one) is refused with the
//! reason rather than ignored. Creation itself is `roster_sso::setup::create_connection`, the
//! code `POST /api/v1/admin/connections` runs too; this module only reads the flags and files.

use anyhow::{anyhow, bail, Context};
use roster_outbound::Client;
use roster_sso::config::{connection_urls, AuthnContextSettings, SamlConfig, SamlKeySettings};
use roster_sso::oidc::{OidcRp, TokenAuthMethod};
use roster_sso::saml::AssertionEncryption;
use roster_sso::setup::{self, ConnectionSpec, OidcInput, ProtocolInput, SamlInput};
use roster_store::domain::{
    Actor, ConnectionKind, ConnectionStatus, DisplayName, Domain, GroupSync, ProfileSync, Vendor,
};
use roster_store::Store;
use serde_json::json;

use crate::cli::{AssertionEncryptionArg, ConnectionCreate, KindArg, SetMetadata};
use crate::output;
use crate::settings::Settings;

/// Each flag given that only some kinds take, with those kinds.
fn kind_specific_flags(args: &ConnectionCreate) -> Vec<(&'static str, &'static [KindArg])> {
    const SAML: &[KindArg] = &[KindArg::Saml];
    const OIDC: &[KindArg] = &[KindArg::Oidc];
    const LOGIN: &[KindArg] = &[KindArg::Saml, KindArg::Oidc];
    [
        ("--idp-metadata-url", args.idp_metadata_url.is_some(), SAML),
        (
            "--idp-metadata-file",
            args.idp_metadata_file.is_some(),
            SAML,
        ),
        ("--allow-idp-initiated", args.allow_idp_initiated, SAML),
        ("--force-authn", args.force_authn, SAML),
        (
            "--requested-authn-context",
            !args.requested_authn_context.is_empty(),
            SAML,
        ),
        (
            "--assertion-encryption",
            args.assertion_encryption.is_some(),
            SAML,
        ),
        ("--sign-authn-requests", args.sign_authn_requests, SAML),
        ("--no-single-logout", args.no_single_logout, SAML),
        ("--issuer", args.issuer.is_some(), OIDC),
        ("--client-id", args.client_id.is_some(), OIDC),
        (
            "--client-secret-file",
            args.client_secret_file.is_some(),
            OIDC,
        ),
        (
            "--token-auth-method",
            args.token_auth_method.is_some(),
            OIDC,
        ),
        ("--domain", !args.domains.is_empty(), LOGIN),
        ("--profile-sync", args.profile_sync.is_some(), LOGIN),
        ("--group-sync", args.group_sync.is_some(), LOGIN),
    ]
    .into_iter()
    .filter(|(_, given, _)| *given)
    .map(|(flag, _, kinds)| (flag, kinds))
    .collect()
}

/// Refuses the first flag given that does not apply to `args.kind`, naming the kinds it is for.
fn refuse_inapplicable_flags(args: &ConnectionCreate) -> anyhow::Result<()> {
    let kind_name = |kind: &KindArg| match kind {
        KindArg::Saml => "saml",
        KindArg::Oidc => "oidc",
        KindArg::Scim => "scim",
    };
    for (flag, kinds) in kind_specific_flags(args) {
        if !kinds.contains(&args.kind) {
            let for_kinds: Vec<&str> = kinds.iter().map(kind_name).collect();
            let why = if args.kind == KindArg::Scim && kinds.contains(&KindArg::Saml) {
                " (a scim connection only provisions; nobody signs in through it)"
            } else {
                ""
            };
            bail!(
                "{flag} does not apply to a {} connection, only to {}{why}",
                kind_name(&args.kind),
                for_kinds.join(" and ")
            );
        }
    }
    Ok(())
}

/// `roster connection create`: parses the flags, then creates the connection through
/// [`setup::create_connection`], the code the admin API runs too.
pub fn create(args: &ConnectionCreate, settings: &Settings, store: &Store) -> anyhow::Result<()> {
    refuse_inapplicable_flags(args)?;
    let workspace = store
        .workspace_by_slug(&args.workspace)
        .map_err(|_| anyhow!("no workspace {:?}", args.workspace))?;
    for domain in &args.domains {
        roster_domain::domain_proof::check_claimable(&Domain::parse(domain)?)?;
    }
    let spec = ConnectionSpec {
        workspace_id: workspace.id,
        name: DisplayName::parse(&args.name)?,
        vendor: Vendor::parse(&args.vendor).map_err(|_| {
            anyhow!("--vendor must be one of entra, okta, onelogin, google, generic")
        })?,
        domains: args
            .domains
            .iter()
            .map(|d| Domain::parse(d))
            .collect::<Result<Vec<_>, _>>()?,
        scim: args.scim,
        profile_sync: ProfileSync::parse(args.profile_sync.as_deref().unwrap_or("first_login"))
            .map_err(|_| anyhow!("--profile-sync must be first_login or every_login"))?,
        group_sync: GroupSync::parse(args.group_sync.as_deref().unwrap_or("every_login"))
            .map_err(|_| anyhow!("--group-sync must be off or every_login"))?,
    };
    let protocol = match args.kind {
        KindArg::Scim => ProtocolInput::Scim,
        KindArg::Saml => match saml_input(args)? {
            Some(input) => ProtocolInput::Saml(input),
            None => ProtocolInput::SamlDraft {
                allow_idp_initiated: args.allow_idp_initiated,
                authn: authn_settings(args),
                keys: key_settings(args),
            },
        },
        KindArg::Oidc => ProtocolInput::Oidc(oidc_input(args)?),
    };
    let outbound = settings.outbound_client();
    let rp = OidcRp::new(outbound.clone());
    let connection = actix_web::rt::System::new().block_on(setup::create_connection(
        store,
        &rp,
        &outbound,
        &Actor::Cli,
        spec,
        protocol,
    ))?;
    // The operator's `--domain`s count as proven, as `workspace create --domain` does.
    store.declare_domains(
        &Actor::Cli,
        workspace.id,
        &connection.domains,
        "declared by the operator with roster connection create",
    )?;
    let public_url = settings.public_url();
    let mut body = json!({
        "id": connection.id.to_string(),
        "name": connection.name.as_str(),
        "kind": connection.kind.as_str(),
    });
    if connection.status == ConnectionStatus::Draft {
        body["status"] = json!(connection.status.as_str());
        tracing::warn!(
            connection = %connection.name.as_str(),
            "a draft SAML connection: give the IdP the SP values printed, then add its metadata with `roster connection set-metadata`; logins are refused until then"
        );
    }
    if let (Some(body), Ok(serde_json::Value::Object(urls))) = (
        body.as_object_mut(),
        serde_json::to_value(connection_urls(
            &public_url,
            workspace.slug.as_str(),
            &connection,
        )),
    ) {
        body.extend(urls);
    }
    if connection.scim_enabled {
        body["scim_base_url"] = json!(format!("{public_url}/scim/v2"));
    }
    output::json(&body)
}

/// The SAML input of `args`, or `None` when neither metadata flag is given (a draft, whose
/// metadata comes later).
fn saml_input(args: &ConnectionCreate) -> anyhow::Result<Option<SamlInput>> {
    if args.idp_metadata_url.is_none() && args.idp_metadata_file.is_none() {
        return Ok(None);
    }
    let mut input = metadata_input(
        args.idp_metadata_url.as_deref(),
        args.idp_metadata_file.as_deref(),
        args.allow_idp_initiated,
    )?;
    input.authn = authn_settings(args);
    input.keys = key_settings(args);
    Ok(Some(input))
}

/// `--force-authn` and `--requested-authn-context`.
fn authn_settings(args: &ConnectionCreate) -> AuthnContextSettings {
    AuthnContextSettings {
        force_authn: args.force_authn,
        requested_authn_context: args.requested_authn_context.clone(),
    }
}

/// `--assertion-encryption`, `--sign-authn-requests` and `--no-single-logout`.
fn key_settings(args: &ConnectionCreate) -> SamlKeySettings {
    SamlKeySettings {
        assertion_encryption: match args.assertion_encryption {
            None | Some(AssertionEncryptionArg::Optional) => AssertionEncryption::Optional,
            Some(AssertionEncryptionArg::Required) => AssertionEncryption::Required,
        },
        sign_authn_requests: args.sign_authn_requests,
        single_logout: !args.no_single_logout,
    }
}

/// SAML input from exactly one of a metadata URL or file.
fn metadata_input(
    url: Option<&str>,
    file: Option<&std::path::Path>,
    allow_idp_initiated: bool,
) -> anyhow::Result<SamlInput> {
    let metadata_xml = match (url, file) {
        (Some(_), None) => None,
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        _ => bail!("give exactly one of --idp-metadata-url or --idp-metadata-file"),
    };
    Ok(SamlInput {
        metadata_xml,
        metadata_url: url.map(str::to_owned),
        allow_idp_initiated,
        authn: Default::default(),
        keys: Default::default(),
    })
}

/// `roster connection set-metadata`: the IdP metadata of a SAML connection — a draft's first
/// (it becomes active) or a replacement — checked as at creation; prints the connection as
/// `connection list` shows it.
pub fn set_metadata(args: &SetMetadata, settings: &Settings, store: &Store) -> anyhow::Result<()> {
    let workspace = store
        .workspace_by_slug(&args.workspace)
        .map_err(|_| anyhow!("no workspace {:?}", args.workspace))?;
    let connection = store
        .connection_by_name(workspace.id, &args.name)
        .map_err(|_| {
            anyhow!(
                "no connection {:?} in workspace {:?}",
                args.name,
                args.workspace
            )
        })?;
    if connection.kind != ConnectionKind::Saml {
        bail!(
            "connection {:?} is a {} connection; only a saml connection takes IdP metadata",
            args.name,
            connection.kind.as_str()
        );
    }
    if connection.status == ConnectionStatus::Revoked {
        bail!("connection {:?} is revoked", args.name);
    }
    let mut input = metadata_input(
        args.idp_metadata_url.as_deref(),
        args.idp_metadata_file.as_deref(),
        args.allow_idp_initiated,
    )?;
    // New metadata keeps the authentication context the connection asks for, and what its
    // keys do.
    if let Ok(stored) = serde_json::from_str::<SamlConfig>(&connection.protocol_config) {
        input.authn = stored.authn;
        input.keys = stored.keys;
    }
    let (config, idp) = setup::saml_config(input, &settings.outbound_client())?;
    tracing::info!(entity_id = %idp.entity_id, certificates = idp.signing_certificates.len(), "IdP metadata accepted");
    let updated = store.update_connection_config_with(
        &Actor::Cli,
        workspace.id,
        connection.id,
        &config,
        &json!({ "changed": ["metadata"] }),
    )?;
    output::json(&json!({
        "id": updated.id.to_string(),
        "name": updated.name.as_str(),
        "kind": updated.kind.as_str(),
        "status": updated.status.as_str(),
    }))
}

/// The OIDC input of `args`; the secret from its file or `ROSTER_CLIENT_SECRET`.
fn oidc_input(args: &ConnectionCreate) -> anyhow::Result<OidcInput> {
    let issuer = args
        .issuer
        .clone()
        .ok_or_else(|| anyhow!("an OIDC connection needs --issuer"))?;
    let client_id = args
        .client_id
        .clone()
        .ok_or_else(|| anyhow!("an OIDC connection needs --client-id"))?;
    let client_secret = match &args.client_secret_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => std::env::var("ROSTER_CLIENT_SECRET").map_err(|_| {
            anyhow!("give the client secret with --client-secret-file or ROSTER_CLIENT_SECRET")
        })?,
    };
    let token_auth_method = match args
        .token_auth_method
        .as_deref()
        .unwrap_or("client_secret_basic")
    {
        "client_secret_basic" => TokenAuthMethod::ClientSecretBasic,
        "client_secret_post" => TokenAuthMethod::ClientSecretPost,
        _ => bail!("--token-auth-method must be client_secret_basic or client_secret_post"),
    };
    Ok(OidcInput {
        issuer,
        client_id,
        client_secret,
        token_auth_method,
    })
}

/// Fetches the metadata of every SAML connection that came from a URL and stores it when it
/// changed and still parses with a signing certificate (IdP certificate rollovers arrive this
/// way). A fetch or parse failure keeps the current metadata and is logged; returns how many
/// connections were updated.
pub fn refresh_saml_metadata(store: &Store, outbound: &Client) -> anyhow::Result<usize> {
    let mut updated = 0;
    for workspace in store.list_workspaces()? {
        for connection in store.list_connections(workspace.id)? {
            if connection.kind != ConnectionKind::Saml {
                continue;
            }
            let Ok(mut config) = serde_json::from_str::<SamlConfig>(&connection.protocol_config)
            else {
                continue;
            };
            let Some(url) = config.idp_metadata_url.clone() else {
                continue;
            };
            let fetched = match setup::fetch_metadata(&url, outbound) {
                Ok(xml) => xml,
                Err(err) => {
                    tracing::warn!(connection = %connection.id, error = %err, "IdP metadata refresh failed; keeping the current metadata");
                    continue;
                }
            };
            if fetched == config.idp_metadata_xml {
                continue;
            }
            let previous = std::mem::replace(&mut config.idp_metadata_xml, fetched);
            if let Err(err) = config.idp() {
                tracing::warn!(connection = %connection.id, error = %err, "refreshed IdP metadata is not usable; keeping the current metadata");
                config.idp_metadata_xml = previous;
                continue;
            }
            store.update_connection_config(
                &Actor::System,
                workspace.id,
                connection.id,
                &serde_json::to_string(&config)?,
            )?;
            tracing::info!(connection = %connection.id, "IdP metadata refreshed");
            updated += 1;
        }
    }
    Ok(updated)
}
