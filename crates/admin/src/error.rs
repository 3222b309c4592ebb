//! Admin API errors: one JSON shape, `{code, message, detail}`, for every failure — malformed
//! ids, unknown routes and framework extraction errors included — mapped from store errors in
//! one exhaustive place.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use roster_store::StoreError;
use serde::Serialize;

/// The stable, machine-readable code of an admin API error; each has one HTTP status. The
/// table of docs/admin-api.md lists them all (a test reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminCode {
    Validation,
    Unauthorized,
    Forbidden,
    Csrf,
    NotFound,
    MethodNotAllowed,
    Conflict,
    IdpUnreachable,
    Unavailable,
    Internal,
}

impl AdminCode {
    pub const ALL: [AdminCode; 10] = [
        AdminCode::Validation,
        AdminCode::Unauthorized,
        AdminCode::Forbidden,
        AdminCode::Csrf,
        AdminCode::NotFound,
        AdminCode::MethodNotAllowed,
        AdminCode::Conflict,
        AdminCode::IdpUnreachable,
        AdminCode::Unavailable,
        AdminCode::Internal,
    ];

    /// The code in the error body.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminCode::Validation => "validation",
            AdminCode::Unauthorized => "unauthorized",
            AdminCode::Forbidden => "forbidden",
            AdminCode::Csrf => "csrf",
            AdminCode::NotFound => "not_found",
            AdminCode::MethodNotAllowed => "method_not_allowed",
            AdminCode::Conflict => "conflict",
            AdminCode::IdpUnreachable => "idp_unreachable",
            AdminCode::Unavailable => "unavailable",
            AdminCode::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            AdminCode::Validation => StatusCode::BAD_REQUEST,
            AdminCode::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminCode::Forbidden | AdminCode::Csrf => StatusCode::FORBIDDEN,
            AdminCode::NotFound => StatusCode::NOT_FOUND,
            AdminCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AdminCode::Conflict => StatusCode::CONFLICT,
            AdminCode::IdpUnreachable => StatusCode::UNPROCESSABLE_ENTITY,
            AdminCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AdminCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl std::fmt::Display for AdminCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error answer: the OpenAPI document's `default` response.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorBody<'a> {
    /// One of docs/admin-api.md's codes.
    pub code: AdminCode,
    /// What went wrong, in words for a person.
    pub message: &'a str,
    /// Machine-readable particulars (the policy's refusal code and reason, a field), or null.
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub detail: Option<&'a serde_json::Value>,
}

/// An admin API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AdminError {
    pub code: AdminCode,
    pub message: String,
    pub detail: Option<serde_json::Value>,
}

impl AdminError {
    pub fn new(code: AdminCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            detail: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(AdminCode::Validation, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(AdminCode::NotFound, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(AdminCode::Unauthorized, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(AdminCode::Conflict, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(AdminCode::Internal, message)
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self.code {
            AdminCode::Unauthorized => {
                response.insert_header(("WWW-Authenticate", "Bearer realm=\"roster-admin\""));
            }
            AdminCode::Unavailable => {
                response.insert_header(("Retry-After", "5"));
            }
            AdminCode::MethodNotAllowed => {
                let allow = self.detail.as_ref().and_then(|d| d["allow"].as_array());
                let methods: Vec<&str> = allow
                    .into_iter()
                    .flatten()
                    .filter_map(serde_json::Value::as_str)
                    .collect();
                response.insert_header(("Allow", methods.join(", ")));
            }
            _ => {}
        }
        response.json(ErrorBody {
            code: self.code,
            message: &self.message,
            detail: self.detail.as_ref(),
        })
    }
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { what } => AdminError::not_found(format!("{what} not found")),
            StoreError::Conflict { detail, .. } => AdminError::conflict(detail),
            StoreError::Invalid(err) => AdminError::validation(err.to_string()),
            // No admin route writes against a version it read, so this is another write
            // that got there first: a conflict, as the API's other races are.
            StoreError::PreconditionFailed { .. } => AdminError::conflict(err.to_string()),
            StoreError::InvalidFilter(detail) => AdminError::validation(detail),
            StoreError::Unauthorized => AdminError::unauthorized("invalid or revoked API key"),
            StoreError::Forbidden { reason } => AdminError::new(AdminCode::Forbidden, reason),
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                AdminError::new(
                    AdminCode::Unavailable,
                    "the service is temporarily unavailable; retry later",
                )
            }
            StoreError::Corrupt(_)
            | StoreError::DataKey(_)
            | StoreError::Migration(_)
            | StoreError::Database(_) => {
                tracing::error!(error = %err, "internal error");
                AdminError::internal("internal error")
            }
        }
    }
}

impl From<actix_web::error::BlockingError> for AdminError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        AdminError::new(
            AdminCode::Unavailable,
            "the server is shutting down; retry later",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/admin-api.md's error table is the code table: every code with its status, and
    /// nothing the API cannot send.
    #[test]
    fn the_error_codes_are_docs_admin_api_md_table() {
        let guide = include_str!("../../../docs/admin-api.md");
        let table = guide
            .split("| code | status | when |")
            .nth(1)
            .expect("docs/admin-api.md has the error table");
        let documented: Vec<(String, u16)> = table
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                (
                    cells[1].trim_matches('`').to_owned(),
                    cells[2].parse().expect("a status"),
                )
            })
            .collect();
        let sent: Vec<(String, u16)> = AdminCode::ALL
            .iter()
            .map(|code| (code.as_str().to_owned(), code.status().as_u16()))
            .collect();
        assert_eq!(documented, sent);
    }

    /// The body's `code` is the code's `as_str` (serde's name and ours cannot part).
    #[test]
    fn a_code_serializes_as_its_name() {
        for code in AdminCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
