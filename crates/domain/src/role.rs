//! Roles: named permissions sets of a workspace, ranked so a user with several has a primary one.

use crate::{RoleId, RoleName, Timestamp, WorkspaceId};

/// The role every user has when nothing gives one.
pub const DEFAULT_ROLE: &str = "member";
/// The workspace administrator role.
pub const ADMIN_ROLE: &str = "admin";

/// A role of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: RoleId,
    pub workspace_id: WorkspaceId,
    pub name: RoleName,
    /// Higher rank wins as a user's primary role.
    pub rank: i32,
    pub created_at: Timestamp,
}
