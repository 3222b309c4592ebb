//! Back-channel logouts waiting for delivery (OpenID Connect Back-Channel Logout 1.0): the outbox
//! the delivery worker sends logout tokens from.
//!
//! A row is written by [`super::oauth_grants::revoke_grant`], in the transaction that revokes a
//! live grant for a reason the app must hear about ([`RevokeReason::tells_app`]), and by the end
//! of a Roster session for the `offline_access` grants it keeps — so the logout is queued
//! exactly when the change commits, and a crash after the commit loses none. One row per app
//! and `sid` (the session id that app saw): revoking several grants of one app's session, or a
//! session whose logout is still pending, queues nothing more. Apps without a
//! `backchannel_logout_uri` get no row.
//!
//! No token is stored: the worker mints one for every attempt (a fresh `jti` and a live `exp`),
//! from what the row says (app, user, `sid`) and the app's current registration (its URI and
//! ID-token algorithm). A claim is a lease, as for webhook endpoints (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), so any number of workers and replicas share the outbox; an expired lease is
//! claimed again, so a worker that died mid-delivery costs a duplicate (at least once), never a
//! loss.

use diesel::prelude::*;
use roster_domain::{Action, Actor, NewAuditEvent, Timestamp, UserId, WorkspaceId};

use super::oauth_grants::{OAuthGrant, RevokeReason};
use super::webhooks::DeliveryOutcome;
use super::{corrupt, record_audit, SigningAlg};
use crate::schema::{backchannel_logouts, oauth_apps};
use crate::{DbConnection, Store, StoreResult};

/// A queued (or sent) back-channel logout, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = backchannel_logouts, treat_none_as_default_value = false)]
pub struct BackchannelLogout {
    pub id: String,
    /// The app to tell (the token's `aud`).
    pub client_id: String,
    pub workspace_id: String,
    /// The Roster user id (the token's `sub`).
    pub user_id: String,
    /// The session id the app saw in its ID token (the token's `sid`).
    pub sid: String,
    /// Why the grant was revoked ([`RevokeReason::as_str`]).
    pub reason: String,
    pub created_at: i64,
    /// Attempts made so far.
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub lease_until: i64,
    /// The status of the last attempt that got an answer.
    pub last_status: Option<i32>,
    /// Why the last attempt failed (never the URI, which may carry secrets).
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    /// When the retry policy gave up on it.
    pub abandoned_at: Option<i64>,
}

/// A logout the worker claimed: send a token for `logout` to `uri`, signed with `id_token_alg`.
#[derive(Debug, Clone)]
pub struct BackchannelClaim {
    pub logout: BackchannelLogout,
    /// The app's `backchannel_logout_uri` now.
    pub uri: String,
    /// The app's ID-token algorithm now (logout tokens are signed like its ID tokens).
    pub id_token_alg: SigningAlg,
}

/// The rows still to send.
macro_rules! pending {
    () => {
        backchannel_logouts::delivered_at
            .is_null()
            .and(backchannel_logouts::abandoned_at.is_null())
    };
}

/// Queues the back-channel logout for a grant just revoked (or whose session just ended), inside
/// that transaction: nothing when the reason is not one the app hears about, the app has no
/// back-channel URI, or a logout of the same app and `sid` is still waiting (it will carry a
/// fresh token anyway). Returns whether a row was written.
pub(crate) fn queue_logout(
    conn: &mut DbConnection,
    grant: &OAuthGrant,
    reason: RevokeReason,
    now: Timestamp,
) -> StoreResult<bool> {
    if !reason.tells_app() {
        return Ok(false);
    }
    let uri: Option<Option<String>> = oauth_apps::table
        .find(&grant.client_id)
        .select(oauth_apps::backchannel_logout_uri)
        .get_result(conn)
        .optional()?;
    if !matches!(uri, Some(Some(_))) {
        return Ok(false);
    }
    let waiting: i64 = backchannel_logouts::table
        .filter(backchannel_logouts::client_id.eq(&grant.client_id))
        .filter(backchannel_logouts::sid.eq(&grant.sid))
        .filter(pending!())
        .count()
        .get_result(conn)?;
    if waiting > 0 {
        return Ok(false);
    }
    let row = BackchannelLogout {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        client_id: grant.client_id.clone(),
        workspace_id: grant.workspace_id.clone(),
        user_id: grant.user_id.clone(),
        sid: grant.sid.clone(),
        reason: reason.as_str().to_owned(),
        created_at: now.as_micros(),
        attempts: 0,
        next_attempt_at: now.as_micros(),
        lease_until: 0,
        last_status: None,
        last_error: None,
        delivered_at: None,
        abandoned_at: None,
    };
    diesel::insert_into(backchannel_logouts::table)
        .values(&row)
        .execute(conn)?;
    crate::outbox_wake::mark_queued(crate::outbox_wake::Queued::Logout);
    Ok(true)
}

/// Queues the logout of a session's end for a grant that outlives it (`offline_access`), unless
/// that end was announced to the app already: a session ends once, and ending it again (a
/// `POST /logout` after an RP-initiated logout) must not tell the app twice. (A revoked grant
/// needs no such check: only its first revocation queues.)
pub(crate) fn queue_session_end(
    conn: &mut DbConnection,
    grant: &OAuthGrant,
    now: Timestamp,
) -> StoreResult<bool> {
    let announced: i64 = backchannel_logouts::table
        .filter(backchannel_logouts::client_id.eq(&grant.client_id))
        .filter(backchannel_logouts::sid.eq(&grant.sid))
        .filter(backchannel_logouts::reason.eq(RevokeReason::Logout.as_str()))
        .count()
        .get_result(conn)?;
    if announced > 0 {
        return Ok(false);
    }
    queue_logout(conn, grant, RevokeReason::Logout, now)
}

/// The ids of up to `limit` due, unleased logouts, oldest due first (locked, and skipped by
/// other replicas, on PostgreSQL).
fn due_logouts(conn: &mut DbConnection, now: i64, limit: usize) -> StoreResult<Vec<String>> {
    let due = backchannel_logouts::table
        .filter(pending!())
        .filter(backchannel_logouts::next_attempt_at.le(now))
        .filter(backchannel_logouts::lease_until.le(now))
        .order(backchannel_logouts::next_attempt_at.asc())
        .select(backchannel_logouts::id)
        .limit(i64::try_from(limit).unwrap_or(i64::MAX));
    Ok(match conn {
        DbConnection::Postgres(pg) => due.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(sqlite) => due.load(sqlite)?,
    })
}

/// Leases one due logout inside the claiming transaction: the claim, or `None` when another
/// worker took it first or its app no longer has a back-channel URI (then it is abandoned, and
/// audited).
fn lease_logout(
    conn: &mut DbConnection,
    id: &str,
    now: Timestamp,
    lease_secs: i64,
) -> StoreResult<Option<BackchannelClaim>> {
    let claimed = diesel::update(
        backchannel_logouts::table
            .find(id)
            .filter(backchannel_logouts::lease_until.le(now.as_micros())),
    )
    .set(backchannel_logouts::lease_until.eq(now.plus_seconds(lease_secs).as_micros()))
    .execute(conn)?;
    if claimed == 0 {
        return Ok(None);
    }
    let (logout, uri, alg): (BackchannelLogout, Option<String>, String) =
        backchannel_logouts::table
            .inner_join(oauth_apps::table)
            .filter(backchannel_logouts::id.eq(id))
            .select((
                BackchannelLogout::as_select(),
                oauth_apps::backchannel_logout_uri,
                oauth_apps::id_token_alg,
            ))
            .get_result(conn)?;
    let Some(uri) = uri else {
        const NO_URI: &str = "the app no longer has a back-channel logout URI";
        diesel::update(backchannel_logouts::table.find(id))
            .set((
                backchannel_logouts::abandoned_at.eq(Some(now.as_micros())),
                backchannel_logouts::lease_until.eq(0),
                backchannel_logouts::last_error.eq(Some(NO_URI)),
            ))
            .execute(conn)?;
        logout_audit(
            conn,
            "backchannel_logout.abandoned",
            &logout,
            serde_json::json!({
                "client_id": logout.client_id,
                "user_id": logout.user_id,
                "reason": NO_URI,
            }),
        )?;
        return Ok(None);
    };
    let id_token_alg = SigningAlg::parse(&alg).map_err(corrupt("oauth_apps"))?;
    Ok(Some(BackchannelClaim {
        logout,
        uri,
        id_token_alg,
    }))
}

fn logout_audit(
    conn: &mut DbConnection,
    action: &'static str,
    logout: &BackchannelLogout,
    detail: serde_json::Value,
) -> StoreResult<()> {
    let workspace_id: WorkspaceId = logout
        .workspace_id
        .parse()
        .map_err(corrupt("backchannel_logouts"))?;
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: Some(workspace_id),
            actor: Actor::System,
            action: Action(action),
            target_kind: "backchannel_logout",
            target_id: logout.id.clone(),
            detail: detail.to_string(),
        },
    )
}

impl Store {
    /// Claims up to `limit` back-channel logouts due, oldest first, each for `lease_secs`, in
    /// one transaction; none when nothing is due. A logout whose app no longer has a
    /// back-channel URI is abandoned (and audited) instead.
    pub fn claim_backchannel_logouts(
        &self,
        lease_secs: i64,
        limit: usize,
    ) -> StoreResult<Vec<BackchannelClaim>> {
        let now = Timestamp::now();
        // A read first, so an idle worker never takes the write lock.
        let anything_due: i64 = self.read(|conn| {
            Ok(backchannel_logouts::table
                .filter(pending!())
                .filter(backchannel_logouts::next_attempt_at.le(now.as_micros()))
                .filter(backchannel_logouts::lease_until.le(now.as_micros()))
                .count()
                .get_result(conn)?)
        })?;
        if anything_due == 0 || limit == 0 {
            return Ok(Vec::new());
        }
        self.write(|conn| {
            let mut claims = Vec::new();
            for id in due_logouts(conn, now.as_micros(), limit)? {
                claims.extend(lease_logout(conn, &id, now, lease_secs)?);
            }
            Ok(claims)
        })
    }

    /// Records an attempt: a success marks the logout delivered; a failure schedules the next
    /// attempt, or abandons the logout (audited) when the outcome gives up.
    pub fn finish_backchannel_logout(
        &self,
        claim: &BackchannelClaim,
        outcome: &DeliveryOutcome,
    ) -> StoreResult<()> {
        let now = Timestamp::now().as_micros();
        let logout = &claim.logout;
        self.write(|conn| {
            let row = backchannel_logouts::table
                .find(&logout.id)
                .filter(pending!());
            let attempts = backchannel_logouts::attempts.eq(backchannel_logouts::attempts + 1);
            let last_status =
                backchannel_logouts::last_status.eq(outcome.status_code.map(i32::from));
            let last_error = backchannel_logouts::last_error.eq(&outcome.error);
            let released = backchannel_logouts::lease_until.eq(0);
            if outcome.succeeded() {
                diesel::update(row)
                    .set((
                        attempts,
                        last_status,
                        last_error,
                        released,
                        backchannel_logouts::delivered_at.eq(Some(now)),
                    ))
                    .execute(conn)?;
                return Ok(());
            }
            let retry_at = outcome.retry_at.map_or(now, |at| at.as_micros());
            let abandoned_at = outcome.give_up.then_some(now);
            let changed = diesel::update(row)
                .set((
                    attempts,
                    last_status,
                    last_error,
                    released,
                    backchannel_logouts::next_attempt_at.eq(retry_at),
                    backchannel_logouts::abandoned_at.eq(abandoned_at),
                ))
                .execute(conn)?;
            if outcome.give_up && changed == 1 {
                logout_audit(
                    conn,
                    "backchannel_logout.abandoned",
                    logout,
                    serde_json::json!({
                        "client_id": logout.client_id,
                        "user_id": logout.user_id,
                        "attempts": logout.attempts + 1,
                        "last_status": outcome.status_code,
                        "last_error": outcome.error,
                    }),
                )?;
            }
            Ok(())
        })
    }

    /// The back-channel logouts queued for a user, newest first, with their delivery state.
    pub fn user_backchannel_logouts(
        &self,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> StoreResult<Vec<BackchannelLogout>> {
        self.read(|conn| {
            Ok(backchannel_logouts::table
                .filter(backchannel_logouts::workspace_id.eq(workspace_id.to_string()))
                .filter(backchannel_logouts::user_id.eq(user_id.to_string()))
                .order((
                    backchannel_logouts::created_at.desc(),
                    backchannel_logouts::id.desc(),
                ))
                .select(BackchannelLogout::as_select())
                .load(conn)?)
        })
    }

    /// Deletes delivered and abandoned logouts older than `before`; returns how many.
    pub fn prune_backchannel_logouts(&self, before: Timestamp) -> StoreResult<usize> {
        self.write(|conn| {
            Ok(diesel::delete(
                backchannel_logouts::table
                    .filter(backchannel_logouts::created_at.lt(before.as_micros()))
                    .filter(
                        backchannel_logouts::delivered_at
                            .is_not_null()
                            .or(backchannel_logouts::abandoned_at.is_not_null()),
                    ),
            )
            .execute(conn)?)
        })
    }
}
