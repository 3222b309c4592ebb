//! SCIM errors and their one mapping to HTTP: RFC 7644 §3.12 Error JSON with `status` as a
//! string and a `scimType` where the RFC defines one, `Content-Type: application/scim+json`.
//! Store outcomes map exhaustively (no catch-all), so a new variant forces a decision here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use roster_store::StoreError;
use serde_json::json;

use crate::discovery::ERROR_SCHEMA;
use crate::filter::FilterError;
use crate::patch::PatchError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// The `scimType` of an error: RFC 7644 §3.12's, and RFC 9865's for cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    InvalidCursor,
    ExpiredCursor,
}

impl ScimType {
    /// The keyword in the Error JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
        }
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM error response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {scim_type:?}: {detail}")]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// Seconds for `Retry-After` (429 and 503).
    pub retry_after: Option<u64>,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 429: the connection's rate limit; retry after `seconds`.
    pub fn too_many_requests(seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(
                429,
                None,
                format!("too many requests for this connection; retry after {seconds} s"),
            )
        }
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::InvalidSyntax), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::InvalidValue), detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::InvalidFilter), detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::Mutability), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }

    /// The Error JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type.as_str());
        }
        body
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type(SCIM_CONTENT_TYPE);
        match self.status {
            401 => {
                response.insert_header(("WWW-Authenticate", "Bearer realm=\"scim\""));
            }
            503 | 429 => {
                response.insert_header(("Retry-After", self.retry_after.unwrap_or(5).to_string()));
            }
            _ => {}
        }
        let mut response = response.body(self.body().to_string());
        response.extensions_mut().insert(crate::respond::LogFacts {
            error: Some(self.detail.clone()),
            ..crate::respond::LogFacts::default()
        });
        response
    }
}

impl From<StoreError> for ScimError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { what } => ScimError::not_found(format!("{what} not found")),
            StoreError::Conflict { detail, .. } => {
                ScimError::new(409, Some(ScimType::Uniqueness), detail)
            }
            StoreError::Invalid(err) => ScimError::invalid_value(err.to_string()),
            StoreError::PreconditionFailed { .. } => ScimError::new(412, None, err.to_string()),
            StoreError::InvalidFilter(detail) => ScimError::invalid_filter(detail),
            StoreError::Unauthorized => {
                ScimError::unauthorized("invalid, revoked or expired bearer token")
            }
            StoreError::Forbidden { reason } => ScimError::new(403, None, reason),
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                ScimError::new(
                    503,
                    None,
                    "the service is temporarily unavailable; retry later",
                )
            }
            StoreError::Corrupt(_)
            | StoreError::DataKey(_)
            | StoreError::Migration(_)
            | StoreError::Database(_) => {
                tracing::error!(error = %err, "internal error");
                ScimError::new(500, None, "internal error")
            }
        }
    }
}

impl From<FilterError> for ScimError {
    fn from(err: FilterError) -> Self {
        ScimError::invalid_filter(err.to_string())
    }
}

impl From<PatchError> for ScimError {
    fn from(err: PatchError) -> Self {
        match err {
            PatchError::InvalidSyntax(detail) => ScimError::invalid_syntax(detail),
            PatchError::InvalidPath(detail) => {
                ScimError::new(400, Some(ScimType::InvalidPath), detail)
            }
            PatchError::NoTarget(detail) => ScimError::new(400, Some(ScimType::NoTarget), detail),
            PatchError::InvalidValue(detail) => ScimError::invalid_value(detail),
            PatchError::Mutability(detail) => ScimError::mutability(detail),
        }
    }
}
