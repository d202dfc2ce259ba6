use super::values::ValueError;

/// Why the domain refused a command. One enum for the whole domain layer; `api/error.rs` maps it
/// to GraphQL codes once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    Invalid(#[from] ValueError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Precondition { reason: Reason, message: String },
}

impl DomainError {
    pub fn precondition(reason: Reason, message: impl Into<String>) -> Self {
        Self::Precondition { reason, message: message.into() }
    }
}

/// The stable, machine-readable reason behind a `PRECONDITION_FAILED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    TenantSuspended,
    DomainNotVerified,
    DomainVerificationFailed,
    DomainIsOnmicrosoft,
    DomainIsDefault,
    DomainFederated,
    DomainAlreadyFederated,
    DomainFederationInProgress,
    DomainNotFederated,
    UserDeleted,
    UserNotDeleted,
    UserSuspended,
    UsageLocationRequired,
    LicenseNotGranted,
    ApiKeyRevoked,
    NextSigningKeyExists,
    NoNextSigningKey,
    TaskNotFailed,
    TaskSucceeded,
    Microsoft365NotConnected,
    FederationNotConfirmed,
    GraphCallFailed,
    NoLicenseUnitsLeft,
    JobNotRunning,
    NoDomainsToImport,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Self::TenantSuspended => "TENANT_SUSPENDED",
            Self::DomainNotVerified => "DOMAIN_NOT_VERIFIED",
            Self::DomainVerificationFailed => "DOMAIN_VERIFICATION_FAILED",
            Self::DomainIsOnmicrosoft => "DOMAIN_IS_ONMICROSOFT",
            Self::DomainIsDefault => "DOMAIN_IS_DEFAULT",
            Self::DomainFederated => "DOMAIN_FEDERATED",
            Self::DomainAlreadyFederated => "ALREADY_FEDERATED",
            Self::DomainFederationInProgress => "FEDERATION_IN_PROGRESS",
            Self::DomainNotFederated => "DOMAIN_NOT_FEDERATED",
            Self::UserDeleted => "USER_DELETED",
            Self::UserNotDeleted => "USER_NOT_DELETED",
            Self::UserSuspended => "USER_SUSPENDED",
            Self::UsageLocationRequired => "USAGE_LOCATION_REQUIRED",
            Self::LicenseNotGranted => "LICENSE_NOT_GRANTED",
            Self::ApiKeyRevoked => "API_KEY_REVOKED",
            Self::NextSigningKeyExists => "NEXT_SIGNING_KEY_EXISTS",
            Self::NoNextSigningKey => "NO_NEXT_SIGNING_KEY",
            Self::TaskNotFailed => "TASK_NOT_FAILED",
            Self::TaskSucceeded => "TASK_ALREADY_SUCCEEDED",
            Self::Microsoft365NotConnected => "MICROSOFT365_NOT_CONNECTED",
            Self::FederationNotConfirmed => "FEDERATION_NOT_CONFIRMED",
            Self::GraphCallFailed => "GRAPH_CALL_FAILED",
            Self::NoLicenseUnitsLeft => "NO_LICENSE_UNITS_LEFT",
            Self::JobNotRunning => "JOB_NOT_RUNNING",
            Self::NoDomainsToImport => "NO_DOMAINS_TO_IMPORT",
        }
    }
}
