//! The store's one error type.
//!
//! Business outcomes (not found, conflict, unauthorized) are variants the protocol crates map to
//! 4xx in their own formats; `Unavailable` (pool exhausted, database down or locked) maps to 503
//! with Retry-After; everything else is an internal error that is logged and answered with a
//! generic 500. Unique-constraint violations never escape as `Database`: every insert that can hit
//! one maps it to `Conflict` naming the attribute, so duplicates surface as typed conflicts.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use roster_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such resource in this workspace.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A uniqueness rule refused the write; nothing was written.
    #[error("{detail}")]
    Conflict { what: &'static str, detail: String },
    /// The input broke a domain rule; nothing was written.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// The caller's `If-Match` version is not the current one; nothing was written.
    #[error("the resource changed since version {expected}; it is now at version {actual}")]
    PreconditionFailed { expected: i64, actual: i64 },
    /// A query filter that cannot be evaluated (wrong operand type for the attribute).
    #[error("{0}")]
    InvalidFilter(String),
    /// The presented credential is unknown, revoked or expired.
    #[error("invalid credentials")]
    Unauthorized,
    /// The credential is valid but what it grants is switched off.
    #[error("{reason}")]
    Forbidden { reason: &'static str },
    /// The database cannot be reached or is busy; retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored row this build cannot read.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A sealed secret cannot be sealed or opened: no data key is configured, or not the one
    /// that sealed it (see `sealing`).
    #[error("data key: {0}")]
    DataKey(String),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(DieselError),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => StoreError::NotFound { what: "record" },
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::Conflict {
                    what: "record",
                    detail: info.message().to_owned(),
                }
            }
            // The connection is gone (or could not even send the query): the database is
            // unreachable, not the request wrong. The pool drops such a connection on return
            // (`db::PooledDb`).
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => StoreError::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(_, ref info) if is_busy(info.message()) => {
                StoreError::Unavailable(info.message().to_owned())
            }
            other => StoreError::Database(other),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(err: r2d2::Error) -> Self {
        StoreError::Unavailable(err.to_string())
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

/// Which unique rule a violation broke, from the index name (PostgreSQL reports it) or the column
/// list (SQLite reports `UNIQUE constraint failed: users.workspace_id, users.user_name_key`).
pub(crate) fn violated(err: &DieselError, marker: &str) -> bool {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            info.constraint_name()
                .is_some_and(|name| name.contains(marker))
                || info.message().contains(marker)
        }
        _ => false,
    }
}

/// Maps a unique violation to a conflict with a readable detail, choosing the detail by which
/// index was violated; other errors convert as usual.
pub(crate) fn conflict_on(
    err: DieselError,
    what: &'static str,
    rules: &[(&str, &str)],
) -> StoreError {
    for (marker, detail) in rules {
        if violated(&err, marker) {
            return StoreError::Conflict {
                what,
                detail: (*detail).to_owned(),
            };
        }
    }
    match StoreError::from(err) {
        StoreError::Conflict { detail, .. } => StoreError::Conflict { what, detail },
        other => other,
    }
}
