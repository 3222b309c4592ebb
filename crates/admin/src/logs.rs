//! What happened, for an admin to read: the SCIM provisioning log (each request an IdP sent,
//! with its status and warnings) and the audit trail (JSON, or CSV to hand to an auditor).

use actix_web::{web, HttpResponse};
use roster_store::domain::{ConnectionId, Timestamp};
use roster_store::Store;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::permit::require_read;
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation, Success};
use crate::params::{parse_id, PAGE};

/// Query of the provisioning log.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    connection: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
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
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq, "connectionId": e.connection_id, "requestId": e.request_id,
                "at": Timestamp::from_micros(e.occurred_at).to_rfc3339(),
                "method": e.method, "path": e.path, "query": e.query, "status": e.status, "durationUs": e.duration_us,
                "resourceId": e.resource_id, "error": e.error,
                "warnings": e.warnings.as_deref().and_then(|w| serde_json::from_str::<Value>(w).ok()),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "entries": list })))
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
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
    let list: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq, "at": e.occurred_at.to_rfc3339(), "actorKind": e.actor_kind, "actorId": e.actor_id,
                "action": e.action, "targetKind": e.target_kind, "targetId": e.target_id,
                "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "events": list })))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation {
        method: "get",
        path: "/provisioning-log",
        id: "listProvisioningLog",
        summary: "SCIM requests, newest first",
        query: Some(schema::<LogQuery>),
        body: None,
        success: Success::Json(200, schema::<serde_json::Value>),
    },
    Operation {
        method: "get",
        path: "/audit",
        id: "listAuditEvents",
        summary: "Audit trail (JSON or CSV)",
        query: Some(schema::<AuditQuery>),
        body: None,
        success: Success::JsonOrCsv(schema::<serde_json::Value>),
    },
    Operation {
        method: "get",
        path: "/login-events",
        id: "listLoginEvents",
        summary: "SSO login attempts with outcome and reason, newest first",
        query: Some(schema::<crate::login_events::LoginEventQuery>),
        body: None,
        success: Success::Json(200, schema::<serde_json::Value>),
    },
];
