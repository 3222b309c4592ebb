//! Who the workspace's active admins are, and who they would be after a change: the facts the
//! admin policy's lockout rules decide on (`roster_policy::admin`: nobody disables, deletes or
//! demotes the last active admin).
//!
//! An active admin is an active user whose effective roles include `admin`: the role granted
//! (directly, through a mapped IdP group or an app group: `granted_roles`), or the workspace's
//! default role when nothing grants one and that default is `admin` (as
//! `roster_policy::effective_roles` resolves them).
//!
//! What deleting a mapping would leave is found by deleting it in a transaction that is always
//! rolled back: the code that deletes a mapping computes the answer, so the check cannot drift
//! from the deletion (roles reach users along several paths, and a second copy of those rules
//! would). It reads the state of the moment it runs; the policy's docs say what that leaves open.

use std::collections::BTreeSet;
use std::convert::Infallible;

use diesel::prelude::*;
use roster_domain::{Actor, Lifecycle, MappingId, RoleName, UserId, WorkspaceId, ADMIN_ROLE};

use super::corrupt;
use crate::schema::{granted_roles, roles, users, workspaces};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// The active admins of a workspace, as `conn` sees them (inside a transaction: with its
/// changes).
fn active_admins(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
) -> StoreResult<BTreeSet<UserId>> {
    let workspace = workspace_id.to_string();
    let admin_key = RoleName::parse(ADMIN_ROLE)?.key();
    let admin_role: Option<String> = roles::table
        .filter(roles::workspace_id.eq(&workspace))
        .filter(roles::name_key.eq(&admin_key))
        .select(roles::id)
        .first(conn)
        .optional()?;
    let mut ids: Vec<String> = match &admin_role {
        Some(role_id) => users::table
            .filter(users::workspace_id.eq(&workspace))
            .filter(users::lifecycle.eq(Lifecycle::Active.as_str()))
            .filter(
                users::id.eq_any(
                    granted_roles::table
                        .filter(granted_roles::role_id.eq(role_id))
                        .select(granted_roles::user_id),
                ),
            )
            .select(users::id)
            .load(conn)?,
        None => Vec::new(),
    };
    let default_role: String = workspaces::table
        .find(&workspace)
        .select(workspaces::default_role)
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound { what: "workspace" })?;
    if RoleName::parse(&default_role)
        .map_err(corrupt("workspaces"))?
        .key()
        == admin_key
    {
        // Everyone whom no role reaches is an admin by default.
        let granted: BTreeSet<String> = granted_roles::table
            .filter(granted_roles::workspace_id.eq(&workspace))
            .select(granted_roles::user_id)
            .distinct()
            .load::<String>(conn)?
            .into_iter()
            .collect();
        let active: Vec<String> = users::table
            .filter(users::workspace_id.eq(&workspace))
            .filter(users::lifecycle.eq(Lifecycle::Active.as_str()))
            .select(users::id)
            .load(conn)?;
        ids.extend(active.into_iter().filter(|id| !granted.contains(id)));
    }
    ids.iter()
        .map(|id| id.parse().map_err(corrupt("users")))
        .collect()
}

/// The outcome of a dry run: its answer, or why it could not run. Returned as the "error" of a
/// write so that the write is always rolled back.
enum DryRun<T> {
    Answer(T),
    Failed(StoreError),
}

impl<T> From<StoreError> for DryRun<T> {
    fn from(err: StoreError) -> Self {
        DryRun::Failed(err)
    }
}

impl Store {
    /// The workspace's active admins now.
    pub fn active_admins(&self, workspace_id: WorkspaceId) -> StoreResult<BTreeSet<UserId>> {
        self.read(|conn| active_admins(conn, workspace_id))
    }

    /// The active admins the workspace would have once mapping `id` is deleted (with what it
    /// brought: roles, app-group memberships). Nothing is written: the deletion runs in a
    /// transaction that is rolled back. A mapping that does not exist is `NotFound`.
    pub fn active_admins_without_mapping(
        &self,
        workspace_id: WorkspaceId,
        id: MappingId,
    ) -> StoreResult<BTreeSet<UserId>> {
        let outcome = self.write_with(|conn| -> Result<Infallible, DryRun<BTreeSet<UserId>>> {
            super::mapping::delete_mapping(conn, &Actor::System, workspace_id, id)?;
            Err(DryRun::Answer(active_admins(conn, workspace_id)?))
        });
        match outcome {
            Err(DryRun::Answer(admins)) => Ok(admins),
            Err(DryRun::Failed(err)) => Err(err),
            Ok(never) => match never {},
        }
    }
}
