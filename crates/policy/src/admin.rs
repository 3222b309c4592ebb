//! The one admin policy: who may read and change a workspace through the admin API and console,
//! given who owns the data.
//!
//! Only workspace admins get anything, reads included (`not_admin` otherwise): the admin API
//! authenticates any user of the workspace and leaves that decision here. When SCIM is on, the
//! IdP owns users and the memberships it pushes, so the app refuses to invite users, edit or
//! enable/disable/delete SCIM-managed users, and edit members of mapped groups; unmapped app
//! groups stay editable. Signing a user out everywhere ends access without changing what the IdP
//! owns, so it is allowed for every user. The console and the admin API only ask [`allowed`]; they never decide
//! themselves. `docs/policy.md` holds the full matrix, and a test checks every cell of that
//! document against this function.
//!
//! Nobody locks the workspace out with a click: an admin cannot disable or delete their own
//! account, nor disable, delete or demote (by deleting the mapping that makes them admins) the
//! workspace's last active admins. The store says who those are (facts on the [`Target`]); the
//! rule is here.

/// Something an admin may try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read the workspace's admin data: listings, logs, the audit trail, the caller's session.
    ViewAdminData,
    InviteUser,
    EditProfile,
    /// Re-enable a disabled user.
    EnableUser,
    /// Disable a user (their sessions end at once).
    DisableUser,
    DeleteUser,
    /// Add or remove members of a group.
    EditGroupMembers,
    CreateScimToken,
    RevokeScimToken,
    ToggleScim,
    ToggleSsoEnforcement,
    /// Create, reconfigure, test or revoke an IdP connection.
    ManageConnections,
    /// Create a mapping of IdP groups to roles and app groups (on the workspace), or delete one
    /// (on the mapping).
    ManageGroupMappings,
    /// Register, delete or re-enable a webhook endpoint, or resend an event to it.
    ManageWebhooks,
    /// End every Roster session of a user and every app grant they hold ("sign out everywhere").
    SignOutEverywhere,
    /// Revoke an admin API key of the workspace (a leaked one, say); listing them is a read.
    ManageApiKeys,
    /// Create a role (mappings and assignments then grant it).
    ManageRoles,
    /// Declare or delete a custom attribute of the workspace (department, cost centre, …).
    ManageAttributes,
    /// Add, verify (check the DNS record again) or delete a domain of the workspace.
    ManageDomains,
    /// Create, list or revoke setup links (one-time console sessions for a customer's IT
    /// admin, scoped to one job: `crate::setup`).
    ManageSetupLinks,
    /// Invite someone to become an admin (a one-time link to set a password or sign in with
    /// SSO), list or revoke invitations.
    InviteAdmins,
}

/// Who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// An API key, or a session of a user whose effective roles include `admin`.
    pub is_admin: bool,
    /// Whether the actor's own session came from an SSO login (enforcing SSO otherwise locks the
    /// actor out).
    pub signed_in_with_sso: bool,
}

/// What the action is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Workspace,
    User {
        /// Managed by a connection that has SCIM on (SCIM-created or adopted).
        scim_managed: bool,
        /// The acting admin's own account.
        is_actor: bool,
        /// An active admin, and the workspace has no other.
        last_active_admin: bool,
    },
    /// A mapping of an IdP group to a role and/or an app group.
    Mapping {
        /// Every active admin of the workspace is one through this mapping alone: deleting it
        /// leaves none.
        grants_the_last_active_admins: bool,
    },
    /// An app group; `mapped` when a mapping feeds its members.
    AppGroup {
        mapped: bool,
    },
    /// A group pushed by an IdP through SCIM.
    IdpGroup,
}

impl Target {
    /// A user as the policy sees them. "Managed by SCIM" is the policy's own rule: the user's
    /// connection manages them *and* SCIM is on (turning SCIM off hands the users back to the
    /// admins); `acting_user` is the caller's own account (none for an API key); the last
    /// active admin is the one member of `active_admins` (from `Store::active_admins`).
    pub fn user(
        user: &roster_domain::User,
        acting_user: Option<roster_domain::UserId>,
        active_admins: &std::collections::BTreeSet<roster_domain::UserId>,
        settings: Settings,
    ) -> Target {
        Target::User {
            scim_managed: user.is_scim_managed() && settings.scim_enabled,
            is_actor: acting_user == Some(user.id),
            last_active_admin: active_admins.len() == 1 && active_admins.contains(&user.id),
        }
    }
}

/// The workspace settings the policy depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Any connection of the workspace has SCIM on.
    pub scim_enabled: bool,
    pub sso_enforced: bool,
}

/// Why an action is refused: a stable code and a sentence for the admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub reason: &'static str,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Refused(Refusal),
}

const NOT_ADMIN: Refusal = Refusal {
    code: "not_admin",
    reason: "only workspace admins can do this",
};
const IDP_PROVISIONS: Refusal = Refusal {
    code: "scim_provisions_users",
    reason: "SCIM is on: users are provisioned by your identity provider",
};
const IDP_OWNS_USER: Refusal = Refusal {
    code: "scim_managed_user",
    reason: "this user is managed by your identity provider through SCIM; change it there",
};
const IDP_OWNS_MEMBERS: Refusal = Refusal {
    code: "scim_managed_group",
    reason: "the members of this group come from your identity provider; change them there",
};
const SCIM_OFF: Refusal = Refusal {
    code: "scim_off",
    reason: "turn SCIM provisioning on before creating a token",
};
const WOULD_LOCK_OUT: Refusal = Refusal {
    code: "sso_lockout",
    reason: "sign in with SSO before enforcing it, or you would lock yourself out",
};
const SELF_LOCKOUT: Refusal = Refusal {
    code: "self_lockout",
    reason: "you cannot disable or delete your own account; another admin can",
};
const LAST_ACTIVE_ADMIN: Refusal = Refusal {
    code: "last_active_admin",
    reason: "this is the workspace's last active admin; make another user an admin first",
};
const LAST_ADMINS_MAPPING: Refusal = Refusal {
    code: "last_active_admin",
    reason: "this mapping is what makes the workspace's active admins admins, so deleting it \
             would leave none; make another user an admin first",
};
const WRONG_TARGET: Refusal = Refusal {
    code: "invalid_target",
    reason: "this action does not apply to that target",
};

/// Decides whether `actor` may do `action` on `target` under `settings`.
pub fn allowed(action: Action, actor: Actor, target: Target, settings: Settings) -> Decision {
    use Action::*;
    use Decision::{Allowed, Refused};
    if !actor.is_admin {
        return Refused(NOT_ADMIN);
    }
    match (action, target) {
        (InviteUser, Target::Workspace) => {
            if settings.scim_enabled {
                Refused(IDP_PROVISIONS)
            } else {
                Allowed
            }
        }
        (EditProfile | EnableUser, Target::User { scim_managed, .. }) => {
            if scim_managed {
                Refused(IDP_OWNS_USER)
            } else {
                Allowed
            }
        }
        // Ending an account's access: never one's own (the admin would be locked out at once),
        // never the last active admin's (the workspace would have nobody to administer it).
        (
            DisableUser | DeleteUser,
            Target::User {
                scim_managed,
                is_actor,
                last_active_admin,
            },
        ) => {
            if scim_managed {
                Refused(IDP_OWNS_USER)
            } else if is_actor {
                Refused(SELF_LOCKOUT)
            } else if last_active_admin {
                Refused(LAST_ACTIVE_ADMIN)
            } else {
                Allowed
            }
        }
        // Ending access changes nothing the IdP owns, so SCIM-managed users are no exception:
        // an admin must be able to act on a lost device without waiting for the IdP.
        (SignOutEverywhere, Target::User { .. }) => Allowed,
        (EditGroupMembers, Target::IdpGroup) => Refused(IDP_OWNS_MEMBERS),
        (EditGroupMembers, Target::AppGroup { mapped }) => {
            if mapped && settings.scim_enabled {
                Refused(IDP_OWNS_MEMBERS)
            } else {
                Allowed
            }
        }
        (CreateScimToken, Target::Workspace) => {
            if settings.scim_enabled {
                Allowed
            } else {
                Refused(SCIM_OFF)
            }
        }
        (
            ViewAdminData | RevokeScimToken | ToggleScim | ManageConnections | ManageGroupMappings
            | ManageWebhooks | ManageApiKeys | ManageRoles | ManageAttributes | ManageDomains
            | ManageSetupLinks | InviteAdmins,
            Target::Workspace,
        ) => Allowed,
        (
            ManageGroupMappings,
            Target::Mapping {
                grants_the_last_active_admins,
            },
        ) => {
            if grants_the_last_active_admins {
                Refused(LAST_ADMINS_MAPPING)
            } else {
                Allowed
            }
        }
        (ToggleSsoEnforcement, Target::Workspace) => {
            if actor.signed_in_with_sso {
                Allowed
            } else {
                Refused(WOULD_LOCK_OUT)
            }
        }
        _ => Refused(WRONG_TARGET),
    }
}

#[cfg(test)]
mod tests;
