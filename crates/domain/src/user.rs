//! The one user model shared by JIT-only and SCIM-enabled workspaces, and its rules.
//!
//! A user row exists once per person per workspace, whoever created it (an admin invite, a first
//! SSO login, or an IdP through SCIM). `source` says who created it; `managing_connection` says
//! which SCIM connection owns its profile now (a JIT user adopted by SCIM changes owner, not id).
//! The lifecycle is a small state machine: leaving `Active` always revokes sessions, which the
//! store does by bumping `session_epoch` in the same transaction.

use crate::{
    ConnectionId, DomainError, Email, IdentityId, Timestamp, UserId, UserName, WorkspaceId,
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
}

impl LifecycleEvent {
    fn as_str(&self) -> &'static str {
        match self {
            LifecycleEvent::Deactivate => "deactivated",
            LifecycleEvent::Reactivate => "reactivated",
            LifecycleEvent::Deprovision => "deprovisioned",
            LifecycleEvent::Reprovision { .. } => "reprovisioned",
        }
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
        }
    }

    /// Whether moving from `self` to `next` must end the user's sessions at once.
    pub fn revokes_sessions(self, next: Lifecycle) -> bool {
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
    if let Some(want) = want_email {
        let differs = current
            .email
            .as_ref()
            .is_none_or(|got| got.key() != want.key());
        // A user provisioned without an email may receive one once; after that it is fixed.
        if differs && current.email.is_some() {
            ignored.push(IgnoredChange {
                attribute: "email",
                want: want.to_string(),
                got: current
                    .email
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            });
        }
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
        ];
        for (from, event, want) in cases {
            let got = from.apply(event).map_err(|_| ());
            assert_eq!(got, want, "{from:?} + {event:?}");
        }
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
        User {
            id: UserId::new(),
            workspace_id: WorkspaceId::new(),
            user_name: UserName::parse(user_name).unwrap(),
            email: email.map(|e| Email::parse(e).unwrap()),
            given_name: None,
            family_name: None,
            display_name: None,
            external_id: None,
            lifecycle: Active,
            source: Source::Scim,
            managing_connection_id: Some(ConnectionId::new()),
            scim_attributes: "{}".into(),
            version: 1,
            session_epoch: 0,
            created_at: Timestamp::from_micros(0),
            updated_at: Timestamp::from_micros(0),
        }
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
    fn a_missing_email_may_be_set_once() {
        let current = user("bob", None);
        let email = Email::parse("bob@example.com").unwrap();
        assert_eq!(
            ignored_identifier_changes(&current, None, Some(&email)),
            vec![]
        );
    }
}
