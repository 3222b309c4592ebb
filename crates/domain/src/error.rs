//! The one error type of the domain crate: a rule was broken by the input.
//!
//! Every variant is a client mistake (it maps to a 4xx in every protocol); nothing here can be an
//! internal failure, because the domain does no IO.

/// A rule of the domain refused a value or a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A value does not have the syntax its field needs.
    #[error("invalid {field}: {reason}")]
    InvalidValue { field: &'static str, reason: String },
    /// A lifecycle transition that the state machine does not allow.
    #[error("a {from} user cannot be {event}: {reason}")]
    InvalidTransition {
        from: &'static str,
        event: &'static str,
        reason: &'static str,
    },
    /// A stored enumeration value this build does not know (a newer schema wrote it).
    #[error("unknown {field} value {value:?}")]
    UnknownVariant { field: &'static str, value: String },
}

impl DomainError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DomainError::InvalidValue {
            field,
            reason: reason.into(),
        }
    }
}
