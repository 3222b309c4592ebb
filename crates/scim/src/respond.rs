//! Response helpers shared by the handlers: SCIM content type, ETag and Location headers,
//! `If-Match` parsing, and the facts the provisioning log reads back from a response.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use crate::error::{ScimError, SCIM_CONTENT_TYPE};
use crate::user_resource::etag;

/// Facts about a handled request for the provisioning log, left in the response extensions.
#[derive(Debug, Clone, Default)]
pub struct LogFacts {
    pub resource_id: Option<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    /// The request's row was committed with its write: the middleware writes no second one.
    pub logged: bool,
}

/// The request being served as the provisioning log records it, put in the request extensions
/// by the logging middleware before the handler runs.
#[derive(Debug, Clone)]
pub struct RequestLog {
    pub started: Instant,
    pub request_id: String,
    pub method: String,
    /// Without the query string.
    pub path: String,
    /// The query string (the filter of a list, say), at most [`MAX_LOGGED_QUERY`] characters;
    /// `None` when the request had none. SCIM carries its token in a header, never here.
    pub query: Option<String>,
}

/// How much of a query string the provisioning log keeps.
pub const MAX_LOGGED_QUERY: usize = 1000;

/// A SCIM JSON response with an optional ETag.
pub fn scim_json(status: StatusCode, body: &Value, version: Option<i64>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.content_type(SCIM_CONTENT_TYPE);
    if let Some(version) = version {
        response.insert_header(("ETag", etag(version)));
    }
    // Straight to bytes: `Value`'s `Display` goes through the `fmt` machinery, slower on a body
    // that every SCIM answer renders.
    response.body(serde_json::to_vec(body).unwrap_or_default())
}

/// Adds log facts to a response.
pub fn with_facts(mut response: HttpResponse, facts: LogFacts) -> HttpResponse {
    response.extensions_mut().insert(facts);
    response
}

/// The version an `If-Match` header names: `None` without the header or with `*`.
/// An unparseable tag can match no version: 412.
pub fn if_match(req: &HttpRequest) -> Result<Option<i64>, ScimError> {
    let Some(header) = req.headers().get(actix_web::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let text = header.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        ScimError::new(
            412,
            None,
            format!("If-Match {text:?} matches no version of this resource"),
        )
    })
}

/// The query string as (name, value) pairs, `+` decoded as a space.
pub fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ScimError> {
    serde_urlencoded_pairs(req.query_string())
}

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ScimError> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .map_err(|err| ScimError::invalid_syntax(format!("malformed query string: {err}")))
}

/// Runs an operation on the blocking pool with its context and renders its outcome.
pub async fn run_op(
    client: crate::auth::ScimClient,
    store: actix_web::web::Data<roster_store::Store>,
    settings: actix_web::web::Data<crate::settings::ScimSettings>,
    op: impl FnOnce(&crate::ops::Ctx<'_>) -> Result<crate::ops::Outcome, ScimError> + Send + 'static,
) -> Result<HttpResponse, ScimError> {
    let outcome = roster_store::blocking(move || {
        let ctx = crate::ops::Ctx {
            client: &client,
            store: &store,
            settings: &settings,
        };
        op(&ctx)
    })
    .await?;
    Ok(outcome_response(outcome))
}

/// The HTTP response of an operation's outcome.
pub fn outcome_response(outcome: crate::ops::Outcome) -> HttpResponse {
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::OK);
    let mut response = match &outcome.resource {
        Some(resource) => scim_json(status, resource, outcome.version),
        None => {
            let mut builder = HttpResponse::build(status);
            if let Some(version) = outcome.version {
                builder.insert_header(("ETag", etag(version)));
            }
            builder.finish()
        }
    };
    if let Some(location) = outcome.location.as_deref().and_then(|l| l.parse().ok()) {
        response
            .headers_mut()
            .insert(actix_web::http::header::LOCATION, location);
    }
    with_facts(response, outcome.facts)
}
