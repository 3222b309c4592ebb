//! Every cell of docs/policy.md, checked against [`allowed`]: the document is the test table.

use super::*;

const MATRIX: &str = include_str!("../../../../docs/policy.md");

/// The settings of the four columns, in document order.
const COLUMNS: [Settings; 4] = [
    Settings {
        scim_enabled: true,
        sso_enforced: true,
    },
    Settings {
        scim_enabled: true,
        sso_enforced: false,
    },
    Settings {
        scim_enabled: false,
        sso_enforced: true,
    },
    Settings {
        scim_enabled: false,
        sso_enforced: false,
    },
];

fn action(text: &str) -> Action {
    match text {
        "invite user" => Action::InviteUser,
        "edit profile" => Action::EditProfile,
        "enable user" => Action::EnableUser,
        "disable user" => Action::DisableUser,
        "delete user" => Action::DeleteUser,
        "add / remove group members" => Action::EditGroupMembers,
        "create SCIM token" => Action::CreateScimToken,
        "revoke SCIM token" => Action::RevokeScimToken,
        "toggle SCIM" => Action::ToggleScim,
        "toggle SSO enforcement" => Action::ToggleSsoEnforcement,
        "manage connections" => Action::ManageConnections,
        "view admin data" => Action::ViewAdminData,
        "manage group mappings" => Action::ManageGroupMappings,
        "manage webhooks" => Action::ManageWebhooks,
        "sign out everywhere" => Action::SignOutEverywhere,
        "manage API keys" => Action::ManageApiKeys,
        "manage roles" => Action::ManageRoles,
        "manage attributes" => Action::ManageAttributes,
        "manage domains" => Action::ManageDomains,
        "manage setup links" => Action::ManageSetupLinks,
        "invite admins" => Action::InviteAdmins,
        other => panic!("unknown action {other:?} in docs/policy.md"),
    }
}

/// A user who is neither the acting admin nor the last active admin; `scim_managed` as given.
fn user(scim_managed: bool) -> Target {
    Target::User {
        scim_managed,
        is_actor: false,
        last_active_admin: false,
    }
}

/// (actor, target) of a row, for the given column's settings (a SCIM user is managed only while
/// SCIM is on).
fn subject(text: &str, settings: Settings) -> (Actor, Target) {
    let admin = Actor {
        is_admin: true,
        signed_in_with_sso: true,
    };
    match text {
        "workspace" => (admin, Target::Workspace),
        "workspace, admin signed in with a password" => (
            Actor {
                is_admin: true,
                signed_in_with_sso: false,
            },
            Target::Workspace,
        ),
        "workspace, by a non-admin" => (
            Actor {
                is_admin: false,
                signed_in_with_sso: true,
            },
            Target::Workspace,
        ),
        "invited user" | "JIT user" => (admin, user(false)),
        "SCIM user" => (admin, user(settings.scim_enabled)),
        "yourself (other admins active)" => (
            admin,
            Target::User {
                scim_managed: false,
                is_actor: true,
                last_active_admin: false,
            },
        ),
        "yourself, the last active admin" => (
            admin,
            Target::User {
                scim_managed: false,
                is_actor: true,
                last_active_admin: true,
            },
        ),
        "the last active admin" => (
            admin,
            Target::User {
                scim_managed: false,
                is_actor: false,
                last_active_admin: true,
            },
        ),
        "SCIM user, the last active admin" => (
            admin,
            Target::User {
                scim_managed: settings.scim_enabled,
                is_actor: false,
                last_active_admin: true,
            },
        ),
        "mapping" => (
            admin,
            Target::Mapping {
                grants_the_last_active_admins: false,
            },
        ),
        "mapping that makes the last active admins admins" => (
            admin,
            Target::Mapping {
                grants_the_last_active_admins: true,
            },
        ),
        "unmapped app group" => (admin, Target::AppGroup { mapped: false }),
        "mapped app group" => (admin, Target::AppGroup { mapped: true }),
        "IdP group" => (admin, Target::IdpGroup),
        other => panic!("unknown target {other:?} in docs/policy.md"),
    }
}

fn render(decision: Decision) -> String {
    match decision {
        Decision::Allowed => "allowed".to_owned(),
        Decision::Refused(refusal) => format!("refused: `{}`", refusal.code),
    }
}

#[test]
fn every_cell_of_the_documented_matrix_holds() {
    let rows: Vec<Vec<String>> = MATRIX
        .lines()
        .skip_while(|line| !line.starts_with("| action |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect();
    let mut cells = 0;
    for row in &rows {
        assert_eq!(
            row.len(),
            6,
            "a matrix row has action, target and four columns: {row:?}"
        );
        let act = action(&row[0]);
        for (column, settings) in COLUMNS.iter().enumerate() {
            let (actor, target) = subject(&row[1], *settings);
            let got = render(allowed(act, actor, target, *settings));
            assert_eq!(
                got,
                row[2 + column],
                "{} / {} under {:?}",
                row[0],
                row[1],
                settings
            );
            cells += 1;
        }
    }
    // Every action appears, with every user source where it targets users.
    assert!(rows.len() >= 20, "the matrix lost rows: {}", rows.len());
    assert_eq!(cells, rows.len() * 4);
    // And every action has its row for a non-admin, so the document says who may do it.
    for act in every_action() {
        assert!(
            rows.iter()
                .any(|row| action(&row[0]) == act && row[1] == "workspace, by a non-admin"),
            "docs/policy.md has no non-admin row for {act:?}"
        );
    }
}

/// Every action; the match makes a new action a compile error here until it is listed.
fn every_action() -> Vec<Action> {
    use Action::*;
    let all = vec![
        ViewAdminData,
        InviteUser,
        EditProfile,
        EnableUser,
        DisableUser,
        DeleteUser,
        EditGroupMembers,
        CreateScimToken,
        RevokeScimToken,
        ToggleScim,
        ToggleSsoEnforcement,
        ManageConnections,
        ManageGroupMappings,
        ManageWebhooks,
        SignOutEverywhere,
        ManageApiKeys,
        ManageRoles,
        ManageAttributes,
        ManageDomains,
        ManageSetupLinks,
        InviteAdmins,
    ];
    for act in &all {
        match act {
            ViewAdminData | InviteUser | EditProfile | EnableUser | DisableUser | DeleteUser
            | EditGroupMembers | CreateScimToken | RevokeScimToken | ToggleScim
            | ToggleSsoEnforcement | ManageConnections | ManageGroupMappings | ManageWebhooks
            | SignOutEverywhere | ManageApiKeys | ManageRoles | ManageAttributes
            | ManageDomains | ManageSetupLinks | InviteAdmins => {}
        }
    }
    all
}

#[test]
fn a_non_admin_is_refused_everything_whatever_the_target_and_settings() {
    let non_admins = [
        Actor {
            is_admin: false,
            signed_in_with_sso: true,
        },
        Actor {
            is_admin: false,
            signed_in_with_sso: false,
        },
    ];
    let mut targets = vec![
        Target::Workspace,
        Target::Mapping {
            grants_the_last_active_admins: false,
        },
        Target::Mapping {
            grants_the_last_active_admins: true,
        },
        Target::AppGroup { mapped: true },
        Target::AppGroup { mapped: false },
        Target::IdpGroup,
    ];
    for scim_managed in [false, true] {
        for is_actor in [false, true] {
            for last_active_admin in [false, true] {
                targets.push(Target::User {
                    scim_managed,
                    is_actor,
                    last_active_admin,
                });
            }
        }
    }
    for act in every_action() {
        for actor in non_admins {
            for target in targets.iter().copied() {
                for settings in COLUMNS {
                    assert_eq!(
                        allowed(act, actor, target, settings),
                        Decision::Refused(NOT_ADMIN),
                        "{act:?} {actor:?} {target:?} {settings:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn adopted_users_are_managed_whatever_their_source() {
    let admin = Actor {
        is_admin: true,
        signed_in_with_sso: false,
    };
    let on = Settings {
        scim_enabled: true,
        sso_enforced: false,
    };
    let decision = allowed(Action::EditProfile, admin, user(true), on);
    assert_eq!(decision, Decision::Refused(IDP_OWNS_USER));
}

#[test]
fn actions_on_the_wrong_target_are_refused() {
    let admin = Actor {
        is_admin: true,
        signed_in_with_sso: true,
    };
    let off = Settings {
        scim_enabled: false,
        sso_enforced: false,
    };
    assert_eq!(
        allowed(Action::InviteUser, admin, Target::IdpGroup, off),
        Decision::Refused(WRONG_TARGET)
    );
    assert_eq!(
        allowed(Action::DeleteUser, admin, Target::Workspace, off),
        Decision::Refused(WRONG_TARGET)
    );
    assert_eq!(
        allowed(Action::SignOutEverywhere, admin, Target::Workspace, off),
        Decision::Refused(WRONG_TARGET)
    );
    let mapping = Target::Mapping {
        grants_the_last_active_admins: false,
    };
    assert_eq!(
        allowed(Action::DisableUser, admin, mapping, off),
        Decision::Refused(WRONG_TARGET)
    );
}

/// The lockout rules hold for an API key as for a session: an API key is never the target
/// (`is_actor` is false), and the last active admin is protected from it too.
#[test]
fn no_admin_locks_the_workspace_out_whatever_the_settings() {
    for signed_in_with_sso in [false, true] {
        let admin = Actor {
            is_admin: true,
            signed_in_with_sso,
        };
        for settings in COLUMNS {
            for act in [Action::DisableUser, Action::DeleteUser] {
                for last_active_admin in [false, true] {
                    let own = Target::User {
                        scim_managed: false,
                        is_actor: true,
                        last_active_admin,
                    };
                    assert_eq!(
                        allowed(act, admin, own, settings),
                        Decision::Refused(SELF_LOCKOUT)
                    );
                }
                let last = Target::User {
                    scim_managed: false,
                    is_actor: false,
                    last_active_admin: true,
                };
                assert_eq!(
                    allowed(act, admin, last, settings),
                    Decision::Refused(LAST_ACTIVE_ADMIN)
                );
            }
            // Enabling is never a lockout: one's own account, or the last admin's, may be enabled.
            let own = Target::User {
                scim_managed: false,
                is_actor: true,
                last_active_admin: true,
            };
            assert_eq!(
                allowed(Action::EnableUser, admin, own, settings),
                Decision::Allowed
            );
        }
    }
}

/// "Managed by SCIM" is the policy's rule: managed by a connection *and* SCIM on. The caller's
/// own account and the last active admin are facts the target carries.
#[test]
fn a_user_target_says_what_the_policy_needs_of_the_user() {
    use roster_domain::testing;
    use roster_domain::{ConnectionId, Lifecycle, Source, UserId};
    use std::collections::BTreeSet;

    let managed = testing::user(
        "ada",
        None,
        Lifecycle::Active,
        Source::Scim,
        Some(ConnectionId::new()),
    );
    let invited = testing::user("bob", None, Lifecycle::Active, Source::Invited, None);
    let someone_else = UserId::new();
    let settings = |scim_enabled| Settings {
        scim_enabled,
        sso_enforced: false,
    };
    let admins = |ids: &[UserId]| ids.iter().copied().collect::<BTreeSet<_>>();
    // (user, acting user, active admins, SCIM on) -> (scim_managed, is_actor, last_active_admin)
    let cases = [
        (&managed, None, admins(&[]), true, (true, false, false)),
        (&managed, None, admins(&[]), false, (false, false, false)),
        (&invited, None, admins(&[]), true, (false, false, false)),
        (
            &invited,
            Some(invited.id),
            admins(&[]),
            false,
            (false, true, false),
        ),
        (
            &invited,
            Some(someone_else),
            admins(&[invited.id]),
            false,
            (false, false, true),
        ),
        (
            &invited,
            None,
            admins(&[invited.id, someone_else]),
            false,
            (false, false, false),
        ),
        (
            &invited,
            None,
            admins(&[someone_else]),
            false,
            (false, false, false),
        ),
    ];
    for (user, acting, active_admins, scim_on, (scim_managed, is_actor, last_active_admin)) in cases
    {
        assert_eq!(
            Target::user(user, acting, &active_admins, settings(scim_on)),
            Target::User {
                scim_managed,
                is_actor,
                last_active_admin
            },
            "{} acting {acting:?}, admins {active_admins:?}, SCIM on {scim_on}",
            user.user_name
        );
    }
}
