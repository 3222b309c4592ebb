//! "Sign out everywhere" for one user, without disabling them: an admin's answer to a lost laptop
//! or a session they no longer trust.
//!
//! Two kinds of access end, in one transaction, so no reader ever sees one without the other:
//! every Roster session (the user's `session_epoch` moves, and a session token carries the epoch
//! it was issued under, so every one the user holds stops verifying), and every live grant of
//! Roster's OpenID Provider (refresh tokens stop, userinfo refuses their access tokens). The same
//! commit writes the audit event, the `session.revoked` directory event (products listening to
//! webhooks learn it), and each grant's own revocation, through the grant code the lifecycle
//! changes use, so whatever a grant revocation tells the apps is told here too.

use diesel::prelude::*;
use roster_domain::{Action, Actor, NewAuditEvent, Timestamp, User, UserId, WorkspaceId};

use super::oauth_grants::{revoke_user_grants, RevokeReason, SignedInApp};
use super::user::find_user;
use super::{events, record_audit};
use crate::schema::{oauth_apps, users};
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
            find_user(conn, workspace_id, user_id)?;
            diesel::update(
                users::table
                    .filter(users::workspace_id.eq(workspace_id.to_string()))
                    .filter(users::id.eq(user_id.to_string())),
            )
            .set(users::session_epoch.eq(users::session_epoch + 1))
            .execute(conn)?;
            let user = find_user(conn, workspace_id, user_id)?;
            let revoked = revoke_user_grants(conn, actor, user_id, RevokeReason::Admin, now)?;
            let names: Vec<(String, String)> = oauth_apps::table
                .filter(
                    oauth_apps::client_id
                        .eq_any(revoked.iter().map(|grant| grant.client_id.as_str())),
                )
                .select((oauth_apps::client_id, oauth_apps::name))
                .load(conn)?;
            let mut apps: Vec<SignedInApp> = revoked
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
            // Newest first, as `Store::user_oauth_apps` lists them.
            apps.sort_by(|a, b| {
                (b.created_at.as_micros(), &b.grant_id)
                    .cmp(&(a.created_at.as_micros(), &a.grant_id))
            });
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("user.signed_out_everywhere"),
                    target_kind: "user",
                    target_id: user_id.to_string(),
                    detail: serde_json::json!({
                        "sessions_revoked": true,
                        "grants_revoked": apps.iter().map(|app| &app.grant_id).collect::<Vec<_>>(),
                        "client_ids": apps.iter().map(|app| &app.client_id).collect::<Vec<_>>(),
                    })
                    .to_string(),
                },
            )?;
            events::user_event(conn, actor, "session.revoked", &user, None)?;
            Ok(SignedOutEverywhere { user, apps })
        })
    }
}
