//! The login log: one row per SSO attempt, successful or not, with a stable reason code and the
//! want/got detail an admin needs to fix a connection ("audience: want X, got Y").
//!
//! A refusal is written outside the login's own transaction on purpose: a refused login writes
//! nothing else, but its event must survive. A success is written with the login's changes
//! (`sign_in`).

use diesel::prelude::*;
use roster_domain::{ConnectionId, LoginFailure, Timestamp, UserId, WorkspaceId};

use crate::schema::login_events;
use crate::{DbConnection, Store, StoreResult};

/// Per-process counts of recorded login attempts (a bounded key space: protocols × outcomes ×
/// failure codes).
#[derive(Debug, Default)]
pub struct LoginOutcomes(
    std::sync::Mutex<std::collections::BTreeMap<(String, String, String), u64>>,
);

impl LoginOutcomes {
    pub(crate) fn count(&self, row: &LoginEvent) {
        if let Ok(mut counts) = self.0.lock() {
            *counts
                .entry((
                    row.protocol.clone(),
                    row.outcome.clone(),
                    row.reason.clone().unwrap_or_default(),
                ))
                .or_default() += 1;
        }
    }

    fn snapshot(&self) -> Vec<((String, String, String), u64)> {
        self.0
            .lock()
            .map(|counts| counts.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }
}

/// A login attempt to record.
#[derive(Debug, Clone)]
pub struct NewLoginEvent {
    pub workspace_id: WorkspaceId,
    pub connection_id: Option<ConnectionId>,
    pub user_id: Option<UserId>,
    /// `saml` or `oidc`.
    pub protocol: &'static str,
    /// `None` for a successful login.
    pub failure: Option<LoginFailure>,
    /// Fine-grained reason, want/got, redacted claims.
    pub detail: serde_json::Value,
    pub subject: Option<String>,
    pub email: Option<String>,
}

/// A recorded login attempt.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = login_events, treat_none_as_default_value = false)]
pub struct LoginEvent {
    pub id: String,
    pub workspace_id: String,
    pub connection_id: Option<String>,
    pub user_id: Option<String>,
    pub protocol: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// A [`LoginFailure`] code for failures.
    pub reason: Option<String>,
    pub detail: String,
    pub subject: Option<String>,
    pub email: Option<String>,
    pub created_at: i64,
}

/// Writes a login attempt on `conn` (the caller counts it in `LoginOutcomes` once committed).
pub(crate) fn insert_login_event(
    conn: &mut DbConnection,
    event: NewLoginEvent,
) -> StoreResult<LoginEvent> {
    let row = LoginEvent {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: event.workspace_id.to_string(),
        connection_id: event.connection_id.map(|id| id.to_string()),
        user_id: event.user_id.map(|id| id.to_string()),
        protocol: event.protocol.to_owned(),
        outcome: if event.failure.is_some() {
            "failure"
        } else {
            "success"
        }
        .to_owned(),
        reason: event.failure.map(|f| f.code().to_owned()),
        detail: event.detail.to_string(),
        subject: event.subject,
        email: event.email,
        created_at: Timestamp::now().as_micros(),
    };
    diesel::insert_into(login_events::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

impl Store {
    /// Records a login attempt; returns its id (shown on the error page for support).
    pub fn record_login_event(&self, event: NewLoginEvent) -> StoreResult<String> {
        let row = self.write(|conn| insert_login_event(conn, event))?;
        self.login_outcomes.count(&row);
        Ok(row.id)
    }

    /// How many login attempts this process recorded, by (protocol, outcome, reason); the
    /// reason is empty for successes. Counters for `/metrics`: per process, from its start.
    pub fn login_outcome_counts(&self) -> Vec<((String, String, String), u64)> {
        self.login_outcomes.snapshot()
    }

    /// Login attempts of a workspace, newest first, optionally of one outcome.
    pub fn login_events(
        &self,
        workspace_id: WorkspaceId,
        outcome: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<LoginEvent>> {
        self.read(|conn| {
            let mut query = login_events::table
                .filter(login_events::workspace_id.eq(workspace_id.to_string()))
                .into_boxed();
            if let Some(outcome) = outcome {
                query = query.filter(login_events::outcome.eq(outcome.to_owned()));
            }
            Ok(query
                .order(login_events::id.desc())
                .limit(limit)
                .select(LoginEvent::as_select())
                .load(conn)?)
        })
    }

    pub fn login_event(&self, workspace_id: WorkspaceId, id: &str) -> StoreResult<LoginEvent> {
        self.read(|conn| {
            Ok(login_events::table
                .filter(login_events::workspace_id.eq(workspace_id.to_string()))
                .filter(login_events::id.eq(id))
                .select(LoginEvent::as_select())
                .get_result(conn)?)
        })
    }
}
