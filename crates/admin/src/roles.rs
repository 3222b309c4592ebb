//! `GET /api/v1/admin/roles`: the workspace's roles for the console's roles page and its
//! mapping form, so an admin picks a role from a list instead of typing a name that may not
//! exist. Each role carries its rank (the highest wins as a user's primary role) and how many
//! users it reaches. `POST /roles` creates one (the operator's `roster role create` does the
//! same through the same store call).

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_store::domain::{Role, RoleName};
use roster_store::Store;
use serde::{Deserialize, Serialize};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};

/// A role.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleResource {
    pub id: String,
    pub name: String,
    /// The highest-ranked role a user holds is their primary role.
    pub rank: i32,
    pub created_at: String,
}

impl From<&Role> for RoleResource {
    fn from(role: &Role) -> Self {
        RoleResource {
            id: role.id.to_string(),
            name: role.name.as_str().to_owned(),
            rank: role.rank,
            created_at: role.created_at.to_rfc3339(),
        }
    }
}

/// A role on the roles page.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleView {
    #[serde(flatten)]
    pub role: RoleResource,
    /// How many users hold it.
    pub user_count: i64,
    /// Whether users with no mapped role get it.
    pub is_default: bool,
}

/// The answer of `GET /roles`, highest rank first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RoleList {
    pub roles: Vec<RoleView>,
}

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
    let roles = roles
        .iter()
        .map(|(role, holders)| RoleView {
            role: RoleResource::from(role),
            user_count: *holders,
            is_default: role.name.key() == default_role.key(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(RoleList { roles }))
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
    Ok(HttpResponse::Created().json(RoleResource::from(&role)))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/roles",
        "listRoles",
        "The workspace's roles with rank and how many users each reaches",
    )
    .answers(200, schema::<RoleList>),
    Operation::post(
        "/roles",
        "createRole",
        "Create a role (a name the workspace does not have, any case; an optional rank)",
    )
    .body(schema::<NewRole>)
    .answers(201, schema::<RoleResource>),
];
