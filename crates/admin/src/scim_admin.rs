//! `/api/v1/admin/scim`: SCIM connections with their sync status, revoking a connection, and
//! group mappings — the surface products embedding a SCIM plugin expose, so Roster offers it too.
//! Every route asks the policy first, like the rest of the admin API: revoking here is `manage
//! connections`, exactly as `DELETE /connections/{id}`.

use actix_web::{web, HttpResponse};
use roster_policy::admin::{Action, Target};
use roster_store::domain::{
    ConnectionId, ConnectionStatus, DisplayName, GroupId, GroupMapping, MappingId, Role, RoleName,
    WorkspaceId,
};
use roster_store::{NewMapping, Store, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation, Success};

fn parse_id<T: std::str::FromStr>(id: &str, what: &str) -> Result<T, AdminError> {
    id.parse()
        .map_err(|_| AdminError::not_found(format!("{what} {id:?} not found")))
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
    let connections: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "id": row.connection.id.to_string(),
                "name": row.connection.name.as_str(),
                "kind": row.connection.kind.as_str(),
                // This listing's contract knows `active` and `revoked` only; a draft's SCIM
                // is served (only its logins wait for the IdP metadata), so it is active here.
                "status": match row.connection.status {
                    ConnectionStatus::Revoked => "revoked",
                    ConnectionStatus::Active | ConnectionStatus::Draft => "active",
                },
                "provisionedUserCount": row.provisioned_users,
                "provisionedGroupCount": row.provisioned_groups,
                "lastSyncAt": row.connection.last_sync_at.map(|at| at.to_rfc3339()),
                "recentFailures": row.recent_failures,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "connections": connections })))
}

/// `DELETE /api/v1/admin/scim/connections/{id}`: revokes the connection; its tokens stop at once.
pub async fn revoke_connection(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
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

fn mapping_json(mapping: &GroupMapping, names: MappingNames) -> Value {
    json!({
        "id": mapping.id.to_string(),
        "connectionId": mapping.connection_id.to_string(),
        "connectionName": names.connection,
        "scimGroupId": mapping.idp_group_key,
        "scimGroupName": mapping.idp_group_name,
        "scimGroupDisplayName": names.idp_group,
        "groupId": mapping.app_group_id.map(|id| id.to_string()),
        "groupName": names.app_group,
        "roleId": mapping.role_id.map(|id| id.to_string()),
        "roleName": names.role,
        "createdAt": mapping.created_at.to_rfc3339(),
    })
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
            list.push(mapping_json(m, names));
        }
        Ok::<_, AdminError>(json!({ "mappings": list }))
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
    let by_name = non_empty(&body.scim_group_name).map(str::to_owned);
    let by_id = non_empty(&body.scim_group_id).map(str::to_owned);
    if by_name.is_some() == by_id.is_some() {
        return Err(AdminError::validation(
            "give exactly one of scimGroupName and scimGroupId",
        ));
    }
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
        let role = role_name
            .as_ref()
            .map(|name| known_role(&store, workspace, name))
            .transpose()?;
        let (connection_id, key) = match (&by_id, connection_id) {
            (Some(id), _) => {
                let group = store
                    .idp_group(workspace, parse_id(id, "SCIM group")?)
                    .map_err(|err| match err {
                        StoreError::NotFound { .. } => {
                            AdminError::not_found(format!("SCIM group {id:?} not found"))
                        }
                        other => other.into(),
                    })?;
                let connection = group
                    .connection_id
                    .ok_or_else(|| AdminError::not_found(format!("SCIM group {id:?} not found")))?;
                (connection, Some(group.id.to_string()))
            }
            (None, Some(connection)) => (store.connection(workspace, connection)?.id, None),
            (None, None) => {
                let scim: Vec<_> = store
                    .list_connections(workspace)?
                    .into_iter()
                    .filter(|c| c.accepts_scim())
                    .collect();
                match scim.as_slice() {
                    [only] => (only.id, None),
                    [] => {
                        return Err(AdminError::not_found(
                            "no connection with SCIM on in this workspace",
                        ))
                    }
                    _ => {
                        return Err(AdminError::validation(
                            "several connections have SCIM on: give connectionId",
                        ))
                    }
                }
            }
        };
        let app_group = group_name
            .as_ref()
            .map(|name| store.app_group_by_name_or_create(actor, workspace, name))
            .transpose()?;
        let mapping = store.create_mapping(
            actor,
            &NewMapping {
                workspace_id: workspace,
                connection_id,
                idp_group_key: key,
                idp_group_name: if by_id.is_some() {
                    None
                } else {
                    by_name.clone()
                },
                app_group_id: app_group.as_ref().map(|g| g.id),
                role_id: role.as_ref().map(|r| r.id),
            },
        )?;
        let names = MappingNames {
            role: role.map(|r| r.name.to_string()),
            connection: Some(store.connection(workspace, connection_id)?.name.to_string()),
            app_group: app_group.map(|g| g.display_name.to_string()),
            idp_group: match &mapping.idp_group_key {
                Some(key) => group_display_name(&store, workspace, key)?,
                None => None,
            },
        };
        Ok::<_, AdminError>(mapping_json(&mapping, names))
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// The workspace's role of that name. An unknown name is the request's mistake (a 400, like any
/// other invalid field), answered with the roles there are, so the admin can pick one.
fn known_role(store: &Store, workspace: WorkspaceId, name: &RoleName) -> Result<Role, AdminError> {
    match store.role_by_name(workspace, name.as_str()) {
        Ok(role) => Ok(role),
        Err(StoreError::NotFound { .. }) => {
            let roles: Vec<String> = store
                .list_roles(workspace)?
                .iter()
                .map(|role| role.name.to_string())
                .collect();
            Err(AdminError::validation(format!(
                "no role named \"{name}\" in this workspace (its roles: {})",
                roles.join(", ")
            ))
            .with_detail(json!({ "field": "roleName", "roles": roles })))
        }
        Err(other) => Err(other.into()),
    }
}

/// `DELETE /api/v1/admin/scim/group-mappings/{id}`: the mapping and what it brought go at once.
/// Refused (`last_active_admin`) when every active admin is one through this mapping alone.
pub async fn delete_mapping(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
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
    Operation {
        method: "get",
        path: "/scim",
        id: "getScimStatus",
        summary: "SCIM connections with their sync status",
        query: None,
        body: None,
        success: Success::Json(200, schema::<serde_json::Value>),
    },
    Operation {
        method: "delete",
        path: "/scim/connections/{id}",
        id: "revokeScimConnection",
        summary: "Revoke a SCIM connection; its tokens stop at once",
        query: None,
        body: None,
        success: Success::NoContent,
    },
    Operation {
        method: "get",
        path: "/scim/group-mappings",
        id: "listGroupMappings",
        summary: "List group mappings",
        query: None,
        body: None,
        success: Success::Json(200, schema::<serde_json::Value>),
    },
    Operation {
        method: "post",
        path: "/scim/group-mappings",
        id: "createGroupMapping",
        summary: "Map an IdP group to a role and/or an app group",
        query: None,
        body: Some(schema::<CreateMapping>),
        success: Success::Json(201, schema::<serde_json::Value>),
    },
    Operation {
        method: "delete",
        path: "/scim/group-mappings/{id}",
        id: "deleteGroupMapping",
        summary: "Delete a mapping and what it brought",
        query: None,
        body: None,
        success: Success::NoContent,
    },
];
