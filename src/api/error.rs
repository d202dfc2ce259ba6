//! The one place where errors become GraphQL codes and HTTP statuses.

use actix_web::http::StatusCode;
use async_graphql::ErrorExtensions;

use crate::app::AppError;

impl AppError {
    /// The stable `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "VALIDATION",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict(_) => "CONFLICT",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::PreconditionFailed { .. } => "PRECONDITION_FAILED",
            Self::Internal(_) => "INTERNAL",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the caller sees: internal details stay in the log, keyed by the correlation id.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error; quote the correlation id to the operator".to_owned(),
            other => other.to_string(),
        }
    }

    pub fn to_graphql(&self, correlation_id: &str) -> async_graphql::Error {
        if let Self::Internal(detail) = self {
            tracing::error!(correlation_id, error = %detail, "internal error");
        }
        async_graphql::Error::new(self.public_message()).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let Self::PreconditionFailed { reason, .. } = self {
                ext.set("reason", *reason);
            }
            if let Self::Validation { field, .. } = self {
                ext.set("field", field.as_str());
            }
            ext.set("correlationId", correlation_id);
        })
    }
}

/// A GraphQL response body carrying one error, for failures before execution.
pub fn graphql_error_body(message: &str, code: &str, correlation_id: &str) -> serde_json::Value {
    serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code, "correlationId": correlation_id } }]
    })
}
