//! What a SCIM create does when the user it names may already exist: the product rules of
//! docs/scim.md's Users table, decided from the users that hold the request's keys, before
//! anything is written.
//!
//! IdPs create users they believe new, but the person may already be in the workspace: the same
//! connection deactivated or deleted them (Okta re-POSTs on reassignment), or they signed in
//! through SSO before SCIM was turned on. Answering 409 to the first would lock people out, and
//! creating a second user for the second would split one person in two; so the first comes back
//! with the same id, the second is adopted when the email vouches that it is the same person,
//! and anything else is a conflict the IdP must resolve.

use crate::{ConnectionId, DomainError, Email, LifecycleChange, LifecycleEvent, User};

/// What a SCIM create asks, as far as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateRequest<'a> {
    /// The connection the request comes from.
    pub connection: ConnectionId,
    pub email: Option<&'a Email>,
    pub active: bool,
}

/// Which key of the request matched an existing user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchedOn {
    ExternalId,
    UserName,
}

impl MatchedOn {
    /// The SCIM attribute's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedOn::ExternalId => "externalId",
            MatchedOn::UserName => "userName",
        }
    }
}

/// Why a SCIM create is refused (409 `uniqueness`); nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CreateConflict {
    /// This connection's user, and active: the IdP has it already.
    #[error("a user with this {} already exists", .0.as_str())]
    Active(MatchedOn),
    /// Another connection provisions a user with this userName.
    #[error("a user with this userName is provisioned by another connection")]
    OtherConnection,
    /// A user SCIM does not manage has this userName, but not this email (or no email): nothing
    /// says it is the same person.
    #[error("a user with this userName but another email already exists")]
    OtherEmail,
}

/// What a SCIM create does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateDecision<'a> {
    /// Neither key is taken: a new user.
    Insert,
    /// An inactive (deactivated or deprovisioned) user of this connection comes back with the
    /// same id, with the request's profile; `change` brings it to the request's status.
    Reprovision {
        user: &'a User,
        matched_on: MatchedOn,
        change: LifecycleChange,
    },
    /// A user SCIM does not manage (JIT or invited) with the same userName and email becomes
    /// this connection's, with the request's profile; `change` brings it to the request's status.
    Adopt {
        user: &'a User,
        change: LifecycleChange,
    },
    /// Refused with 409 `uniqueness`; nothing is written.
    Conflict(CreateConflict),
}

/// Decides a SCIM create from the users holding its keys: `by_external_id`, this connection's
/// user with the request's externalId, and `by_user_name`, the workspace's user with its
/// userName (any case). The externalId decides first; the userName is only asked when no user of
/// the connection holds the externalId (so a caller may leave it unloaded then).
///
/// The lifecycle change of a user who comes back or is adopted is planned here too
/// ([`crate::Lifecycle::plan`]), so the caller only persists it; the state machine's refusal is the
/// error (a deprovisioned user no connection manages any more is not adopted: it comes back
/// only when its IdP provisions it again).
pub fn decide_create<'a>(
    request: &CreateRequest<'_>,
    by_external_id: Option<&'a User>,
    by_user_name: Option<&'a User>,
) -> Result<CreateDecision<'a>, DomainError> {
    if let Some(user) = by_external_id {
        return reprovision_or_conflict(request, user, MatchedOn::ExternalId);
    }
    let Some(user) = by_user_name else {
        return Ok(CreateDecision::Insert);
    };
    match user.managing_connection_id {
        Some(owner) if owner == request.connection => {
            reprovision_or_conflict(request, user, MatchedOn::UserName)
        }
        Some(_) => Ok(CreateDecision::Conflict(CreateConflict::OtherConnection)),
        None => {
            let same_email = match (&user.email, request.email) {
                (Some(have), Some(want)) => have.key() == want.key(),
                _ => false,
            };
            if !same_email {
                return Ok(CreateDecision::Conflict(CreateConflict::OtherEmail));
            }
            let change = user
                .lifecycle
                .plan(LifecycleEvent::set_active(request.active))?;
            Ok(CreateDecision::Adopt { user, change })
        }
    }
}

fn reprovision_or_conflict<'a>(
    request: &CreateRequest<'_>,
    user: &'a User,
    matched_on: MatchedOn,
) -> Result<CreateDecision<'a>, DomainError> {
    if user.lifecycle.is_active() {
        return Ok(CreateDecision::Conflict(CreateConflict::Active(matched_on)));
    }
    let change = user.lifecycle.plan(LifecycleEvent::Reprovision {
        active: request.active,
    })?;
    Ok(CreateDecision::Reprovision {
        user,
        matched_on,
        change,
    })
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::{Lifecycle, Source};
    use Lifecycle::*;

    /// The guide whose Users table states the rules of a create.
    const GUIDE: &str = include_str!("../../../docs/scim.md");

    const ADA: &str = "ada@example.com";

    fn user(
        lifecycle: Lifecycle,
        source: Source,
        managed_by: Option<ConnectionId>,
        email: Option<&str>,
    ) -> User {
        crate::testing::user(ADA, email, lifecycle, source, managed_by)
    }

    /// A create: the email and status it asks for, and the users holding its keys.
    struct Case {
        email: Option<&'static str>,
        active: bool,
        by_external_id: Option<User>,
        by_user_name: Option<User>,
    }

    fn case(
        email: Option<&'static str>,
        active: bool,
        by_external_id: Option<User>,
        by_user_name: Option<User>,
    ) -> Case {
        Case {
            email,
            active,
            by_external_id,
            by_user_name,
        }
    }

    /// Which loaded user a decision names.
    #[derive(Debug, PartialEq)]
    enum Holder {
        ExternalIds,
        UserNames,
    }

    /// A decision with the user it names replaced by which key's holder it is, and the lifecycle
    /// change by the state it leads to.
    #[derive(Debug, PartialEq)]
    enum Got {
        Insert,
        Reprovision(Holder, MatchedOn, Lifecycle),
        Adopt(Lifecycle),
        Conflict(CreateConflict),
        /// The state machine refused the change (a 400).
        Refused,
    }

    fn decide(this: ConnectionId, case: &Case) -> Got {
        let email = case.email.map(|e| Email::parse(e).unwrap());
        let request = CreateRequest {
            connection: this,
            email: email.as_ref(),
            active: case.active,
        };
        let by_external_id = case.by_external_id.as_ref();
        let by_user_name = case.by_user_name.as_ref();
        let holder = |user: &User| {
            if by_external_id.is_some_and(|held| std::ptr::eq(held, user)) {
                Holder::ExternalIds
            } else {
                assert!(by_user_name.is_some_and(|held| std::ptr::eq(held, user)));
                Holder::UserNames
            }
        };
        match decide_create(&request, by_external_id, by_user_name) {
            Err(_) => Got::Refused,
            Ok(CreateDecision::Insert) => Got::Insert,
            Ok(CreateDecision::Reprovision {
                user,
                matched_on,
                change,
            }) => {
                assert_eq!(change.from, user.lifecycle);
                Got::Reprovision(holder(user), matched_on, change.to)
            }
            Ok(CreateDecision::Adopt { user, change }) => {
                assert_eq!(holder(user), Holder::UserNames);
                assert_eq!(change.from, user.lifecycle);
                Got::Adopt(change.to)
            }
            Ok(CreateDecision::Conflict(conflict)) => Got::Conflict(conflict),
        }
    }

    /// The kind of decision a behaviour cell of docs/scim.md's Users table describes.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Kind {
        Insert,
        Reprovision,
        Adopt,
        Conflict,
    }

    fn kind_of_behaviour(behaviour: &str) -> Kind {
        if behaviour.starts_with("201 with the user") {
            Kind::Insert
        } else if behaviour.starts_with("brought back with the same id") {
            Kind::Reprovision
        } else if behaviour.starts_with("adopted: same id") {
            Kind::Adopt
        } else if behaviour.starts_with("409 `uniqueness`") {
            Kind::Conflict
        } else {
            panic!("docs/scim.md: no decision of a create reads {behaviour:?}")
        }
    }

    fn kind_of(got: &Got) -> Option<Kind> {
        match got {
            Got::Insert => Some(Kind::Insert),
            Got::Reprovision(..) => Some(Kind::Reprovision),
            Got::Adopt(_) => Some(Kind::Adopt),
            Got::Conflict(_) => Some(Kind::Conflict),
            Got::Refused => None,
        }
    }

    /// The rows of docs/scim.md's Users table, as (rule, behaviour).
    fn users_table() -> Vec<(&'static str, &'static str)> {
        let section = GUIDE
            .split_once("\n## Users\n")
            .map(|(_, after)| after)
            .expect("docs/scim.md has a Users section");
        section
            .lines()
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
            .skip(2)
            .map(|line| {
                line.strip_prefix("| ")
                    .and_then(|line| line.strip_suffix(" |"))
                    .and_then(|line| line.split_once(" | "))
                    .unwrap_or_else(|| panic!("docs/scim.md: unreadable row {line:?}"))
            })
            .collect()
    }

    /// Every rule of a create in docs/scim.md's Users table, checked against [`decide_create`]:
    /// the document is the test table. Each rule is tried in the situations its words cover
    /// (both statuses asked, every state they name, email in any case) and must come out as
    /// its behaviour says; a rule reworded in the document fails here until it is mapped again.
    #[test]
    fn decide_create_follows_the_users_table_of_the_scim_guide() {
        let this = ConnectionId::new();
        let other = ConnectionId::new();
        let mine = |lifecycle| Some(user(lifecycle, Source::Scim, Some(this), Some(ADA)));
        let pre_scim = |lifecycle, source, email| Some(user(lifecycle, source, None, email));
        let mut rules: Vec<(&str, Vec<Case>)> = vec![
            (
                "create",
                vec![case(Some(ADA), true, None, None), case(None, false, None, None)],
            ),
            (
                "same userName (any case) or externalId, already provisioned by this connection and active",
                vec![
                    case(Some(ADA), true, None, mine(Active)),
                    case(Some(ADA), false, None, mine(Active)),
                    case(None, true, None, mine(Active)),
                    case(Some(ADA), true, mine(Active), None),
                    case(Some(ADA), false, mine(Active), None),
                ],
            ),
            ("another connection's user with the same userName", {
                let theirs = |lifecycle| Some(user(lifecycle, Source::Scim, Some(other), Some(ADA)));
                [Active, Deactivated, Deprovisioned]
                    .into_iter()
                    .map(|lifecycle| case(Some(ADA), true, None, theirs(lifecycle)))
                    .collect()
            }),
        ];
        let mut back = Vec::new();
        for lifecycle in [Deactivated, Deprovisioned] {
            for active in [true, false] {
                back.push(case(Some(ADA), active, mine(lifecycle), None));
                back.push(case(Some(ADA), active, None, mine(lifecycle)));
            }
        }
        rules.push((
            "same externalId or userName, user deactivated or deleted (deprovisioned)",
            back,
        ));
        let (mut adopted, mut other_email) = (Vec::new(), Vec::new());
        for source in [Source::Jit, Source::Invited] {
            for lifecycle in [Active, Deactivated] {
                for active in [true, false] {
                    let same = pre_scim(lifecycle, source, Some(ADA));
                    adopted.push(case(Some(ADA), active, None, same.clone()));
                    adopted.push(case(Some("ADA@Example.COM"), active, None, same));
                }
                let grace = pre_scim(lifecycle, source, Some("grace@example.com"));
                other_email.push(case(Some(ADA), true, None, grace));
                other_email.push(case(
                    Some(ADA),
                    true,
                    None,
                    pre_scim(lifecycle, source, None),
                ));
                other_email.push(case(
                    None,
                    true,
                    None,
                    pre_scim(lifecycle, source, Some(ADA)),
                ));
            }
        }
        rules.push((
            "a JIT/invited user with the same userName and the same email",
            adopted,
        ));
        rules.push((
            "a JIT/invited user with the same userName and another email",
            other_email,
        ));

        let table = users_table();
        for (rule, cases) in rules {
            let behaviour = table
                .iter()
                .find(|(text, _)| *text == rule)
                .map(|(_, behaviour)| *behaviour)
                .unwrap_or_else(|| panic!("docs/scim.md's Users table lacks the rule {rule:?}"));
            let want = kind_of_behaviour(behaviour);
            for case in cases {
                let got = decide(this, &case);
                let context = format!(
                    "{rule:?} with email {:?}, active={}, {:?} / {:?}",
                    case.email, case.active, case.by_external_id, case.by_user_name
                );
                assert_eq!(kind_of(&got), Some(want), "{context}");
                // Who comes back or is adopted takes the status the create asks for.
                if let Got::Reprovision(_, _, to) | Got::Adopt(to) = got {
                    assert_eq!(to.is_active(), case.active, "{context}");
                }
            }
        }
    }

    /// The finer points the guide's table leaves out: which key decides, which conflict is
    /// named, and the state machine's refusal.
    #[test]
    fn decide_create_table() {
        use CreateConflict as C;
        use Holder::*;
        use MatchedOn::*;
        let this = ConnectionId::new();
        let other = ConnectionId::new();
        let mine = |lifecycle| Some(user(lifecycle, Source::Scim, Some(this), Some(ADA)));
        let pre_scim = |lifecycle, email| Some(user(lifecycle, Source::Jit, None, email));
        // A user of a connection since deleted: its rows stay, no connection manages it.
        let orphan = |lifecycle| Some(user(lifecycle, Source::Scim, None, Some(ADA)));
        // (email asked, active asked, by externalId, by userName) => decision
        #[rustfmt::skip]
        let cases = [
            (case(Some(ADA), true, None, None), Got::Insert),
            (case(Some(ADA), true, mine(Deactivated), None), Got::Reprovision(ExternalIds, ExternalId, Active)),
            (case(Some(ADA), false, mine(Deactivated), None), Got::Reprovision(ExternalIds, ExternalId, Deactivated)),
            (case(Some(ADA), false, mine(Deprovisioned), None), Got::Reprovision(ExternalIds, ExternalId, Deactivated)),
            (case(Some(ADA), true, mine(Active), None), Got::Conflict(C::Active(ExternalId))),
            // The externalId decides before the userName.
            (case(Some(ADA), true, mine(Deactivated), mine(Active)), Got::Reprovision(ExternalIds, ExternalId, Active)),
            (case(Some(ADA), true, mine(Active), mine(Deactivated)), Got::Conflict(C::Active(ExternalId))),
            (case(Some(ADA), true, None, mine(Deprovisioned)), Got::Reprovision(UserNames, UserName, Active)),
            (case(Some(ADA), true, None, mine(Active)), Got::Conflict(C::Active(UserName))),
            (case(Some(ADA), true, None, Some(user(Deactivated, Source::Scim, Some(other), Some(ADA)))), Got::Conflict(C::OtherConnection)),
            (case(Some(ADA), true, None, pre_scim(Active, Some(ADA))), Got::Adopt(Active)),
            (case(Some("ADA@Example.com"), false, None, pre_scim(Active, Some(ADA))), Got::Adopt(Deactivated)),
            (case(Some(ADA), true, None, pre_scim(Deactivated, Some(ADA))), Got::Adopt(Active)),
            (case(Some(ADA), true, None, pre_scim(Active, Some("grace@example.com"))), Got::Conflict(C::OtherEmail)),
            (case(Some(ADA), true, None, pre_scim(Active, None)), Got::Conflict(C::OtherEmail)),
            (case(None, true, None, pre_scim(Active, Some(ADA))), Got::Conflict(C::OtherEmail)),
            // A deprovisioned user comes back only when its own IdP provisions it again.
            (case(Some(ADA), true, None, orphan(Deprovisioned)), Got::Refused),
            (case(Some(ADA), false, None, orphan(Deprovisioned)), Got::Refused),
            (case(Some(ADA), true, None, orphan(Deactivated)), Got::Adopt(Active)),
        ];
        for (case, want) in cases {
            assert_eq!(
                decide(this, &case),
                want,
                "email {:?}, active={}, {:?} / {:?}",
                case.email,
                case.active,
                case.by_external_id,
                case.by_user_name
            );
        }
    }

    #[test]
    fn conflicts_say_what_is_taken() {
        assert_eq!(
            CreateConflict::Active(MatchedOn::ExternalId).to_string(),
            "a user with this externalId already exists"
        );
        assert_eq!(
            CreateConflict::Active(MatchedOn::UserName).to_string(),
            "a user with this userName already exists"
        );
    }
}
