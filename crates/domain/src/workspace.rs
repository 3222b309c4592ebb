//! A workspace: one tenant of the product, with its own users, IdP connections and settings.

use crate::{Domain, RoleName, Slug, Timestamp, WorkspaceId};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub slug: Slug,
    pub name: String,
    /// When set, users of this workspace may only log in through SSO.
    pub sso_enforced: bool,
    /// The role of a user that no mapping or assignment gives one.
    pub default_role: RoleName,
    /// Email domains the workspace owns; when non-empty, JIT users must have an email in one.
    pub domains: Vec<Domain>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
