//! The one user model shared by JIT-only and SCIM-enabled workspaces, and its rules.
//!
//! A user row exists once per person per workspace, whoever created it (an admin invite, a first
//! SSO login, or an IdP through SCIM). `source` says who created it; `managing_connection` says
//! which SCIM connection owns its profile now (a JIT user adopted by SCIM changes owner, not id).
//! The lifecycle is a small state machine (`Lifecycle::apply`), and `Lifecycle::plan` says
//! everything a change does besides the new state: whether the user's sessions end, the audit
//! action, the directory events. The store persists exactly that plan through one writer
//! (`write_lifecycle`), so a rule changed here changes every path that deactivates, deletes,
//! re-provisions or signs a user out: the admin API, SCIM PUT/PATCH/DELETE and create.

use crate::{
    Action, ConnectionId, DomainError, Email, IdentityId, Timestamp, UserId, UserName, WorkspaceId,
};

/// Who created the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Created by an admin (console, API, CLI) before any login.
    Invited,
    /// Created at the first SSO login.
    Jit,
    /// Pushed by an IdP through SCIM.
    Scim,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Invited => "invited",
            Source::Jit => "jit",
            Source::Scim => "scim",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "invited" => Ok(Source::Invited),
            "jit" => Ok(Source::Jit),
            "scim" => Ok(Source::Scim),
            other => Err(DomainError::UnknownVariant {
                field: "source",
                value: other.to_owned(),
            }),
        }
    }
}

/// Where a user stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    /// May log in.
    Active,
    /// Disabled (SCIM `active=false` or an admin): kept, visible to SCIM, may not log in.
    Deactivated,
    /// Deleted by SCIM: kept with its audit trail, hidden from SCIM (404), may not log in.
    Deprovisioned,
}

/// A requested lifecycle change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleEvent {
    /// SCIM `active=false`, or an admin disabling the user.
    Deactivate,
    /// SCIM `active=true`, or an admin enabling the user.
    Reactivate,
    /// SCIM DELETE.
    Deprovision,
    /// A SCIM create that matches an inactive (deactivated or deprovisioned) user of the same
    /// connection: it comes back with the same id, active or not as the request says. Okta
    /// re-POSTs deactivated users on reassignment; a 409 there would lock people out.
    Reprovision { active: bool },
    /// An admin's "sign out everywhere" (a lost laptop): every session ends, the state stays.
    SignOutEverywhere,
}

impl LifecycleEvent {
    /// The event that leaves a user active or not, as SCIM's `active` attribute (PUT, PATCH, the
    /// status a create adopts a user with) asks.
    pub fn set_active(active: bool) -> Self {
        if active {
            LifecycleEvent::Reactivate
        } else {
            LifecycleEvent::Deactivate
        }
    }

    fn as_str(&self) -> &'static str {
        match self {
            LifecycleEvent::Deactivate => "deactivated",
            LifecycleEvent::Reactivate => "reactivated",
            LifecycleEvent::Deprovision => "deprovisioned",
            LifecycleEvent::Reprovision { .. } => "reprovisioned",
            LifecycleEvent::SignOutEverywhere => "signed out everywhere",
        }
    }
}

/// Why a user's sessions end. The store moves the user's `session_epoch` (every Roster session
/// stops verifying) and revokes the user's OpenID Provider grants for this reason, which decides
/// whether the apps get a back-channel logout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionsEnd {
    /// The user stopped being active (deactivated or deprovisioned).
    UserInactive,
    /// An admin signed the user out everywhere; the user stays as they are.
    SignedOut,
}

/// A directory event (docs/events.md) that a lifecycle change announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleNotice {
    /// `user.updated`, naming `lifecycle` among the changed attributes (a re-provisioning).
    LifecycleUpdated,
    /// `user.deactivated`.
    Deactivated,
    /// `user.reactivated`.
    Reactivated,
    /// `user.deprovisioned`.
    Deprovisioned,
    /// `session.revoked`: the user's sessions ended.
    SessionRevoked,
}

/// Everything a lifecycle event does to a user, decided before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleChange {
    pub from: Lifecycle,
    pub to: Lifecycle,
    /// Whether (and why) the user's sessions end in the same transaction.
    pub ends_sessions: Option<SessionsEnd>,
    /// Whether the user's `version` (its SCIM ETag) moves: every change of the user does, an
    /// admin signing the user out does not (no attribute a client sees changed).
    pub moves_version: bool,
    /// The audit action; `None` when the event changes nothing (a repeat).
    pub audit: Option<Action>,
    /// The directory events, in the order they are written.
    pub notices: &'static [LifecycleNotice],
}

impl LifecycleChange {
    /// A repeated event (IdPs retry): nothing to write.
    pub fn is_noop(&self) -> bool {
        self.audit.is_none()
    }
}

impl Lifecycle {
    pub fn as_str(&self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Deactivated => "deactivated",
            Lifecycle::Deprovisioned => "deprovisioned",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "active" => Ok(Lifecycle::Active),
            "deactivated" => Ok(Lifecycle::Deactivated),
            "deprovisioned" => Ok(Lifecycle::Deprovisioned),
            other => Err(DomainError::UnknownVariant {
                field: "lifecycle",
                value: other.to_owned(),
            }),
        }
    }

    /// SCIM's `active` attribute.
    pub fn is_active(&self) -> bool {
        matches!(self, Lifecycle::Active)
    }

    /// The state after `event`, or why it is refused. Repeating an event is allowed and changes
    /// nothing (IdPs retry).
    pub fn apply(self, event: LifecycleEvent) -> Result<Lifecycle, DomainError> {
        use Lifecycle::*;
        use LifecycleEvent::*;
        let refuse = |reason| DomainError::InvalidTransition {
            from: self.as_str(),
            event: event.as_str(),
            reason,
        };
        match (self, event) {
            (Active | Deactivated, Deactivate) => Ok(Deactivated),
            (Active | Deactivated, Reactivate) => Ok(Active),
            (_, Deprovision) => Ok(Deprovisioned),
            (Deprovisioned | Deactivated, Reprovision { active }) => {
                Ok(if active { Active } else { Deactivated })
            }
            (Deprovisioned, Deactivate | Reactivate) => Err(refuse(
                "a deprovisioned user comes back only when its IdP provisions it again",
            )),
            (Active, Reprovision { .. }) => {
                Err(refuse("an active user cannot be provisioned again"))
            }
            (state, SignOutEverywhere) => Ok(state),
        }
    }

    /// What `event` does to a user in this state: the new state (as [`Lifecycle::apply`] says,
    /// refusals included), whether the sessions end, the audit action and the directory events.
    pub fn plan(self, event: LifecycleEvent) -> Result<LifecycleChange, DomainError> {
        use LifecycleEvent::*;
        use LifecycleNotice::*;
        let to = self.apply(event)?;
        let ends_sessions = match event {
            SignOutEverywhere => Some(SessionsEnd::SignedOut),
            _ => self
                .revokes_sessions(to)
                .then_some(SessionsEnd::UserInactive),
        };
        let (audit, notices): (_, &'static [LifecycleNotice]) = match event {
            SignOutEverywhere => ("user.signed_out_everywhere", &[SessionRevoked]),
            // Announced even when the state stays (a deactivated user re-POSTed inactive): the
            // IdP provisioned the user again, with whatever profile it sent.
            Reprovision { .. } if to.is_active() => {
                ("user.reprovisioned", &[LifecycleUpdated, Reactivated])
            }
            Reprovision { .. } => ("user.reprovisioned", &[LifecycleUpdated]),
            _ if to == self => {
                return Ok(LifecycleChange {
                    from: self,
                    to,
                    ends_sessions: None,
                    moves_version: false,
                    audit: None,
                    notices: &[],
                })
            }
            Reactivate => ("user.reactivated", &[Reactivated]),
            // Only an active user can be deactivated, so its sessions end.
            Deactivate => ("user.deactivated", &[Deactivated, SessionRevoked]),
            Deprovision if ends_sessions.is_some() => {
                ("user.deprovisioned", &[Deprovisioned, SessionRevoked])
            }
            Deprovision => ("user.deprovisioned", &[Deprovisioned]),
        };
        Ok(LifecycleChange {
            from: self,
            to,
            ends_sessions,
            moves_version: event != SignOutEverywhere,
            audit: Some(Action(audit)),
            notices,
        })
    }

    /// Whether moving from `self` to `next` must end the user's sessions at once.
    fn revokes_sessions(self, next: Lifecycle) -> bool {
        self.is_active() && !next.is_active()
    }
}

/// A person in a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub workspace_id: WorkspaceId,
    pub user_name: UserName,
    pub email: Option<Email>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub lifecycle: Lifecycle,
    pub source: Source,
    /// The SCIM connection that owns the profile, if any.
    pub managing_connection_id: Option<ConnectionId>,
    /// SCIM attributes Roster has no column for (enterprise extension, phone numbers, ...), as a
    /// JSON object text; only `roster-scim` interprets it.
    pub scim_attributes: String,
    /// The values of the workspace's custom attributes (`attributes`), as a JSON object text
    /// keyed by attribute name; the store and the API crates interpret it.
    pub attributes: String,
    /// Incremented on every change; the SCIM ETag.
    pub version: i64,
    /// Sessions carry the epoch they were issued in; a bump revokes them all.
    pub session_epoch: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    /// Whether an IdP owns this user's profile through SCIM (so the app must not edit it).
    pub fn is_scim_managed(&self) -> bool {
        self.managing_connection_id.is_some()
    }
}

/// A link of an IdP subject (SAML NameID / OIDC `sub`) at one connection to a user: the JIT key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: IdentityId,
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    pub subject: String,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

/// A change of an immutable identifier that was asked for and not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredChange {
    /// `userName` or `email`.
    pub attribute: &'static str,
    /// What the IdP sent.
    pub want: String,
    /// What Roster keeps.
    pub got: String,
}

/// What an update makes of a user's email under the rule "an email is set once": a user
/// provisioned without one may receive one, after that it is fixed. A difference in letter case
/// only is not a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailUpdate<'a> {
    /// Stays as it is: no email asked for, or the one the user has.
    Keep,
    /// The user's first email.
    Set(&'a Email),
    /// Another email than the one set: not applied.
    Ignored { want: &'a Email, got: &'a Email },
}

/// The rule "an email is set once" (see [`EmailUpdate`]) for a user whose email is `current`
/// and an update asking for `want`.
pub fn email_update<'a>(current: Option<&'a Email>, want: Option<&'a Email>) -> EmailUpdate<'a> {
    match (current, want) {
        (_, None) => EmailUpdate::Keep,
        (None, Some(want)) => EmailUpdate::Set(want),
        (Some(got), Some(want)) if got.key() == want.key() => EmailUpdate::Keep,
        (Some(got), Some(want)) => EmailUpdate::Ignored { want, got },
    }
}

/// The product rule "`userName` and email are set once at provisioning and never changed by SCIM":
/// given the stored user and what an update asks for, list the identifier changes to ignore (or,
/// with strict immutability, to refuse). A difference in letter case only is not a change.
pub fn ignored_identifier_changes(
    current: &User,
    want_user_name: Option<&UserName>,
    want_email: Option<&Email>,
) -> Vec<IgnoredChange> {
    let mut ignored = Vec::new();
    if let Some(want) = want_user_name {
        if want.key() != current.user_name.key() {
            ignored.push(IgnoredChange {
                attribute: "userName",
                want: want.to_string(),
                got: current.user_name.to_string(),
            });
        }
    }
    if let EmailUpdate::Ignored { want, got } = email_update(current.email.as_ref(), want_email) {
        ignored.push(IgnoredChange {
            attribute: "email",
            want: want.to_string(),
            got: got.to_string(),
        });
    }
    ignored
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use Lifecycle::*;
    use LifecycleEvent::*;

    #[test]
    fn lifecycle_table() {
        let cases = [
            (Active, Deactivate, Ok(Deactivated)),
            (Active, Reactivate, Ok(Active)),
            (Active, Deprovision, Ok(Deprovisioned)),
            (Active, Reprovision { active: true }, Err(())),
            (Deactivated, Deactivate, Ok(Deactivated)),
            (Deactivated, Reactivate, Ok(Active)),
            (Deactivated, Deprovision, Ok(Deprovisioned)),
            (Deactivated, Reprovision { active: true }, Ok(Active)),
            (Deprovisioned, Deactivate, Err(())),
            (Deprovisioned, Reactivate, Err(())),
            (Deprovisioned, Deprovision, Ok(Deprovisioned)),
            (Deprovisioned, Reprovision { active: true }, Ok(Active)),
            (
                Deprovisioned,
                Reprovision { active: false },
                Ok(Deactivated),
            ),
            (Active, SignOutEverywhere, Ok(Active)),
            (Deactivated, SignOutEverywhere, Ok(Deactivated)),
            (Deprovisioned, SignOutEverywhere, Ok(Deprovisioned)),
        ];
        for (from, event, want) in cases {
            let got = from.apply(event).map_err(|_| ());
            assert_eq!(got, want, "{from:?} + {event:?}");
        }
    }

    #[test]
    fn lifecycle_plan_table() {
        use LifecycleNotice as N;
        const INACTIVE: Option<SessionsEnd> = Some(SessionsEnd::UserInactive);
        const SIGNED_OUT: Option<SessionsEnd> = Some(SessionsEnd::SignedOut);
        // (from, event) => (to, sessions end, audit action, directory events), or refused.
        #[rustfmt::skip]
        let cases: [(_, _, Option<(_, _, _, &[N])>); 18] = [
            (Active, Deactivate, Some((Deactivated, INACTIVE, Some("user.deactivated"), &[N::Deactivated, N::SessionRevoked]))),
            (Active, Reactivate, Some((Active, None, None, &[]))),
            (Active, Deprovision, Some((Deprovisioned, INACTIVE, Some("user.deprovisioned"), &[N::Deprovisioned, N::SessionRevoked]))),
            (Active, Reprovision { active: true }, None),
            (Active, Reprovision { active: false }, None),
            (Active, SignOutEverywhere, Some((Active, SIGNED_OUT, Some("user.signed_out_everywhere"), &[N::SessionRevoked]))),
            (Deactivated, Deactivate, Some((Deactivated, None, None, &[]))),
            (Deactivated, Reactivate, Some((Active, None, Some("user.reactivated"), &[N::Reactivated]))),
            (Deactivated, Deprovision, Some((Deprovisioned, None, Some("user.deprovisioned"), &[N::Deprovisioned]))),
            (Deactivated, Reprovision { active: true }, Some((Active, None, Some("user.reprovisioned"), &[N::LifecycleUpdated, N::Reactivated]))),
            (Deactivated, Reprovision { active: false }, Some((Deactivated, None, Some("user.reprovisioned"), &[N::LifecycleUpdated]))),
            (Deactivated, SignOutEverywhere, Some((Deactivated, SIGNED_OUT, Some("user.signed_out_everywhere"), &[N::SessionRevoked]))),
            (Deprovisioned, Deactivate, None),
            (Deprovisioned, Reactivate, None),
            (Deprovisioned, Deprovision, Some((Deprovisioned, None, None, &[]))),
            (Deprovisioned, Reprovision { active: true }, Some((Active, None, Some("user.reprovisioned"), &[N::LifecycleUpdated, N::Reactivated]))),
            (Deprovisioned, Reprovision { active: false }, Some((Deactivated, None, Some("user.reprovisioned"), &[N::LifecycleUpdated]))),
            (Deprovisioned, SignOutEverywhere, Some((Deprovisioned, SIGNED_OUT, Some("user.signed_out_everywhere"), &[N::SessionRevoked]))),
        ];
        for (from, event, want) in cases {
            let got = from
                .plan(event)
                .ok()
                .map(|c| (c.to, c.ends_sessions, c.audit.map(|a| a.0), c.notices));
            assert_eq!(got, want, "{from:?} + {event:?}");
        }
    }

    #[test]
    fn plans_agree_with_the_state_machine() {
        let events = [
            Deactivate,
            Reactivate,
            Deprovision,
            Reprovision { active: true },
            Reprovision { active: false },
            SignOutEverywhere,
        ];
        for from in [Active, Deactivated, Deprovisioned] {
            for event in events {
                let Ok(change) = from.plan(event) else {
                    assert!(from.apply(event).is_err(), "{from:?} + {event:?}");
                    continue;
                };
                assert_eq!(Ok(change.to), from.apply(event), "{from:?} + {event:?}");
                assert_eq!(change.from, from);
                // `session.revoked` is announced exactly when the sessions end.
                assert_eq!(
                    change.notices.contains(&LifecycleNotice::SessionRevoked),
                    change.ends_sessions.is_some(),
                    "{from:?} + {event:?}"
                );
                // A repeat writes nothing; anything else is audited, and moves the version
                // unless it only signs the user out.
                assert_eq!(change.is_noop(), change.notices.is_empty());
                assert_eq!(
                    change.moves_version,
                    !change.is_noop() && event != SignOutEverywhere,
                    "{from:?} + {event:?}"
                );
            }
        }
    }

    #[test]
    fn set_active_is_deactivate_or_reactivate() {
        assert_eq!(LifecycleEvent::set_active(true), Reactivate);
        assert_eq!(LifecycleEvent::set_active(false), Deactivate);
    }

    #[test]
    fn only_leaving_active_revokes_sessions() {
        assert!(Active.revokes_sessions(Deactivated));
        assert!(Active.revokes_sessions(Deprovisioned));
        assert!(!Deactivated.revokes_sessions(Deprovisioned));
        assert!(!Deactivated.revokes_sessions(Active));
        assert!(!Active.revokes_sessions(Active));
    }

    #[test]
    fn stored_names_round_trip() {
        for lifecycle in [Active, Deactivated, Deprovisioned] {
            assert_eq!(Lifecycle::parse(lifecycle.as_str()), Ok(lifecycle));
        }
        for source in [Source::Invited, Source::Jit, Source::Scim] {
            assert_eq!(Source::parse(source.as_str()), Ok(source));
        }
        assert!(Lifecycle::parse("zombie").is_err());
    }

    fn user(user_name: &str, email: Option<&str>) -> User {
        crate::testing::user(
            user_name,
            email,
            Active,
            Source::Scim,
            Some(ConnectionId::new()),
        )
    }

    #[test]
    fn identifier_changes_are_ignored_but_case_is_not_a_change() {
        let current = user("alice@example.com", Some("alice@example.com"));
        let same_case = UserName::parse("Alice@Example.com").unwrap();
        assert_eq!(
            ignored_identifier_changes(&current, Some(&same_case), None),
            vec![]
        );

        let renamed = UserName::parse("alice.new@example.com").unwrap();
        let new_email = Email::parse("alice.new@example.com").unwrap();
        let ignored = ignored_identifier_changes(&current, Some(&renamed), Some(&new_email));
        assert_eq!(
            ignored,
            vec![
                IgnoredChange {
                    attribute: "userName",
                    want: "alice.new@example.com".into(),
                    got: "alice@example.com".into(),
                },
                IgnoredChange {
                    attribute: "email",
                    want: "alice.new@example.com".into(),
                    got: "alice@example.com".into(),
                },
            ]
        );
    }

    #[test]
    fn email_update_table() {
        let ada = Email::parse("ada@example.com").unwrap();
        let ada_upper = Email::parse("ADA@Example.com").unwrap();
        let other = Email::parse("ada.new@example.com").unwrap();
        let cases = [
            (None, None, EmailUpdate::Keep),
            (None, Some(&ada), EmailUpdate::Set(&ada)),
            (Some(&ada), None, EmailUpdate::Keep),
            (Some(&ada), Some(&ada), EmailUpdate::Keep),
            (Some(&ada), Some(&ada_upper), EmailUpdate::Keep),
            (
                Some(&ada),
                Some(&other),
                EmailUpdate::Ignored {
                    want: &other,
                    got: &ada,
                },
            ),
        ];
        for (current, want, expected) in cases {
            assert_eq!(
                email_update(current, want),
                expected,
                "{current:?} <- {want:?}"
            );
        }
    }

    #[test]
    fn a_missing_email_may_be_set_once() {
        let current = user("bob", None);
        let email = Email::parse("bob@example.com").unwrap();
        assert_eq!(
            ignored_identifier_changes(&current, None, Some(&email)),
            vec![]
        );
    }
}
