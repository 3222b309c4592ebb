//! A user as the product sees it: the body of `/api/v1/me` and of `roster user show`.

use roster_domain::{GroupKind, User, Workspace};

use crate::{Store, StoreResult};

/// The user, its app groups (IdP groups are not listed) and its effective roles.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProfile {
    pub id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
    /// Effective role names, highest rank first; `["member"]` (the default) when none is given.
    pub roles: Vec<String>,
    pub primary_role: String,
    /// The workspace slug.
    pub workspace: String,
    /// The user's custom attribute values, by attribute name (as the admin API's user shape).
    pub attributes: serde_json::Value,
}

impl Store {
    pub fn user_profile(&self, workspace: &Workspace, user: &User) -> StoreResult<UserProfile> {
        let groups = self
            .groups_of_user(workspace.id, user.id)?
            .into_iter()
            .filter(|group| group.kind == GroupKind::App)
            .map(|group| group.display_name.into_string())
            .collect();
        let roles = self.effective_roles(workspace, user.id)?;
        Ok(UserProfile {
            id: user.id.to_string(),
            user_name: user.user_name.to_string(),
            email: user.email.as_ref().map(ToString::to_string),
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            display_name: user.display_name.clone(),
            groups,
            roles: roles.roles.iter().map(ToString::to_string).collect(),
            primary_role: roles.primary.to_string(),
            workspace: workspace.slug.to_string(),
            attributes: super::events::UserResource::from(user).attributes,
        })
    }
}
