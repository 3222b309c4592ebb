//! Permits: the one door from an authenticated caller to its workspace, and it goes through the
//! policy (`roster_policy::admin::allowed`).
//!
//! Why a type and not a convention: a handler that forgets to ask the policy must not compile.
//! A [`Principal`] keeps its workspace id and its audit actor private; a [`Permit`] is the only
//! thing that hands them out, and only the functions here construct one, each after the policy
//! said yes. Every store operation is scoped by a workspace id, so a route that skips the policy
//! cannot reach the store at all; and every store write records its audit actor, which only a
//! `Permit<Write>` gives, so a route that asked only to read cannot write. A write permit is
//! obtained from a read permit (reading the target — a user, a group — comes first and needs a
//! permit too), naming the write's action and target.
//!
//! What the types cannot check is that a handler names the *right* action; the matrix of
//! docs/policy.md and the wire test that walks every write route of the route table with a
//! non-admin session cover that. One store write takes no actor (resending a webhook event,
//! which changes no directory data); its route asks for a write permit like the others.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use roster_policy::admin::{self as policy, Action, Decision, Target};
use roster_policy::setup::{self as setup_policy, Area as SetupArea};
use roster_store::domain::setup_link::SetupIntent;
use roster_store::domain::{Actor, Connection, User, UserId, WorkspaceId};
use roster_store::Store;
use serde_json::json;

use super::Principal;
use crate::error::{AdminCode, AdminError};

/// Access a [`Permit`] grants: reading the workspace's admin data.
#[derive(Debug)]
pub(crate) enum Read {}

/// Access a [`Permit`] grants: the one write the policy allowed.
#[derive(Debug)]
pub(crate) enum Write {}

/// Proof that the policy allowed this caller `Access` to its workspace. No public constructor:
/// [`require_read`], [`require`] and [`Permit::require`] are the only ways to get one.
#[derive(Debug)]
pub(crate) struct Permit<Access> {
    workspace_id: WorkspaceId,
    audit_actor: Actor,
    policy_actor: policy::Actor,
    /// The user whose session calls (`None` for an API key): the policy's "yourself".
    acting_user: Option<UserId>,
    settings: policy::Settings,
    /// A setup session's intent (`None` for everyone else).
    setup: Option<SetupIntent>,
    access: PhantomData<Access>,
}

fn decide(
    action: Action,
    actor: policy::Actor,
    target: Target,
    settings: policy::Settings,
) -> Result<(), AdminError> {
    match policy::allowed(action, actor, target, settings) {
        Decision::Allowed => Ok(()),
        Decision::Refused(refusal) => Err(AdminError::new(AdminCode::Forbidden, refusal.reason)
            .with_detail(json!({ "refusal": refusal.code }))),
    }
}

/// Asks the policy whether the caller may read its workspace's admin data (a non-admin may
/// not: `not_admin`).
pub(crate) fn require_read(
    store: &Store,
    principal: &Principal,
) -> Result<Permit<Read>, AdminError> {
    let workspace = store.workspace(principal.workspace_id)?;
    let settings = policy::Settings {
        scim_enabled: store.workspace_scim_enabled(principal.workspace_id)?,
        sso_enforced: workspace.sso_enforced,
    };
    let policy_actor = principal.policy_actor();
    decide(
        Action::ViewAdminData,
        policy_actor,
        Target::Workspace,
        settings,
    )?;
    Ok(Permit {
        workspace_id: principal.workspace_id,
        audit_actor: principal.audit_actor(),
        policy_actor,
        acting_user: principal.acting_user(),
        settings,
        setup: principal.setup_link().map(|link| link.intent),
        access: PhantomData,
    })
}

/// Asks the policy for a write on the workspace itself (no user or group to read first).
pub(crate) fn require(
    store: &Store,
    principal: &Principal,
    action: Action,
) -> Result<Permit<Write>, AdminError> {
    require_read(store, principal)?.require(action, Target::Workspace)
}

impl<Access> Permit<Access> {
    /// The caller's workspace, which scopes every store operation.
    pub(crate) fn workspace_id(&self) -> WorkspaceId {
        self.workspace_id
    }

    /// For a route whose body decides its setup area (`POST /connections`): a setup session
    /// must reach `area` too. Everyone else passes.
    pub(crate) fn require_setup_area(&self, area: SetupArea) -> Result<(), AdminError> {
        match self.setup {
            Some(intent) if !setup_policy::reaches(intent, area) => {
                Err(super::setup_scope_refusal())
            }
            _ => Ok(()),
        }
    }
}

impl Permit<Read> {
    /// Asks the policy for `action` on `target` under the workspace's settings.
    pub(crate) fn require(
        &self,
        action: Action,
        target: Target,
    ) -> Result<Permit<Write>, AdminError> {
        self.require_under(action, target, self.settings)
    }

    /// Asks the policy for `action` on `target` of one connection: "SCIM on" is that
    /// connection's, not the workspace's (a token is created for a connection with SCIM on).
    pub(crate) fn require_for_connection(
        &self,
        action: Action,
        target: Target,
        connection: &Connection,
    ) -> Result<Permit<Write>, AdminError> {
        let settings = policy::Settings {
            scim_enabled: connection.accepts_scim(),
            ..self.settings
        };
        self.require_under(action, target, settings)
    }

    /// A user as the policy sees it: SCIM-managed (while SCIM is on), the caller's own account,
    /// or the workspace's last active admin (`active_admins` from `Store::active_admins`).
    pub(crate) fn user_target(&self, user: &User, active_admins: &BTreeSet<UserId>) -> Target {
        Target::user(user, self.acting_user, active_admins, self.settings)
    }

    /// What the policy would answer for `action` on `target`, for the console to show which
    /// buttons apply; grants nothing.
    pub(crate) fn describe(&self, action: Action, target: Target) -> Decision {
        policy::allowed(action, self.policy_actor, target, self.settings)
    }

    fn require_under(
        &self,
        action: Action,
        target: Target,
        settings: policy::Settings,
    ) -> Result<Permit<Write>, AdminError> {
        decide(action, self.policy_actor, target, settings)?;
        Ok(Permit {
            workspace_id: self.workspace_id,
            audit_actor: self.audit_actor.clone(),
            policy_actor: self.policy_actor,
            acting_user: self.acting_user,
            settings,
            setup: self.setup,
            access: PhantomData,
        })
    }
}

impl Permit<Write> {
    /// The actor every store write records in the audit trail.
    pub(crate) fn actor(&self) -> &Actor {
        &self.audit_actor
    }
}
