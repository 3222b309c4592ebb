//! Admin API errors: one JSON shape, `{code, message, detail}`, for every failure — malformed
//! ids, unknown routes and framework extraction errors included — mapped from store errors in
//! one exhaustive place.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use roster_store::StoreError;
use serde_json::json;

/// An admin API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AdminError {
    pub status: u16,
    /// Stable machine-readable code: validation, not_found, conflict, unauthorized, forbidden,
    /// unavailable, internal.
    pub code: &'static str,
    pub message: String,
    pub detail: Option<serde_json::Value>,
}

impl AdminError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            detail: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "validation", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.status == 401 {
            response.insert_header(("WWW-Authenticate", "Bearer realm=\"roster-admin\""));
        }
        if self.status == 503 {
            response.insert_header(("Retry-After", "5"));
        }
        response.json(json!({ "code": self.code, "message": self.message, "detail": self.detail }))
    }
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { what } => AdminError::not_found(format!("{what} not found")),
            StoreError::Conflict { detail, .. } => AdminError::new(409, "conflict", detail),
            StoreError::Invalid(err) => AdminError::validation(err.to_string()),
            StoreError::PreconditionFailed { .. } => {
                AdminError::new(412, "precondition_failed", err.to_string())
            }
            StoreError::InvalidFilter(detail) => AdminError::validation(detail),
            StoreError::Unauthorized => AdminError::unauthorized("invalid or revoked API key"),
            StoreError::Forbidden { reason } => AdminError::new(403, "forbidden", reason),
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                AdminError::new(
                    503,
                    "unavailable",
                    "the service is temporarily unavailable; retry later",
                )
            }
            StoreError::Corrupt(_) | StoreError::Migration(_) | StoreError::Database(_) => {
                tracing::error!(error = %err, "internal error");
                AdminError::new(500, "internal", "internal error")
            }
        }
    }
}

impl From<actix_web::error::BlockingError> for AdminError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        AdminError::new(
            503,
            "unavailable",
            "the server is shutting down; retry later",
        )
    }
}
