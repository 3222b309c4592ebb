//! The operator commands. Each one opens the store (applying pending migrations, which is
//! idempotent and safe while `serve` runs), does one thing, and prints one JSON document — or a
//! bare secret — on stdout.

use anyhow::{anyhow, bail, Context};
use roster_admin::password;
use roster_store::domain::{
    Actor, Connection, ConnectionStatus, DisplayName, Domain, Email, LifecycleEvent, RoleName,
    Slug, Source, Timestamp, User, UserName, Workspace,
};
use roster_store::{NewUser, NewWorkspace, Store, StoreError};
use serde_json::json;

use crate::cli::{
    AdminCommand, ApiKeyCommand, AppCommand, Command, ConnectionCommand, IdTokenAlgArg,
    KeysCommand, MappingCommand, OperatorKeyCommand, RoleCommand, TokenCommand, UserCommand,
    UserSelector, WorkspaceCommand,
};
use crate::settings::Settings;
use crate::{output, undo};

/// Opens the configured database and applies pending migrations. A SQLite file that does not
/// exist is created only when `may_create` (`migrate`, `serve`), with a log line saying where;
/// otherwise it is an error naming `database.url`.
pub(crate) fn open_store(settings: &Settings, may_create: bool) -> anyhow::Result<Store> {
    check_sqlite_file(settings, may_create)?;
    let store = Store::open(&settings.database.url, &settings.pool_options())?
        .with_data_keys(settings.data_keys());
    let applied = store.migrate()?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied database migrations");
    }
    Ok(store)
}

/// `roster data-key`: needs no database.
pub(crate) fn data_key(command: &crate::cli::DataKeyCommand) -> anyhow::Result<()> {
    match command {
        crate::cli::DataKeyCommand::Generate => output::line(&roster_store::DataKey::generate()?),
    }
}

/// The start-up pass of `serve` and `migrate` (see `roster_store::sealing`): seals the secrets
/// stored before sealing existed, or by a previous data key; logs what it did.
fn seal_stored_secrets(store: &Store) -> anyhow::Result<()> {
    let report = store
        .seal_stored_secrets()
        .context("sealing the stored secrets with security.data_key")?;
    if report.total() > 0 {
        let columns: Vec<String> = report
            .sealed
            .iter()
            .map(|(column, count)| format!("{column}: {count}"))
            .collect();
        tracing::info!(
            sealed = report.total(),
            columns = %columns.join(", "),
            "sealed stored secrets with the current data key"
        );
    }
    Ok(())
}

/// Refuses a SQLite `database.url` whose file does not exist unless `may_create`; logs where a
/// new database is created.
pub(crate) fn check_sqlite_file(settings: &Settings, may_create: bool) -> anyhow::Result<()> {
    let url = roster_store::DatabaseUrl::parse(&settings.database.url)?;
    if url.backend != roster_store::Backend::Sqlite || url.target == ":memory:" {
        return Ok(());
    }
    let path = std::path::Path::new(&url.target);
    if path.exists() {
        return Ok(());
    }
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    if !may_create {
        bail!(
            "there is no SQLite database at {} (check the path; `roster migrate` creates a new \
             one)",
            shown.display()
        );
    }
    tracing::info!(path = %shown.display(), "creating a new SQLite database");
    Ok(())
}

pub(crate) fn dispatch(command: Command, settings: &Settings, store: Store) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            seal_stored_secrets(&store)?;
            crate::http::serve(settings, store)
        }
        Command::Migrate => {
            seal_stored_secrets(&store)?;
            output::json(&json!({ "status": "up to date" }))
        }
        Command::Config(_) => {
            crate::config_check::run(settings, &crate::settings::Provenance::default())
        }
        Command::DataKey(command) => data_key(&command),
        Command::Healthcheck { timeout_secs } => {
            crate::healthcheck::run(settings, std::time::Duration::from_secs(timeout_secs))
        }
        Command::Workspace(command) => workspace(command, &store),
        Command::Connection(ConnectionCommand::Create(args)) => {
            crate::connections::create(&args, settings, &store)
        }
        Command::Connection(ConnectionCommand::SetMetadata(args)) => {
            crate::connections::set_metadata(&args, settings, &store)
        }
        Command::Connection(ConnectionCommand::List { workspace }) => {
            undo::connection_list(&workspace, &store)
        }
        Command::Connection(ConnectionCommand::Revoke { workspace, name }) => {
            undo::connection_revoke(&workspace, &name, &store)
        }
        Command::Connection(ConnectionCommand::Keys(command)) => {
            crate::sp_keys::run(command, &store)
        }
        Command::Token(command) => token(command, &store),
        Command::Admin(command) => admin(command, settings, &store),
        Command::Role(command) => role(command, &store),
        Command::User(command) => user(command, &store),
        Command::Mapping(command) => mapping(command, &store),
        Command::Keys(command) => keys(command, settings, &store),
        Command::App(command) => app(command, &store),
        Command::Export { workspace } => {
            let workspace = find_workspace(&store, &workspace)?;
            output::json(&store.export_workspace(workspace.id)?)
        }
        Command::Import => {
            let mut input = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
                .context("reading the export from stdin")?;
            let document: serde_json::Value =
                serde_json::from_str(&input).context("the export is not valid JSON")?;
            let workspace = store.import_workspace(&Actor::Cli, &document)?;
            output::json(
                &json!({ "id": workspace.id.to_string(), "slug": workspace.slug.as_str(), "status": "imported" }),
            )
        }
        Command::ApiKey(ApiKeyCommand::Create { workspace, name }) => {
            let workspace = find_workspace(&store, &workspace)?;
            let (_, key) = store.create_api_key(&Actor::Cli, workspace.id, &name)?;
            output::line(key.expose())
        }
        Command::ApiKey(ApiKeyCommand::List { workspace }) => {
            undo::api_key_list(&workspace, &store)
        }
        Command::ApiKey(ApiKeyCommand::Revoke { workspace, id }) => {
            undo::api_key_revoke(&workspace, &id, &store)
        }
        Command::OperatorKey(OperatorKeyCommand::Create { name }) => {
            if name.trim().is_empty() {
                bail!("--name must not be empty");
            }
            let (_, key) = store.create_operator_key(&Actor::Cli, name.trim())?;
            output::line(key.expose())
        }
        Command::OperatorKey(OperatorKeyCommand::List) => undo::operator_key_list(&store),
        Command::OperatorKey(OperatorKeyCommand::Revoke { id }) => {
            undo::operator_key_revoke(&id, &store)
        }
    }
}

pub(crate) fn find_workspace(store: &Store, slug: &str) -> anyhow::Result<Workspace> {
    store.workspace_by_slug(slug).map_err(|err| match err {
        StoreError::NotFound { .. } => anyhow!("no workspace with slug {slug:?}"),
        other => other.into(),
    })
}

pub(crate) fn find_connection(
    store: &Store,
    workspace: &Workspace,
    name: &str,
) -> anyhow::Result<Connection> {
    store
        .connection_by_name(workspace.id, name)
        .map_err(|err| match err {
            StoreError::NotFound { .. } => anyhow!(
                "no connection named {name:?} in workspace {}",
                workspace.slug
            ),
            other => other.into(),
        })
}

fn workspace(command: WorkspaceCommand, store: &Store) -> anyhow::Result<()> {
    match command {
        WorkspaceCommand::Create {
            slug,
            name,
            domains,
        } => {
            let domains = domains
                .iter()
                .map(|d| Domain::parse(d))
                .collect::<Result<Vec<_>, _>>()?;
            let workspace = store.create_workspace(
                &Actor::Cli,
                NewWorkspace {
                    name: name.unwrap_or_else(|| slug.clone()),
                    slug: Slug::parse(&slug)?,
                    domains,
                },
            )?;
            output::json(
                &json!({ "id": workspace.id.to_string(), "slug": workspace.slug.as_str() }),
            )
        }
        WorkspaceCommand::Delete { slug, confirm } => {
            undo::workspace_delete(&slug, confirm.as_deref(), store)
        }
        WorkspaceCommand::List => {
            let list: Vec<_> = store
                .list_workspaces()?
                .into_iter()
                .map(|w| {
                    json!({
                        "id": w.id.to_string(),
                        "slug": w.slug.as_str(),
                        "name": w.name,
                        "domains": w.domains.iter().map(Domain::as_str).collect::<Vec<_>>(),
                    })
                })
                .collect();
            output::json(&json!(list))
        }
    }
}

fn token(command: TokenCommand, store: &Store) -> anyhow::Result<()> {
    let (workspace, connection, name, expires_in_days) = match command {
        TokenCommand::Create {
            workspace,
            connection,
            name,
            expires_in_days,
        } => (workspace, connection, name, expires_in_days),
        TokenCommand::List {
            workspace,
            connection,
        } => return undo::token_list(&workspace, connection.as_deref(), store),
        TokenCommand::Revoke { workspace, id } => {
            return undo::token_revoke(&workspace, &id, store)
        }
    };
    let workspace = find_workspace(store, &workspace)?;
    let connection = find_connection(store, &workspace, &connection)?;
    // A token the SCIM endpoint would refuse (403) is not issued: the admin API's rule
    // (`create SCIM token` needs SCIM on for the connection), from the same domain function.
    if !connection.accepts_scim() {
        bail!(
            "SCIM provisioning is off for connection {:?}{}: a token would be refused; turn SCIM on first",
            connection.name.as_str(),
            if connection.status == ConnectionStatus::Revoked { " (revoked)" } else { "" }
        );
    }
    let expires_at = roster_store::domain::token_expiry(Timestamp::now(), expires_in_days)
        .context("--expires-in-days")?;
    let (_, secret) =
        store.create_scim_token(&Actor::Cli, workspace.id, connection.id, &name, expires_at)?;
    output::line(secret.expose())
}

fn admin(command: AdminCommand, settings: &Settings, store: &Store) -> anyhow::Result<()> {
    let AdminCommand::Create { workspace, email } = command;
    let workspace = find_workspace(store, &workspace)?;
    let email = Email::parse(&email)?;
    let existing = store.user_by_user_name(workspace.id, email.as_str());
    let reactivated = matches!(&existing, Ok(user) if !user.lifecycle.is_active());
    let user = match existing {
        // An admin locked out by being disabled is let back in: re-enabled before anything
        // else is written, so a user that cannot be (deprovisioned by its IdP) changes nothing.
        Ok(user) if !user.lifecycle.is_active() => store.change_lifecycle(
            &Actor::Cli,
            workspace.id,
            user.id,
            LifecycleEvent::Reactivate,
        )?,
        Ok(user) => user,
        Err(StoreError::NotFound { .. }) => store.create_user(
            &Actor::Cli,
            &NewUser {
                email: Some(email.clone()),
                ..NewUser::minimal(
                    workspace.id,
                    UserName::parse(email.as_str())?,
                    Source::Invited,
                )
            },
        )?,
        Err(err) => return Err(err.into()),
    };
    store.assign_role(
        &Actor::Cli,
        workspace.id,
        user.id,
        roster_store::domain::ADMIN_ROLE,
    )?;
    let password = password::generate_password()?;
    store.set_password_hash(
        &Actor::Cli,
        workspace.id,
        user.id,
        &password::hash_password(&password)?,
    )?;
    output::json(&json!({
        "id": user.id.to_string(),
        "email": email.as_str(),
        "reactivated": reactivated,
        "password": password,
        "login_url": format!("{}/admin", settings.public_url()),
    }))
}

fn role(command: RoleCommand, store: &Store) -> anyhow::Result<()> {
    let (workspace, name, rank) = match command {
        RoleCommand::Create {
            workspace,
            name,
            rank,
        } => (workspace, name, rank),
        RoleCommand::List { workspace } => return undo::role_list(&workspace, store),
    };
    let workspace = find_workspace(store, &workspace)?;
    let role = store.create_role(&Actor::Cli, workspace.id, &RoleName::parse(&name)?, rank)?;
    output::json(
        &json!({ "id": role.id.to_string(), "name": role.name.as_str(), "rank": role.rank }),
    )
}

fn user(command: UserCommand, store: &Store) -> anyhow::Result<()> {
    let (selector, event) = match command {
        UserCommand::Show {
            workspace,
            user_name,
            id,
        } => (
            UserSelector {
                workspace,
                user_name,
                id,
            },
            None,
        ),
        UserCommand::Enable(selector) => (selector, Some(LifecycleEvent::Reactivate)),
        UserCommand::Disable(selector) => (selector, Some(LifecycleEvent::Deactivate)),
    };
    let (workspace, mut user) = find_user(store, selector)?;
    if let Some(event) = event {
        user = store.change_lifecycle(&Actor::Cli, workspace.id, user.id, event)?;
    }
    output::json(&user_json(store, &workspace, &user)?)
}

fn find_user(store: &Store, selector: UserSelector) -> anyhow::Result<(Workspace, User)> {
    let workspace = find_workspace(store, &selector.workspace)?;
    let found = match (selector.user_name, selector.id) {
        (Some(name), _) => store.user_by_user_name(workspace.id, &name),
        (None, Some(id)) => store.user(workspace.id, id.parse()?),
        (None, None) => bail!("give --user-name or --id"),
    };
    let user = found.map_err(|err| match err {
        StoreError::NotFound { .. } => anyhow!("no such user in workspace {}", workspace.slug),
        other => other.into(),
    })?;
    Ok((workspace, user))
}

/// A user in the shape of `/api/v1/me`, plus `active` and `source`.
fn user_json(
    store: &Store,
    workspace: &Workspace,
    user: &User,
) -> anyhow::Result<serde_json::Value> {
    let mut body = serde_json::to_value(store.user_profile(workspace, user)?)?;
    body["active"] = json!(user.lifecycle.is_active());
    body["source"] = json!(user.source.as_str());
    Ok(body)
}

fn mapping_json(mapping: &roster_store::domain::GroupMapping) -> serde_json::Value {
    json!({
        "id": mapping.id.to_string(),
        "connection_id": mapping.connection_id.to_string(),
        "idp_group": mapping.idp_group_key,
        "idp_group_name": mapping.idp_group_name,
        "group_id": mapping.app_group_id.map(|id| id.to_string()),
        "role_id": mapping.role_id.map(|id| id.to_string()),
    })
}

fn mapping(command: MappingCommand, store: &Store) -> anyhow::Result<()> {
    match command {
        MappingCommand::Create {
            workspace,
            connection,
            idp_group,
            group,
            role,
        } => {
            let workspace = find_workspace(store, &workspace)?;
            if group.is_none() && role.is_none() {
                bail!("give --group, --role, or both");
            }
            let connection = find_connection(store, &workspace, &connection)?;
            let request = roster_store::NamedMapping {
                workspace_id: workspace.id,
                connection_id: connection.id,
                idp_group: roster_store::IdpGroupRef::Key(idp_group),
                app_group: group.as_deref().map(DisplayName::parse).transpose()?,
                role: role.as_deref().map(RoleName::parse).transpose()?,
            };
            // One transaction, shared with the admin API: an unknown role writes nothing.
            let created = store
                .create_named_mapping(&Actor::Cli, &request)
                .map_err(|err| match err {
                    StoreError::NotFound { what: "role" } => anyhow!(
                        "no role named {:?} in workspace {}",
                        role.as_deref().unwrap_or_default(),
                        workspace.slug
                    ),
                    other => other.into(),
                })?
                .mapping;
            output::json(&mapping_json(&created))
        }
        MappingCommand::Delete { workspace, id } => {
            let workspace = find_workspace(store, &workspace)?;
            let id = id
                .parse()
                .map_err(|_| anyhow!("{id:?} is not a mapping id"))?;
            store
                .delete_mapping(&Actor::Cli, workspace.id, id)
                .map_err(|err| match err {
                    StoreError::NotFound { .. } => {
                        anyhow!("no mapping {id} in workspace {}", workspace.slug)
                    }
                    other => other.into(),
                })?;
            output::json(&json!({ "deleted": id.to_string() }))
        }
        MappingCommand::List { workspace } => {
            let workspace = find_workspace(store, &workspace)?;
            let list: Vec<_> = store
                .list_mappings(workspace.id)?
                .iter()
                .map(mapping_json)
                .collect();
            output::json(&json!(list))
        }
    }
}

/// `roster keys rotate|list`: session signing keys. Never prints private material.
fn keys(command: KeysCommand, settings: &Settings, store: &Store) -> anyhow::Result<()> {
    let micros = |at: i64| Timestamp::from_micros(at).to_rfc3339();
    match command {
        KeysCommand::Rotate { revoke_previous } => {
            let rotation = roster_sso::session::rotate_keys(
                store,
                &Actor::Cli,
                &settings.session_options(),
                Timestamp::now(),
                revoke_previous,
            )
            .context("rotating the session key")?;
            let retired = !rotation.retired_kids.is_empty();
            output::json(&json!({
                "kid": rotation.kid,
                "retired_kid": rotation.retired_kids.first(),
                "previous_keys_valid_until": retired
                    .then(|| rotation.previous_valid_until.to_rfc3339()),
            }))
        }
        KeysCommand::List => {
            let now = Timestamp::now();
            let list: Vec<_> = store
                .session_keys()?
                .iter()
                .map(|key| {
                    json!({
                        "kid": key.kid,
                        "algorithm": key.algorithm,
                        "created_at": micros(key.created_at),
                        "retired_at": key.retired_at.map(micros),
                        "valid_until": key.verifies_until().map(micros),
                        "status": key.status_at(now).as_str(),
                    })
                })
                .collect();
            output::json(&json!(list))
        }
    }
}

/// `roster app ...`: the products that sign users in through Roster's OpenID Provider. Secrets
/// are printed once, by `create` and `rotate-secret`, and never again.
fn app(command: AppCommand, store: &Store) -> anyhow::Result<()> {
    use roster_provider::apps;
    let now = Timestamp::now();
    let no_app = |client_id: &str| {
        let client_id = client_id.to_owned();
        move |err: roster_provider::ProviderError| match err {
            roster_provider::ProviderError::Store(StoreError::NotFound { .. }) => {
                anyhow!("no app with client_id {client_id:?}")
            }
            other => other.into(),
        }
    };
    match command {
        AppCommand::Create(args) => {
            let registration = apps::AppRegistration {
                name: args.name,
                redirect_uris: args.redirect_uris,
                post_logout_redirect_uris: args.post_logout_redirect_uris,
                backchannel_logout_uri: args.backchannel_logout_uri,
                public: args.public,
                id_token_alg: match args.id_token_alg {
                    IdTokenAlgArg::Rs256 => roster_store::SigningAlg::Rs256,
                    IdTokenAlgArg::Es256 => roster_store::SigningAlg::Es256,
                },
            };
            let created =
                apps::CreatedApp::from(apps::register(store, &Actor::Cli, &registration, now)?);
            output::json(&serde_json::to_value(&created)?)
        }
        AppCommand::List => {
            let list: Vec<apps::AppDetails> = store
                .oauth_apps()?
                .iter()
                .map(|app| apps::AppDetails::at(app, now))
                .collect();
            output::json(&serde_json::to_value(list)?)
        }
        AppCommand::Show { client_id } => {
            let app = store
                .oauth_app(&client_id)
                .map_err(roster_provider::ProviderError::from)
                .map_err(no_app(&client_id))?;
            output::json(&serde_json::to_value(apps::AppDetails::at(&app, now))?)
        }
        AppCommand::RotateSecret {
            client_id,
            revoke_previous,
        } => {
            let rotated = apps::rotate_secret(store, &Actor::Cli, &client_id, now, revoke_previous)
                .map_err(no_app(&client_id))?;
            output::json(&serde_json::to_value(&rotated)?)
        }
        AppCommand::Delete { client_id } => {
            let deleted =
                apps::delete(store, &Actor::Cli, &client_id).map_err(no_app(&client_id))?;
            output::json(&serde_json::to_value(&deleted)?)
        }
    }
}
