//! `GET /api/v1/admin/roles`: the workspace's roles for the console's roles page and its
//! mapping form, so an admin picks a role from a list instead of typing a name that may not
//! exist. Each role carries its rank (the highest wins as a user's primary role) and how many
//! users it reaches. Roles are read-only here: the API creates none.

use actix_web::{web, HttpResponse};
use roster_store::Store;
use serde_json::{json, Value};

use crate::auth::permit::require_read;
use crate::auth::Principal;
use crate::error::AdminError;

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
