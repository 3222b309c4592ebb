//! "Sign out everywhere" for one user, without disabling them: an admin's answer to a lost laptop
//! or a session they no longer trust.
//!
//! Two kinds of access end, in one transaction, so no reader ever sees one without the other:
//! every Roster session (the user's `session_epoch` moves, and a session token carries the epoch
//! it was issued under, so every one the user holds stops verifying), and every live grant of
//! Roster's OpenID Provider (refresh tokens stop, userinfo refuses their access tokens). The same
//! commit writes the audit event, the `session.revoked` directory event (products listening to
//! webhooks learn it), and each grant's own revocation. It is the lifecycle event
//! `SignOutEverywhere` (`Lifecycle::plan`), written by the writer every lifecycle change uses
//! (`write_lifecycle`), so whatever ending a user's sessions tells the apps is told here too.

use diesel::prelude::*;
use roster_domain::{Actor, LifecycleEvent, Timestamp, User, UserId, WorkspaceId};

use super::oauth_grants::SignedInApp;
use super::user::{find_user, write_lifecycle, LifecycleWritten, UserWrite};
use crate::schema::oauth_apps;
use crate::{Store, StoreResult};

/// What "sign out everywhere" ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedOutEverywhere {
    /// The user afterwards (its `session_epoch` moved).
    pub user: User,
    /// The apps signed out: every grant this call revoked, newest first, with its app's name.
    pub apps: Vec<SignedInApp>,
}

impl Store {
    /// Ends every Roster session of a user (bumps `session_epoch`) and revokes every live grant
    /// of the OpenID Provider (reason `admin`), in one transaction with the audit event
    /// `user.signed_out_everywhere` and the directory event `session.revoked`. `NotFound` for a
    /// user outside `workspace_id`, with nothing written. A user who is not active has no session
    /// nor grant left; the call still succeeds and ends nothing more.
    pub fn sign_out_everywhere(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        user_id: UserId,
        now: Timestamp,
    ) -> StoreResult<SignedOutEverywhere> {
        self.write(|conn| {
            let user = find_user(conn, workspace_id, user_id)?;
            let change = user.lifecycle.plan(LifecycleEvent::SignOutEverywhere)?;
            let write = UserWrite::lifecycle_only(serde_json::json!({}), now);
            let LifecycleWritten { user, revoked } =
                write_lifecycle(conn, actor, &user, &change, write)?;
            let names: Vec<(String, String)> = oauth_apps::table
                .filter(
                    oauth_apps::client_id
                        .eq_any(revoked.iter().map(|grant| grant.client_id.as_str())),
                )
                .select((oauth_apps::client_id, oauth_apps::name))
                .load(conn)?;
            // Newest first, as `Store::user_oauth_apps` lists them (and the writer revoked them).
            let apps: Vec<SignedInApp> = revoked
                .into_iter()
                .map(|grant| SignedInApp {
                    app_name: names
                        .iter()
                        .find(|(client_id, _)| *client_id == grant.client_id)
                        .map(|(_, name)| name.clone())
                        .unwrap_or_default(),
                    grant_id: grant.id,
                    client_id: grant.client_id,
                    scope: grant.scope,
                    offline: grant.offline,
                    sid: grant.sid,
                    created_at: Timestamp::from_micros(grant.created_at),
                })
                .collect();
            Ok(SignedOutEverywhere { user, apps })
        })
    }
}
