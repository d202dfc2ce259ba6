use crate::domain::{DomainError, Reason};

/// Why a use case failed. `api/error.rs` maps each variant to a GraphQL code and HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{message}")]
    PreconditionFailed { reason: &'static str, message: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation { field: field.into(), message: message.into() }
    }

    pub fn precondition(reason: Reason, message: impl Into<String>) -> Self {
        Self::PreconditionFailed { reason: reason.code(), message: message.into() }
    }
}

impl From<DomainError> for AppError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::Invalid(v) => Self::Validation { field: v.field.to_owned(), message: v.message },
            DomainError::NotFound(what) => Self::NotFound(what.to_owned()),
            DomainError::Conflict(message) => Self::Conflict(message),
            DomainError::Precondition { reason, message } => Self::PreconditionFailed { reason: reason.code(), message },
        }
    }
}

impl From<crate::domain::values::ValueError> for AppError {
    fn from(err: crate::domain::values::ValueError) -> Self {
        Self::Validation { field: err.field.to_owned(), message: err.message }
    }
}

impl From<crate::db::DbError> for AppError {
    fn from(err: crate::db::DbError) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<crate::eventstore::PersonalError> for AppError {
    fn from(err: crate::eventstore::PersonalError) -> Self {
        Self::Internal(err.to_string())
    }
}
