//! IdP connections of a workspace.

use diesel::prelude::*;
use roster_domain::domain_proof::DomainState;
use roster_domain::{
    Action, Actor, Connection, ConnectionId, ConnectionKind, ConnectionStatus, DisplayName, Domain,
    GroupSync, NewAuditEvent, ProfileSync, Timestamp, Vendor, WorkspaceId,
};

use super::{corrupt, from_json_list, record_audit, to_json_list};
use crate::error::conflict_on;
use crate::schema::{connections, workspace_domains};
use crate::sealing::{DataKeys, Place};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// What creating a connection needs; protocol crates validate `protocol_config` before.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub workspace_id: WorkspaceId,
    pub name: DisplayName,
    pub kind: ConnectionKind,
    pub vendor: Vendor,
    pub protocol_config: String,
    pub domains: Vec<Domain>,
    pub scim_enabled: bool,
    pub profile_sync: ProfileSync,
    pub group_sync: GroupSync,
    pub strict_immutability: bool,
}

/// What a connection update changes; `None` keeps the stored value. Protocol crates validate
/// `protocol_config` before.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionUpdate<'a> {
    pub protocol_config: Option<&'a str>,
    pub vendor: Option<Vendor>,
    pub domains: Option<&'a [Domain]>,
}

/// The columns a [`ConnectionUpdate`] sets (`None` leaves a column as it is).
#[derive(AsChangeset)]
#[diesel(table_name = connections)]
struct ConnectionChangeset {
    protocol_config: Option<String>,
    vendor: Option<String>,
    domains: Option<String>,
    updated_at: i64,
}

#[derive(Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = connections)]
pub(crate) struct ConnectionRow {
    pub(crate) id: String,
    pub(crate) workspace_id: String,
    pub(crate) name: String,
    pub(crate) name_key: String,
    pub(crate) kind: String,
    pub(crate) vendor: String,
    pub(crate) status: String,
    pub(crate) protocol_config: String,
    pub(crate) domains: String,
    pub(crate) profile_sync: String,
    pub(crate) group_sync: String,
    pub(crate) scim_enabled: bool,
    pub(crate) strict_immutability: bool,
    pub(crate) last_sync_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    /// A draft is stored as status `active` with this flag (see the migration
    /// `draft_connections`: replicas of the previous release still read the row).
    #[serde(default)]
    pub(crate) draft: bool,
}

/// The `status` and `draft` columns of a status.
fn status_columns(status: ConnectionStatus) -> (&'static str, bool) {
    match status {
        ConnectionStatus::Draft => (ConnectionStatus::Active.as_str(), true),
        ConnectionStatus::Active | ConnectionStatus::Revoked => (status.as_str(), false),
    }
}

/// The field of a protocol config that holds a secret Roster presents again: an upstream
/// OpenID provider's client secret. It is sealed inside the stored JSON (see `sealing`).
pub(crate) const CLIENT_SECRET: &str = "client_secret";
/// The client secret's name as a sealed column (the associated data of its seal).
pub(crate) const CLIENT_SECRET_COLUMN: &str = "connections.protocol_config.client_secret";

/// `config` with its client secret replaced by what `change` makes of it (sealed or opened).
/// Configs without one (every SCIM and SAML connection) are returned untouched, unparsed.
pub(crate) fn map_client_secret(
    config: String,
    connection_id: &str,
    change: impl Fn(Place<'_>, &str) -> StoreResult<String>,
) -> StoreResult<String> {
    if !config.contains(CLIENT_SECRET) {
        return Ok(config);
    }
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_str(&config) else {
        return Ok(config);
    };
    let Some(serde_json::Value::String(secret)) = object.get_mut(CLIENT_SECRET) else {
        return Ok(config);
    };
    let place = Place {
        column: CLIENT_SECRET_COLUMN,
        row: connection_id,
    };
    *secret = change(place, secret)?;
    Ok(serde_json::Value::Object(object).to_string())
}

impl ConnectionRow {
    pub(crate) fn into_domain(self, keys: &DataKeys) -> StoreResult<Connection> {
        let protocol_config = map_client_secret(self.protocol_config, &self.id, |place, value| {
            keys.open(place, value)
        })?;
        let bad = corrupt("connections");
        Ok(Connection {
            id: self.id.parse().map_err(&bad)?,
            workspace_id: self.workspace_id.parse().map_err(&bad)?,
            name: DisplayName::parse(&self.name).map_err(&bad)?,
            kind: ConnectionKind::parse(&self.kind).map_err(&bad)?,
            vendor: Vendor::parse(&self.vendor).map_err(&bad)?,
            status: match ConnectionStatus::parse(&self.status).map_err(&bad)? {
                ConnectionStatus::Active if self.draft => ConnectionStatus::Draft,
                status => status,
            },
            protocol_config,
            domains: from_json_list("connections", &self.domains)?
                .iter()
                .map(|domain| Domain::parse(domain))
                .collect::<Result<_, _>>()
                .map_err(&bad)?,
            profile_sync: ProfileSync::parse(&self.profile_sync).map_err(&bad)?,
            group_sync: GroupSync::parse(&self.group_sync).map_err(&bad)?,
            scim_enabled: self.scim_enabled,
            strict_immutability: self.strict_immutability,
            last_sync_at: self.last_sync_at.map(Timestamp::from_micros),
            created_at: Timestamp::from_micros(self.created_at),
            updated_at: Timestamp::from_micros(self.updated_at),
        })
    }
}

pub(crate) fn find_connection(
    conn: &mut DbConnection,
    keys: &DataKeys,
    workspace_id: WorkspaceId,
    id: ConnectionId,
) -> StoreResult<Connection> {
    connections::table
        .filter(connections::workspace_id.eq(workspace_id.to_string()))
        .filter(connections::id.eq(id.to_string()))
        .select(ConnectionRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(StoreError::NotFound { what: "connection" })?
        .into_domain(keys)
}

impl Store {
    /// Creates an active connection; a name taken in the workspace (any case) is a conflict.
    pub fn create_connection(&self, actor: &Actor, new: NewConnection) -> StoreResult<Connection> {
        self.create_connection_in(actor, new, ConnectionStatus::Active)
    }

    /// Creates a connection in `status`: active, or a draft (a SAML connection whose IdP
    /// settings come later, see [`ConnectionStatus::at_creation`]); never revoked.
    pub fn create_connection_in(
        &self,
        actor: &Actor,
        new: NewConnection,
        status: ConnectionStatus,
    ) -> StoreResult<Connection> {
        if status == ConnectionStatus::Revoked
            || (status == ConnectionStatus::Draft
                && ConnectionStatus::at_creation(new.kind, false)? != ConnectionStatus::Draft)
        {
            return Err(StoreError::Invalid(
                roster_domain::DomainError::InvalidValue {
                    field: "connection status",
                    reason: format!(
                        "a new {} connection cannot be {}",
                        new.kind.as_str(),
                        status.as_str()
                    ),
                },
            ));
        }
        let (status_column, draft) = status_columns(status);
        let now = Timestamp::now().as_micros();
        let id = ConnectionId::new();
        let protocol_config =
            map_client_secret(new.protocol_config, &id.to_string(), |place, value| {
                self.data_keys().seal(place, value)
            })?;
        let row = ConnectionRow {
            id: id.to_string(),
            workspace_id: new.workspace_id.to_string(),
            name: new.name.to_string(),
            name_key: new.name.key(),
            kind: new.kind.as_str().to_owned(),
            vendor: new.vendor.as_str().to_owned(),
            status: status_column.to_owned(),
            protocol_config,
            domains: to_json_list(&new.domains),
            profile_sync: new.profile_sync.as_str().to_owned(),
            group_sync: new.group_sync.as_str().to_owned(),
            scim_enabled: new.scim_enabled,
            strict_immutability: new.strict_immutability,
            last_sync_at: None,
            created_at: now,
            updated_at: now,
            draft,
        };
        self.write(|conn| {
            diesel::insert_into(connections::table)
                .values(&row)
                .execute(conn)
                .map_err(|err| {
                    conflict_on(
                        err,
                        "connection",
                        &[(
                            "name_key",
                            "a connection with this name already exists in the workspace",
                        )],
                    )
                })?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(new.workspace_id),
                    actor: actor.clone(),
                    action: Action("connection.created"),
                    target_kind: "connection",
                    target_id: row.id.clone(),
                    detail: serde_json::json!({
                        "name": row.name,
                        "kind": row.kind,
                        "status": status.as_str(),
                        "scim_enabled": row.scim_enabled,
                    })
                    .to_string(),
                },
            )?;
            let created = find_connection(conn, self.data_keys(), new.workspace_id, id)?;
            super::events::record_event(
                conn,
                super::events::NewEvent {
                    workspace_id: new.workspace_id,
                    event_type: "connection.created",
                    actor,
                    resource_kind: "connection",
                    resource_id: id.to_string(),
                    resource: super::events::connection_json(&created),
                    changed: None,
                },
            )?;
            Ok(created)
        })
    }

    /// Replaces a connection's protocol settings (new IdP metadata, a rotated client secret).
    /// The audit event names the change, never the settings (they may hold a client secret).
    pub fn update_connection_config(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: ConnectionId,
        protocol_config: &str,
    ) -> StoreResult<Connection> {
        self.update_connection_config_with(
            actor,
            workspace_id,
            id,
            protocol_config,
            &serde_json::json!({}),
        )
    }

    /// [`Store::update_connection_config`] whose audit event carries `audit_detail`: which
    /// settings changed and whether a secret was replaced — never a secret or the settings.
    /// Callers store only validated settings, so a draft becomes active here
    /// ([`ConnectionStatus::after_new_settings`]); that change is an event of its own.
    pub fn update_connection_config_with(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: ConnectionId,
        protocol_config: &str,
        audit_detail: &serde_json::Value,
    ) -> StoreResult<Connection> {
        self.update_connection(
            actor,
            workspace_id,
            id,
            ConnectionUpdate {
                protocol_config: Some(protocol_config),
                ..ConnectionUpdate::default()
            },
            audit_detail,
        )
    }

    /// Changes a connection's protocol settings, vendor and/or email domains in one write,
    /// audited as `connection.config_updated` with `audit_detail` (which fields changed, never
    /// a value of the settings).
    pub fn update_connection(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: ConnectionId,
        update: ConnectionUpdate<'_>,
        audit_detail: &serde_json::Value,
    ) -> StoreResult<Connection> {
        let protocol_config = match update.protocol_config {
            Some(config) => Some(map_client_secret(
                config.to_owned(),
                &id.to_string(),
                |place, value| self.data_keys().seal(place, value),
            )?),
            None => None,
        };
        let changeset = ConnectionChangeset {
            protocol_config,
            vendor: update.vendor.map(|vendor| vendor.as_str().to_owned()),
            domains: update.domains.map(to_json_list),
            updated_at: Timestamp::now().as_micros(),
        };
        self.write(|conn| {
            let before = find_connection(conn, self.data_keys(), workspace_id, id)?.status;
            // Only validated protocol settings complete a draft; a new vendor or new domains
            // leave the status as it is.
            let after = if changeset.protocol_config.is_some() {
                before.after_new_settings()
            } else {
                before
            };
            let (status_column, draft) = status_columns(after);
            diesel::update(
                connections::table
                    .filter(connections::workspace_id.eq(workspace_id.to_string()))
                    .filter(connections::id.eq(id.to_string())),
            )
            .set((
                &changeset,
                connections::status.eq(status_column),
                connections::draft.eq(draft),
            ))
            .execute(conn)?;
            let mut detail = audit_detail.clone();
            if before != after {
                if let Some(object) = detail.as_object_mut() {
                    object.insert("status".to_owned(), serde_json::json!(after.as_str()));
                }
            }
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("connection.config_updated"),
                    target_kind: "connection",
                    target_id: id.to_string(),
                    detail: detail.to_string(),
                },
            )?;
            let updated = find_connection(conn, self.data_keys(), workspace_id, id)?;
            if before != after {
                super::events::record_event(
                    conn,
                    super::events::NewEvent {
                        workspace_id,
                        event_type: "connection.updated",
                        actor,
                        resource_kind: "connection",
                        resource_id: id.to_string(),
                        resource: super::events::connection_json(&updated),
                        changed: Some(vec!["status".to_owned()]),
                    },
                )?;
            }
            Ok(updated)
        })
    }

    /// A connection by id alone (SSO callbacks carry only the connection id in their path).
    pub fn connection_by_id(&self, id: ConnectionId) -> StoreResult<Connection> {
        self.read(|conn| {
            connections::table
                .filter(connections::id.eq(id.to_string()))
                .select(ConnectionRow::as_select())
                .get_result(conn)
                .optional()?
                .ok_or(StoreError::NotFound { what: "connection" })?
                .into_domain(self.data_keys())
        })
    }

    pub fn connection(
        &self,
        workspace_id: WorkspaceId,
        id: ConnectionId,
    ) -> StoreResult<Connection> {
        self.read(|conn| {
            connections::table
                .filter(connections::workspace_id.eq(workspace_id.to_string()))
                .filter(connections::id.eq(id.to_string()))
                .select(ConnectionRow::as_select())
                .get_result(conn)
                .optional()?
                .ok_or(StoreError::NotFound { what: "connection" })?
                .into_domain(self.data_keys())
        })
    }

    pub fn connection_by_name(
        &self,
        workspace_id: WorkspaceId,
        name: &str,
    ) -> StoreResult<Connection> {
        self.read(|conn| {
            connections::table
                .filter(connections::workspace_id.eq(workspace_id.to_string()))
                .filter(connections::name_key.eq(name.to_lowercase()))
                .select(ConnectionRow::as_select())
                .get_result(conn)
                .optional()?
                .ok_or(StoreError::NotFound { what: "connection" })?
                .into_domain(self.data_keys())
        })
    }

    /// The connections whose email domains hold `domain` (lower case), of the workspace that
    /// verified `domain` (at most one), for home-realm discovery from an email alone (the OpenID
    /// Provider's `login_hint`). A domain no workspace verified finds nothing: listing a domain
    /// on a connection proves nothing. The JSON list is narrowed by a substring match in SQL
    /// and checked exactly here.
    pub fn connections_for_domain(&self, domain: &str) -> StoreResult<Vec<Connection>> {
        let quoted = format!("%{}%", serde_json::Value::from(domain));
        self.read(|conn| {
            let verified_by = workspace_domains::table
                .filter(workspace_domains::domain.eq(domain))
                .filter(workspace_domains::state.eq(DomainState::Verified.as_str()))
                .select(workspace_domains::workspace_id);
            let rows: Vec<ConnectionRow> = connections::table
                .filter(connections::domains.like(quoted))
                .filter(connections::workspace_id.eq_any(verified_by))
                .order((connections::workspace_id.asc(), connections::name_key.asc()))
                .select(ConnectionRow::as_select())
                .load(conn)?;
            let mut found = Vec::new();
            for row in rows {
                let connection = row.into_domain(self.data_keys())?;
                if connection.domains.iter().any(|d| d.as_str() == domain) {
                    found.push(connection);
                }
            }
            Ok(found)
        })
    }

    pub fn list_connections(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<Connection>> {
        self.read(|conn| {
            connections::table
                .filter(connections::workspace_id.eq(workspace_id.to_string()))
                .order(connections::name_key.asc())
                .select(ConnectionRow::as_select())
                .load(conn)?
                .into_iter()
                .map(|row| row.into_domain(self.data_keys()))
                .collect()
        })
    }
}
