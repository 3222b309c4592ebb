//! `/api/v1/admin/scim`: SCIM connections with their sync status, revoking a connection, and
//! group mappings — the surface products embedding a SCIM plugin expose, so Roster offers it too.
//! Every route asks the policy first, like the rest of the admin API: revoking here is `manage
//! connections`, exactly as `DELETE /connections/{id}`.

use actix_web::{web, HttpResponse};
use roster_policy::admin::{Action, Target};
use roster_store::domain::{
    ConnectionId, ConnectionStatus, DisplayName, GroupId, GroupMapping, MappingId, RoleName,
    WorkspaceId,
};
use roster_store::{CreatedMapping, IdpGroupRef, NamedMapping, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};

fn parse_id<T: std::str::FromStr>(id: &str, what: &str) -> Result<T, AdminError> {
    id.parse()
        .map_err(|_| AdminError::not_found(format!("{what} {id:?} not found")))
}

/// A SCIM connection's status in this listing.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListingStatus {
    /// SCIM through it is served (a draft's too: only its logins wait for the IdP metadata).
    Active,
    /// Revoked: its tokens are refused; it stays listed.
    Revoked,
}

/// A SCIM connection with its provisioning health.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimConnectionView {
    id: String,
    name: String,
    /// `saml`, `oidc` or `scim`.
    kind: &'static str,
    status: ListingStatus,
    provisioned_user_count: i64,
    provisioned_group_count: i64,
    /// The last SCIM request through it (RFC 3339), if any.
    last_sync_at: Option<String>,
    /// Failed (4xx/5xx) SCIM requests in the last 24 hours.
    recent_failures: i64,
}

/// The answer of `GET /api/v1/admin/scim`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ScimStatus {
    connections: Vec<ScimConnectionView>,
}

/// `GET /api/v1/admin/scim`: connections with their provisioning health.
pub async fn status(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let rows = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.scim_status(permit.workspace_id())?)
    })
    .await?;
    let connections = rows
        .iter()
        .map(|row| ScimConnectionView {
            id: row.connection.id.to_string(),
            name: row.connection.name.as_str().to_owned(),
            kind: row.connection.kind.as_str(),
            // This listing's contract knows `active` and `revoked` only.
            status: match row.connection.status {
                ConnectionStatus::Revoked => ListingStatus::Revoked,
                ConnectionStatus::Active | ConnectionStatus::Draft => ListingStatus::Active,
            },
            provisioned_user_count: row.provisioned_users,
            provisioned_group_count: row.provisioned_groups,
            last_sync_at: row.connection.last_sync_at.map(|at| at.to_rfc3339()),
            recent_failures: row.recent_failures,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ScimStatus { connections }))
}

/// `DELETE /api/v1/admin/scim/connections/{id}`: revokes the connection; its tokens stop at once.
pub async fn revoke_connection(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageConnections)?;
        Ok::<_, AdminError>(store.revoke_connection(permit.actor(), permit.workspace_id(), id)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What a mapping's ids are called, for the console to show names instead of ids.
#[derive(Debug, Default)]
struct MappingNames {
    role: Option<String>,
    connection: Option<String>,
    app_group: Option<String>,
    /// The IdP group's display name, when the mapping is bound to a group Roster holds.
    idp_group: Option<String>,
}

/// A group mapping with the names of what it links beside their ids.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MappingView {
    id: String,
    connection_id: String,
    connection_name: Option<String>,
    /// The IdP group's stable key (its SCIM id or externalId, or a claim value); null while a
    /// mapping by name waits for its group to be pushed.
    scim_group_id: Option<String>,
    /// The exact name a pending mapping waits for; null once bound.
    scim_group_name: Option<String>,
    /// The display name of the IdP group the key names, when Roster holds that group.
    scim_group_display_name: Option<String>,
    /// The app group members join.
    group_id: Option<String>,
    group_name: Option<String>,
    /// The role members get.
    role_id: Option<String>,
    role_name: Option<String>,
    created_at: String,
}

impl MappingView {
    fn new(mapping: &GroupMapping, names: MappingNames) -> Self {
        MappingView {
            id: mapping.id.to_string(),
            connection_id: mapping.connection_id.to_string(),
            connection_name: names.connection,
            scim_group_id: mapping.idp_group_key.clone(),
            scim_group_name: mapping.idp_group_name.clone(),
            scim_group_display_name: names.idp_group,
            group_id: mapping.app_group_id.map(|id| id.to_string()),
            group_name: names.app_group,
            role_id: mapping.role_id.map(|id| id.to_string()),
            role_name: names.role,
            created_at: mapping.created_at.to_rfc3339(),
        }
    }
}

/// The answer of `GET /api/v1/admin/scim/group-mappings`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MappingList {
    mappings: Vec<MappingView>,
}

/// The display name of a group of the workspace, if `id` names one (a mapping's IdP group key
/// may also be an externalId or a JIT claim value, which name no group row).
fn group_display_name(
    store: &Store,
    workspace: WorkspaceId,
    id: &str,
) -> Result<Option<String>, AdminError> {
    let Ok(group_id) = id.parse::<GroupId>() else {
        return Ok(None);
    };
    match store.group(workspace, group_id) {
        Ok(group) => Ok(Some(group.display_name.to_string())),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// `GET /api/v1/admin/scim/group-mappings`: each mapping with the names of its connection,
/// role, app group and (once bound) IdP group beside their ids.
pub async fn list_mappings(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let body = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let workspace = permit.workspace_id();
        let roles = store.list_roles(workspace)?;
        let connections = store.list_connections(workspace)?;
        let mappings = store.list_mappings(workspace)?;
        let mut list = Vec::with_capacity(mappings.len());
        for m in &mappings {
            let names = MappingNames {
                role: m
                    .role_id
                    .and_then(|id| roles.iter().find(|r| r.id == id))
                    .map(|r| r.name.to_string()),
                connection: connections
                    .iter()
                    .find(|c| c.id == m.connection_id)
                    .map(|c| c.name.to_string()),
                app_group: match m.app_group_id {
                    Some(id) => group_display_name(&store, workspace, &id.to_string())?,
                    None => None,
                },
                idp_group: match &m.idp_group_key {
                    Some(key) => group_display_name(&store, workspace, key)?,
                    None => None,
                },
            };
            list.push(MappingView::new(m, names));
        }
        Ok::<_, AdminError>(MappingList { mappings: list })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The body of `POST /api/v1/admin/scim/group-mappings`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateMapping {
    scim_group_name: Option<String>,
    scim_group_id: Option<String>,
    role_name: Option<String>,
    group_name: Option<String>,
    connection_id: Option<String>,
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `POST /api/v1/admin/scim/group-mappings`: maps an IdP group (by id, or by exact name — bound
/// when that group exists or is pushed later) to a role and/or an app group.
pub async fn create_mapping(
    principal: Principal,
    store: web::Data<Store>,
    body: web::Json<CreateMapping>,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let wanted = match (
        non_empty(&body.scim_group_name),
        non_empty(&body.scim_group_id),
    ) {
        (Some(name), None) => IdpGroupRef::Name(name.to_owned()),
        (None, Some(id)) => IdpGroupRef::Key(id.to_owned()),
        _ => {
            return Err(AdminError::validation(
                "give exactly one of scimGroupName and scimGroupId",
            ))
        }
    };
    let role_name = non_empty(&body.role_name)
        .map(|name| RoleName::parse(name).map_err(|err| AdminError::validation(err.to_string())))
        .transpose()?;
    let group_name = non_empty(&body.group_name)
        .map(|name| DisplayName::parse(name).map_err(|err| AdminError::validation(err.to_string())))
        .transpose()?;
    if role_name.is_none() && group_name.is_none() {
        return Err(AdminError::validation("give roleName, groupName, or both"));
    }
    let connection_id: Option<ConnectionId> = non_empty(&body.connection_id)
        .map(|id| parse_id(id, "connection"))
        .transpose()?;
    let created = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageGroupMappings)?;
        let workspace = permit.workspace_id();
        let actor = permit.actor();
        let (connection_id, idp_group) = match wanted {
            // By id the group must exist; it names its connection.
            IdpGroupRef::Key(id) => {
                let not_found = || AdminError::not_found(format!("SCIM group {id:?} not found"));
                let group = store
                    .idp_group(workspace, parse_id(&id, "SCIM group")?)
                    .map_err(|err| match err {
                        StoreError::NotFound { .. } => not_found(),
                        other => other.into(),
                    })?;
                let connection = group.connection_id.ok_or_else(not_found)?;
                (connection, IdpGroupRef::Key(group.id.to_string()))
            }
            IdpGroupRef::Name(name) => {
                let connection = match connection_id {
                    Some(connection) => store.connection(workspace, connection)?.id,
                    None => only_scim_connection(&store, workspace)?,
                };
                (connection, IdpGroupRef::Name(name))
            }
        };
        // The one implementation, shared with `roster mapping create`.
        let created = store
            .create_named_mapping(
                actor,
                &NamedMapping {
                    workspace_id: workspace,
                    connection_id,
                    idp_group,
                    app_group: group_name,
                    role: role_name.clone(),
                },
            )
            .map_err(|err| match (err, &role_name) {
                (StoreError::NotFound { what: "role" }, Some(name)) => {
                    unknown_role(&store, workspace, name)
                }
                (other, _) => other.into(),
            })?;
        let CreatedMapping {
            mapping,
            role,
            app_group,
        } = created;
        let names = MappingNames {
            role: role.map(|r| r.name.to_string()),
            connection: Some(store.connection(workspace, connection_id)?.name.to_string()),
            app_group: app_group.map(|g| g.display_name.to_string()),
            idp_group: match &mapping.idp_group_key {
                Some(key) => group_display_name(&store, workspace, key)?,
                None => None,
            },
        };
        Ok::<_, AdminError>(MappingView::new(&mapping, names))
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// The workspace's only connection with SCIM on, for a mapping that names none.
fn only_scim_connection(store: &Store, workspace: WorkspaceId) -> Result<ConnectionId, AdminError> {
    let scim: Vec<_> = store
        .list_connections(workspace)?
        .into_iter()
        .filter(|c| c.accepts_scim())
        .collect();
    match scim.as_slice() {
        [only] => Ok(only.id),
        [] => Err(AdminError::not_found(
            "no connection with SCIM on in this workspace",
        )),
        _ => Err(AdminError::validation(
            "several connections have SCIM on: give connectionId",
        )),
    }
}

/// An unknown role name is the request's mistake (a 400, like any other invalid field),
/// answered with the roles there are, so the admin can pick one.
fn unknown_role(store: &Store, workspace: WorkspaceId, name: &RoleName) -> AdminError {
    let roles = match store.list_roles(workspace) {
        Ok(roles) => roles,
        Err(err) => return err.into(),
    };
    let roles: Vec<String> = roles.iter().map(|role| role.name.to_string()).collect();
    AdminError::validation(format!(
        "no role named \"{name}\" in this workspace (its roles: {})",
        roles.join(", ")
    ))
    .with_detail(json!({ "field": "roleName", "roles": roles }))
}

/// `DELETE /api/v1/admin/scim/group-mappings/{id}`: the mapping and what it brought go at once.
/// Refused (`last_active_admin`) when every active admin is one through this mapping alone.
pub async fn delete_mapping(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: MappingId = parse_id(&id, "mapping")?;
    roster_store::blocking(move || {
        let read = require_read(&store, &principal)?;
        let admins_now = store.active_admins(read.workspace_id())?;
        let admins_after = store.active_admins_without_mapping(read.workspace_id(), id)?;
        let permit = read.require(
            Action::ManageGroupMappings,
            Target::Mapping {
                grants_the_last_active_admins: !admins_now.is_empty() && admins_after.is_empty(),
            },
        )?;
        Ok::<_, AdminError>(store.delete_mapping(permit.actor(), permit.workspace_id(), id)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/scim",
        "getScimStatus",
        "SCIM connections with their sync status",
    )
    .answers(200, schema::<ScimStatus>),
    Operation::delete(
        "/scim/connections/{id}",
        "revokeScimConnection",
        "Revoke a SCIM connection; its tokens stop at once",
    ),
    Operation::get(
        "/scim/group-mappings",
        "listGroupMappings",
        "List group mappings",
    )
    .answers(200, schema::<MappingList>),
    Operation::post(
        "/scim/group-mappings",
        "createGroupMapping",
        "Map an IdP group to a role and/or an app group",
    )
    .body(schema::<CreateMapping>)
    .answers(201, schema::<MappingView>),
    Operation::delete(
        "/scim/group-mappings/{id}",
        "deleteGroupMapping",
        "Delete a mapping and what it brought",
    ),
];
