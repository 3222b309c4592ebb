//! Roles and their direct assignment to users.

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, NewAuditEvent, Role, RoleId, RoleName, Timestamp, UserId, Workspace, WorkspaceId,
};

use roster_policy::EffectiveRoles;

use super::{corrupt, record_audit};
use crate::db::on_backend;
use crate::error::conflict_on;
use crate::schema::{granted_roles, roles, user_roles, users};
use crate::{DbConnection, Store, StoreError, StoreResult};

#[derive(Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = roles)]
pub(crate) struct RoleRow {
    pub(crate) id: String,
    pub(crate) workspace_id: String,
    pub(crate) name: String,
    pub(crate) name_key: String,
    pub(crate) rank: i32,
    pub(crate) created_at: i64,
}

impl RoleRow {
    fn into_domain(self) -> StoreResult<Role> {
        let bad = corrupt("roles");
        Ok(Role {
            id: self.id.parse().map_err(&bad)?,
            workspace_id: self.workspace_id.parse().map_err(&bad)?,
            name: RoleName::parse(&self.name).map_err(&bad)?,
            rank: self.rank,
            created_at: Timestamp::from_micros(self.created_at),
        })
    }
}

pub(crate) fn insert_role(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    name: &RoleName,
    rank: i32,
) -> StoreResult<RoleId> {
    let id = RoleId::new();
    diesel::insert_into(roles::table)
        .values(RoleRow {
            id: id.to_string(),
            workspace_id: workspace_id.to_string(),
            name: name.to_string(),
            name_key: name.key(),
            rank,
            created_at: Timestamp::now().as_micros(),
        })
        .execute(conn)
        .map_err(|err| {
            conflict_on(
                err,
                "role",
                &[("name_key", "a role with this name already exists")],
            )
        })?;
    Ok(id)
}

pub(crate) fn find_role_by_name(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    name: &str,
) -> StoreResult<Role> {
    roles::table
        .filter(roles::workspace_id.eq(workspace_id.to_string()))
        .filter(roles::name_key.eq(RoleName::parse(name)?.key()))
        .select(RoleRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(StoreError::NotFound { what: "role" })?
        .into_domain()
}

impl Store {
    /// Creates a role; a name taken in the workspace (any case) is a conflict.
    pub fn create_role(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        name: &RoleName,
        rank: i32,
    ) -> StoreResult<Role> {
        self.write(|conn| {
            let id = insert_role(conn, workspace_id, name, rank)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("role.created"),
                    target_kind: "role",
                    target_id: id.to_string(),
                    detail: serde_json::json!({ "name": name.as_str(), "rank": rank }).to_string(),
                },
            )?;
            find_role_by_name(conn, workspace_id, name.as_str())
        })
    }

    pub fn role_by_name(&self, workspace_id: WorkspaceId, name: &str) -> StoreResult<Role> {
        self.read(|conn| find_role_by_name(conn, workspace_id, name))
    }

    pub fn list_roles(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<Role>> {
        self.read(|conn| {
            roles::table
                .filter(roles::workspace_id.eq(workspace_id.to_string()))
                .order((roles::rank.desc(), roles::name_key.asc()))
                .select(RoleRow::as_select())
                .load(conn)?
                .into_iter()
                .map(RoleRow::into_domain)
                .collect()
        })
    }

    /// The workspace's roles (highest rank first, as [`Store::list_roles`]), each with how many
    /// users it reaches, directly or through groups (the materialised `granted_roles`). Users
    /// no role reaches hold the workspace's default role without being counted here.
    pub fn roles_with_holders(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<(Role, i64)>> {
        let roles = self.list_roles(workspace_id)?;
        let counts: Vec<(String, i64)> = self.read(|conn| {
            Ok(granted_roles::table
                .filter(granted_roles::workspace_id.eq(workspace_id.to_string()))
                .group_by(granted_roles::role_id)
                .select((granted_roles::role_id, diesel::dsl::count_star()))
                .load(conn)?)
        })?;
        Ok(roles
            .into_iter()
            .map(|role| {
                let id = role.id.to_string();
                let holders = counts
                    .iter()
                    .find(|(role_id, _)| *role_id == id)
                    .map_or(0, |(_, count)| *count);
                (role, holders)
            })
            .collect())
    }

    /// Assigns a role to a user directly (idempotent).
    pub fn assign_role(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        user_id: UserId,
        role_name: &str,
    ) -> StoreResult<()> {
        self.write(|conn| assign_role_in(conn, actor, workspace_id, user_id, role_name))
    }

    /// The user's effective roles: the union of the roles that reach the user (direct, through
    /// mapped IdP groups, through app groups), or the workspace's default role when none does
    /// (see `roster-policy`). Reads the materialised `granted_roles`.
    pub fn effective_roles(
        &self,
        workspace: &Workspace,
        user_id: UserId,
    ) -> StoreResult<EffectiveRoles> {
        self.read(|conn| effective_roles(conn, workspace, user_id))
    }

    /// Roles assigned to a user directly (not through groups).
    pub fn direct_roles(
        &self,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> StoreResult<Vec<Role>> {
        self.read(|conn| {
            roles::table
                .inner_join(user_roles::table)
                .filter(roles::workspace_id.eq(workspace_id.to_string()))
                .filter(user_roles::user_id.eq(user_id.to_string()))
                .select(RoleRow::as_select())
                .load(conn)?
                .into_iter()
                .map(RoleRow::into_domain)
                .collect()
        })
    }
}

/// A user's effective roles (granted directly or through groups, else the workspace default),
/// inside the caller's transaction.
pub(crate) fn effective_roles(
    conn: &mut DbConnection,
    workspace: &Workspace,
    user_id: UserId,
) -> StoreResult<EffectiveRoles> {
    let (workspace_id, user_id) = (workspace.id.to_string(), user_id.to_string());
    let rows: Vec<RoleRow> = on_backend!(conn, |c| roles::table
        .inner_join(granted_roles::table)
        .filter(roles::workspace_id.eq(&workspace_id))
        .filter(granted_roles::user_id.eq(&user_id))
        .select(RoleRow::as_select())
        .load(c))?;
    let granted: Vec<Role> = rows
        .into_iter()
        .map(RoleRow::into_domain)
        .collect::<StoreResult<_>>()?;
    Ok(roster_policy::effective_roles(
        &granted,
        &workspace.default_role,
    ))
}

/// [`Store::assign_role`] inside a transaction of the caller's (accepting an admin invitation
/// creates the user and makes them admin in one).
pub(crate) fn assign_role_in(
    conn: &mut DbConnection,
    actor: &Actor,
    workspace_id: WorkspaceId,
    user_id: UserId,
    role_name: &str,
) -> StoreResult<()> {
    let role = find_role_by_name(conn, workspace_id, role_name)?;
    let user_exists: i64 = users::table
        .filter(users::workspace_id.eq(workspace_id.to_string()))
        .filter(users::id.eq(user_id.to_string()))
        .count()
        .get_result(conn)?;
    if user_exists == 0 {
        return Err(StoreError::NotFound { what: "user" });
    }
    let already: i64 = user_roles::table
        .filter(user_roles::user_id.eq(user_id.to_string()))
        .filter(user_roles::role_id.eq(role.id.to_string()))
        .count()
        .get_result(conn)?;
    if already > 0 {
        return Ok(());
    }
    diesel::insert_into(user_roles::table)
        .values((
            user_roles::user_id.eq(user_id.to_string()),
            user_roles::role_id.eq(role.id.to_string()),
            user_roles::created_at.eq(Timestamp::now().as_micros()),
        ))
        .execute(conn)?;
    let cause = serde_json::json!({ "direct_assignment": role.name.as_str() });
    super::mapping::recompute_roles(conn, actor, workspace_id, &[user_id.to_string()], &cause)?;
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: Some(workspace_id),
            actor: actor.clone(),
            action: Action("user.role_assigned"),
            target_kind: "user",
            target_id: user_id.to_string(),
            detail: serde_json::json!({ "role": role.name.as_str(), "cause": "direct" })
                .to_string(),
        },
    )
}
