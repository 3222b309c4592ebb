//! `GET /login-events?outcome=&limit=`: the SSO login log, newest first — every attempt with its
//! connection, outcome, stable reason code and want/got detail, so an admin can tell why a
//! login failed without reading server logs.

use actix_web::{web, HttpResponse};
use roster_store::domain::Timestamp;
use roster_store::Store;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::permit::require_read;
use crate::auth::Principal;
use crate::error::AdminError;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LoginEventQuery {
    outcome: Option<String>,
    limit: Option<i64>,
}

pub async fn list(
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
    let list: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": Timestamp::from_micros(e.created_at).to_rfc3339(),
                "connectionId": e.connection_id,
                "userId": e.user_id,
                "protocol": e.protocol,
                "outcome": e.outcome,
                "reason": e.reason,
                "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
                "subject": e.subject,
                "email": e.email,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "events": list })))
}
