//! `GET /api/v1/admin/events`: the workspace's directory events in commit order after an opaque
//! cursor, so the product behind Roster can follow every change without polling the directory.

use actix_web::{web, HttpResponse};
use roster_store::domain::WorkspaceId;
use roster_store::{EventMessage, Store};
use serde::{Deserialize, Serialize};

use crate::auth::permit::require_read;
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// Query parameters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The `next` cursor of the previous page; absent to start at the oldest retained event.
    after: Option<String>,
    limit: Option<i64>,
    /// Comma-separated event types to keep (e.g. `user.created,user.deactivated`).
    #[serde(rename = "type")]
    types: Option<String>,
}

/// Cursors are `ev_<position>`: opaque to clients, stable across restarts and replicas.
fn decode_cursor(cursor: &str) -> Result<i64, AdminError> {
    cursor
        .strip_prefix("ev_")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            AdminError::validation(format!(
                "after={cursor:?} is not a cursor this server issued"
            ))
        })
}

fn encode_cursor(position: i64) -> String {
    format!("ev_{position}")
}

/// A page of the feed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EventPage {
    pub events: Vec<EventMessage>,
    /// The cursor to ask for the next page with (`after`); the same cursor again when this page
    /// was empty.
    pub next: String,
}

/// A feed query, checked: the position after which to read, the page size and the types kept.
pub(crate) struct FeedRequest {
    after: i64,
    limit: i64,
    types: Vec<String>,
}

impl FeedRequest {
    pub(crate) fn parse(
        after: Option<&str>,
        limit: Option<i64>,
        types: Option<&str>,
    ) -> Result<Self, AdminError> {
        let after = after.map(decode_cursor).transpose()?.unwrap_or(0);
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AdminError::validation(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let types = types
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(FeedRequest {
            after,
            limit,
            types,
        })
    }

    /// Reads the page: one workspace's events, or (`None`) every workspace's.
    pub(crate) fn read(
        &self,
        store: &Store,
        workspace: Option<WorkspaceId>,
    ) -> Result<EventPage, AdminError> {
        let events = store.deployment_events(workspace, self.after, self.limit, &self.types)?;
        let next = events.last().map_or(self.after, |e| e.seq);
        Ok(EventPage {
            events: events.iter().map(|e| e.message()).collect(),
            next: encode_cursor(next),
        })
    }
}

/// `GET /api/v1/admin/events?after=CURSOR&limit=N&type=T1,T2`.
pub async fn feed(
    principal: Principal,
    store: web::Data<Store>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let request = FeedRequest::parse(query.after.as_deref(), query.limit, query.types.as_deref())?;
    let page = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        request.read(&store, Some(permit.workspace_id()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] =
    &[
        Operation::get("/events", "listEvents", "Directory events after a cursor")
            .query(schema::<FeedQuery>)
            .answers(200, schema::<EventPage>),
    ];
