//! `GET /api/v1/admin/roles`: the workspace's roles for the console's roles page and its
//! mapping form, so an admin picks a role from a list instead of typing a name that may not
//! exist. Each role carries its rank (the highest wins as a user's primary role) and how many
//! users it reaches. `POST /roles` creates one (the operator's `roster role create` does the
//! same through the same store call).

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_store::domain::RoleName;
use roster_store::Store;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation, Success};

/// `GET /roles`: `{"roles": [{id, name, rank, userCount, isDefault, createdAt}]}`, highest rank
/// first.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let (roles, default_role) = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let workspace = store.workspace(permit.workspace_id())?;
        Ok::<_, AdminError>((
            store.roles_with_holders(permit.workspace_id())?,
            workspace.default_role,
        ))
    })
    .await?;
    let list: Vec<Value> = roles
        .iter()
        .map(|(role, holders)| {
            json!({
                "id": role.id.to_string(),
                "name": role.name.as_str(),
                "rank": role.rank,
                "userCount": holders,
                "isDefault": role.name.key() == default_role.key(),
                "createdAt": role.created_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "roles": list })))
}

/// The body of `POST /roles`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRole {
    pub name: String,
    /// Higher ranks win as a user's primary role; 0 when absent (as `roster role create`).
    #[serde(default)]
    pub rank: i32,
}

/// `POST /roles` `{"name", "rank"?}`: 201 with the role; a malformed name is a 400, a name the
/// workspace has (any case) a 409. Audited as `role.created`.
pub async fn create(
    principal: Principal,
    store: web::Data<Store>,
    body: web::Json<NewRole>,
) -> Result<HttpResponse, AdminError> {
    let NewRole { name, rank } = body.into_inner();
    let name =
        RoleName::parse(&name).map_err(|err| AdminError::validation(format!("name: {err}")))?;
    let role = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageRoles)?;
        Ok::<_, AdminError>(store.create_role(
            permit.actor(),
            permit.workspace_id(),
            &name,
            rank,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(json!({
        "id": role.id.to_string(),
        "name": role.name.as_str(),
        "rank": role.rank,
        "createdAt": role.created_at.to_rfc3339(),
    })))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation {
        method: "get",
        path: "/roles",
        id: "listRoles",
        summary: "The workspace's roles with rank and how many users each reaches",
        query: None,
        body: None,
        success: Success::Json(200, schema::<serde_json::Value>),
    },
    Operation {
        method: "post",
        path: "/roles",
        id: "createRole",
        summary: "Create a role (a name the workspace does not have, any case; an optional rank)",
        query: None,
        body: Some(schema::<NewRole>),
        success: Success::Json(201, schema::<serde_json::Value>),
    },
];
