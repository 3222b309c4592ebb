//! Roster's product policy, as pure functions the rest of the code asks and never second-guesses:
//!
//! - [`admin`]: the one admin policy — who may read and change a workspace through the admin API
//!   and console ([`admin::allowed`]), including what the IdP owns ("managed by SCIM",
//!   [`admin::Target::user`]) and the lockout rules. Admin writes take the capability only an
//!   allowed decision yields (`roster-admin`'s `Permit`), so a route that skips it does not
//!   compile.
//! - [`setup`]: which part of the admin API a setup link's session reaches, by its intent.
//! - [`effective_roles`]: the roles a user ends up with, from the roles that reach the user
//!   (through mapped groups, roles attached to app groups, direct assignment) and the workspace's
//!   default role.
//!
//! **Architecture invariant:** this crate is pure. The store gathers the inputs and persists the
//! result in the same transaction as the change that caused it; nothing here knows SQL, HTTP,
//! SCIM or SAML.

pub mod admin;
pub mod setup;

use roster_domain::{Role, RoleName};

/// The roles a user ends up with, and the one that ranks highest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveRoles {
    /// Role names sorted by rank (highest first), then by name; never empty.
    pub roles: Vec<RoleName>,
    /// The highest-ranked role.
    pub primary: RoleName,
}

/// Resolves the effective roles from the roles granted to a user (duplicates allowed, in any
/// order) and the workspace's default role, which applies only when nothing else does.
pub fn effective_roles(granted: &[Role], default_role: &RoleName) -> EffectiveRoles {
    let mut ranked: Vec<(i32, &RoleName)> =
        granted.iter().map(|role| (role.rank, &role.name)).collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.key().cmp(&b.1.key())));
    ranked.dedup_by(|a, b| a.1.key() == b.1.key());
    let roles: Vec<RoleName> = ranked.into_iter().map(|(_, name)| name.clone()).collect();
    match roles.first() {
        Some(primary) => EffectiveRoles {
            primary: primary.clone(),
            roles,
        },
        None => EffectiveRoles {
            roles: vec![default_role.clone()],
            primary: default_role.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use roster_domain::{RoleId, Timestamp, WorkspaceId};

    fn role(name: &str, rank: i32) -> Role {
        Role {
            id: RoleId::new(),
            workspace_id: WorkspaceId::new(),
            name: RoleName::parse(name).unwrap(),
            rank,
            created_at: Timestamp::from_micros(0),
        }
    }

    fn names(effective: &EffectiveRoles) -> (Vec<&str>, &str) {
        (
            effective.roles.iter().map(RoleName::as_str).collect(),
            effective.primary.as_str(),
        )
    }

    #[test]
    fn default_role_when_nothing_grants_one() {
        let member = RoleName::parse("member").unwrap();
        let effective = effective_roles(&[], &member);
        assert_eq!(names(&effective), (vec!["member"], "member"));
    }

    #[test]
    fn union_ranked_and_deduplicated() {
        let member = RoleName::parse("member").unwrap();
        let granted = [role("editor", 10), role("admin", 100), role("editor", 10)];
        let effective = effective_roles(&granted, &member);
        assert_eq!(names(&effective), (vec!["admin", "editor"], "admin"));
    }
}
