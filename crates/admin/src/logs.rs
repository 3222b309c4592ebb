//! What happened, for an admin to read: the SCIM provisioning log (each request an IdP sent,
//! with its status and warnings), the SSO login log (each attempt with its outcome and reason),
//! and the audit trail (JSON, or CSV to hand to an auditor).

use actix_web::{web, HttpResponse};
use roster_store::domain::AuditEvent;
use roster_store::domain::{ConnectionId, Timestamp};
use roster_store::{LoginEvent, ProvisioningEntry, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::permit::require_read;
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::{parse_id, PAGE};

/// Query of the provisioning log.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    connection: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// One SCIM request an IdP sent.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningLogEntry {
    /// Position in the log; `before` pages by it.
    pub seq: i64,
    pub connection_id: String,
    pub request_id: String,
    pub at: String,
    pub method: String,
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    pub status: i32,
    pub duration_us: i64,
    pub resource_id: Option<String>,
    pub error: Option<String>,
    /// What Roster accepted but did not apply (e.g. an ignored identifier change, with want/got).
    pub warnings: Option<Vec<Value>>,
}

impl From<ProvisioningEntry> for ProvisioningLogEntry {
    fn from(e: ProvisioningEntry) -> Self {
        ProvisioningLogEntry {
            seq: e.seq,
            at: Timestamp::from_micros(e.occurred_at).to_rfc3339(),
            warnings: e
                .warnings
                .as_deref()
                .and_then(|w| serde_json::from_str(w).ok()),
            connection_id: e.connection_id,
            request_id: e.request_id,
            method: e.method,
            path: e.path,
            query: e.query,
            status: e.status,
            duration_us: e.duration_us,
            resource_id: e.resource_id,
            error: e.error,
        }
    }
}

/// The answer of `GET /provisioning-log`, newest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ProvisioningLog {
    pub entries: Vec<ProvisioningLogEntry>,
}

/// `GET /provisioning-log?connection=&before=&limit=`: SCIM requests, newest first.
pub async fn provisioning_log(
    principal: Principal,
    store: web::Data<Store>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let connection: Option<ConnectionId> = query
        .connection
        .as_deref()
        .map(|c| parse_id(c, "connection"))
        .transpose()?;
    let limit = query.limit.unwrap_or(PAGE).clamp(1, 1000);
    let entries = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.provisioning_log(
            permit.workspace_id(),
            connection,
            query.before,
            limit,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ProvisioningLog {
        entries: entries
            .into_iter()
            .map(ProvisioningLogEntry::from)
            .collect(),
    }))
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// One audited change.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Commit order; `after` and `before` page by it.
    pub seq: i64,
    pub at: String,
    /// `user`, `api_key`, `scim`, `cli`, `system`, ….
    pub actor_kind: String,
    pub actor_id: Option<String>,
    /// What was done (`user.disabled`, `role.created`, …: docs/admin-api.md).
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    /// The action's particulars.
    pub detail: Value,
}

impl From<AuditEvent> for AuditEntry {
    fn from(e: AuditEvent) -> Self {
        AuditEntry {
            seq: e.seq,
            at: e.occurred_at.to_rfc3339(),
            detail: serde_json::from_str(&e.detail).unwrap_or(Value::Null),
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            action: e.action,
            target_kind: e.target_kind,
            target_id: e.target_id,
        }
    }
}

/// The answer of `GET /audit` as JSON.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AuditTrail {
    pub events: Vec<AuditEntry>,
}

/// Query of the audit trail.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    after: Option<i64>,
    before: Option<i64>,
    order: Option<String>,
    limit: Option<i64>,
    format: Option<String>,
}

/// `GET /audit?after=&limit=&format=json|csv`: the audit trail in commit order; with
/// `order=desc` (and `before=SEQ` to page) newest first, as the console's view shows it.
pub async fn audit(
    principal: Principal,
    store: web::Data<Store>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(1000).clamp(1, 10_000);
    let format = query.format.unwrap_or_else(|| "json".to_owned());
    if !matches!(format.as_str(), "json" | "csv") {
        return Err(AdminError::validation("format must be json or csv"));
    }
    let newest_first = match query.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(AdminError::validation("order must be asc or desc")),
    };
    match (newest_first, query.after, query.before) {
        (false, _, Some(_)) => {
            return Err(AdminError::validation(
                "before pages order=desc; in commit order, page with after",
            ))
        }
        (true, Some(_), _) => {
            return Err(AdminError::validation(
                "after pages commit order; with order=desc, page with before",
            ))
        }
        _ => {}
    }
    let events = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let events = if newest_first {
            store.audit_events_newest_first(permit.workspace_id(), query.before, limit)?
        } else {
            store.audit_events(permit.workspace_id(), query.after, limit)?
        };
        Ok::<_, AdminError>(events)
    })
    .await?;
    if format == "csv" {
        let mut out = String::from(
            "seq,occurred_at,actor_kind,actor_id,action,target_kind,target_id,detail\n",
        );
        for e in &events {
            let row = [
                e.seq.to_string(),
                e.occurred_at.to_rfc3339(),
                e.actor_kind.clone(),
                e.actor_id.clone().unwrap_or_default(),
                e.action.clone(),
                e.target_kind.clone(),
                e.target_id.clone(),
                e.detail.clone(),
            ];
            out.push_str(
                &row.iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"roster-audit.csv\"",
            ))
            .body(out));
    }
    Ok(HttpResponse::Ok().json(AuditTrail {
        events: events.into_iter().map(AuditEntry::from).collect(),
    }))
}

/// Query of the login log.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginEventQuery {
    /// `success` or `failure`; absent: both.
    outcome: Option<String>,
    limit: Option<i64>,
}

/// One SSO login attempt.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginAttempt {
    pub id: String,
    pub at: String,
    pub connection_id: Option<String>,
    pub user_id: Option<String>,
    /// `saml` or `oidc`.
    pub protocol: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// A failure's stable code (docs/troubleshooting.md).
    pub reason: Option<String>,
    /// What was wanted and what came (want/got), for a failure.
    pub detail: Value,
    pub subject: Option<String>,
    pub email: Option<String>,
}

impl From<LoginEvent> for LoginAttempt {
    fn from(e: LoginEvent) -> Self {
        LoginAttempt {
            at: Timestamp::from_micros(e.created_at).to_rfc3339(),
            detail: serde_json::from_str(&e.detail).unwrap_or(Value::Null),
            id: e.id,
            connection_id: e.connection_id,
            user_id: e.user_id,
            protocol: e.protocol,
            outcome: e.outcome,
            reason: e.reason,
            subject: e.subject,
            email: e.email,
        }
    }
}

/// The answer of `GET /login-events`, newest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LoginLog {
    pub events: Vec<LoginAttempt>,
}

/// `GET /login-events?outcome=&limit=`: every SSO login attempt with its connection, outcome,
/// stable reason code and want/got detail, so an admin can tell why a login failed without
/// reading server logs.
pub async fn login_events(
    principal: Principal,
    store: web::Data<Store>,
    query: web::Query<LoginEventQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    if let Some(outcome) = query.outcome.as_deref() {
        if outcome != "success" && outcome != "failure" {
            return Err(AdminError::validation(
                "outcome must be `success` or `failure`",
            ));
        }
    }
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let events = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.login_events(
            permit.workspace_id(),
            query.outcome.as_deref(),
            limit,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(LoginLog {
        events: events.into_iter().map(LoginAttempt::from).collect(),
    }))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/provisioning-log",
        "listProvisioningLog",
        "SCIM requests, newest first",
    )
    .query(schema::<LogQuery>)
    .answers(200, schema::<ProvisioningLog>),
    Operation::get("/audit", "listAuditEvents", "Audit trail (JSON or CSV)")
        .query(schema::<AuditQuery>)
        .answers_json_or_csv(schema::<AuditTrail>),
    Operation::get(
        "/login-events",
        "listLoginEvents",
        "SSO login attempts with outcome and reason, newest first",
    )
    .query(schema::<LoginEventQuery>)
    .answers(200, schema::<LoginLog>),
];
