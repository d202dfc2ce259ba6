use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::values::{DomainName, TenantId};
use crate::domain::{EVENT_VERSION, SealedSecret};

/// Where and as whom Tessera calls Microsoft: the Entra tenant, the app registration (client
/// id) and the cloud's endpoints (global by default; national clouds and the emulator differ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSettings {
    pub entra_tenant_id: Uuid,
    pub client_id: Uuid,
    /// The identity platform's base, e.g. `https://login.microsoftonline.com`.
    pub login_base_url: String,
    /// Graph's base, e.g. `https://graph.microsoft.com` (requests go to `{base}/v1.0/…`).
    pub graph_base_url: String,
}

/// How the app proves who it is. The secret parts are sealed by the crypto layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionCredential {
    ClientSecret {
        sealed_client_secret: SealedSecret,
    },
    /// A key pair Tessera generated; the admin uploads the certificate to the app registration.
    Certificate {
        certificate_pem: String,
        sha1_thumbprint: String,
        sha256_thumbprint: String,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        sealed_private_key: SealedSecret,
    },
}

/// A typed finding of `testConnection` or `verifyCompatibility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingReason {
    DomainIsDefault,
    DomainNotInMicrosoft365,
    DomainNotVerifiedInMicrosoft365,
    DomainIsOnmicrosoft,
    AlreadyFederated,
    InsufficientPermissions,
    /// The token endpoint or Graph refused or could not be reached (details in `message`).
    ConnectionFailed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub reason: FindingReason,
    pub message: String,
    /// For `INSUFFICIENT_PERMISSIONS`: the least-privileged Graph application permission to grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
}

/// What Microsoft answered when a call failed, as recorded for the audit trail: Graph's (or
/// Entra's) error code and message and the ids Microsoft support asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphFailure {
    /// HTTP status; absent when no answer came (timeout, dropped connection).
    pub status: Option<u16>,
    /// Graph's `error.code`, Entra's `error` (with the AADSTS code), or Tessera's own code for a
    /// failure without an answer (`TIMEOUT`, `CONNECTION_FAILED`, …).
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
}

/// A license (SKU) the Microsoft 365 tenant subscribes to, as `subscribedSkus` reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribedSku {
    /// Lower-case GUID.
    pub sku_id: String,
    pub sku_part_number: String,
    /// `prepaidUnits.enabled`.
    pub enabled: i64,
    /// `consumedUnits`.
    pub consumed: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Microsoft365Event {
    /// Connected, or re-connected with new settings or a new credential.
    Microsoft365Connected {
        tenant_id: TenantId,
        settings: ConnectionSettings,
        credential: ConnectionCredential,
    },
    Microsoft365Disconnected,
    ConnectionTested {
        succeeded: bool,
        granted_permissions: Vec<String>,
        findings: Vec<Finding>,
        error: Option<GraphFailure>,
    },
    CompatibilityVerified {
        domain: DomainName,
        compatible: bool,
        findings: Vec<Finding>,
    },
    /// `RefreshLicenses`: what the tenant subscribes to and how many units are left.
    SubscribedSkusRefreshed {
        skus: Vec<SubscribedSku>,
    },
}

impl DomainEvent for Microsoft365Event {
    fn event_type(&self) -> String {
        match self {
            Self::Microsoft365Connected { .. } => "Microsoft365Connected",
            Self::Microsoft365Disconnected => "Microsoft365Disconnected",
            Self::ConnectionTested { .. } => "ConnectionTested",
            Self::CompatibilityVerified { .. } => "CompatibilityVerified",
            Self::SubscribedSkusRefreshed { .. } => "SubscribedSkusRefreshed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}
