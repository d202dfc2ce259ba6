use serde::{Deserialize, Serialize};

use crate::domain::EVENT_VERSION;
use crate::domain::microsoft365::GraphFailure;
use crate::domain::values::{DomainName, TenantId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DomainEvent {
    DomainAdded {
        tenant_id: TenantId,
        name: DomainName,
        verification_token: String,
    },
    DomainVerified {
        txt_record: String,
    },
    DomainRemoved,
    DomainFederationRequested,
    DomainDefederationRequested,
    /// Microsoft 365 federates the domain with Tessera's issuer (through Graph, or confirmed
    /// through Graph after the admin ran the PowerShell: `manual`).
    DomainFederated {
        issuer_uri: String,
        #[serde(default)]
        manual: bool,
    },
    /// The federation did not happen; the domain is managed, and `reason` says why.
    DomainFederationFailed {
        reason: String,
        error: Option<GraphFailure>,
    },
    /// The domain is managed again in Microsoft 365.
    DomainDefederated,
    /// The federation could not be removed; the domain is still federated.
    DomainDefederationFailed {
        reason: String,
        error: Option<GraphFailure>,
    },
}

impl cqrs_es::DomainEvent for DomainEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DomainAdded { .. } => "DomainAdded",
            Self::DomainVerified { .. } => "DomainVerified",
            Self::DomainRemoved => "DomainRemoved",
            Self::DomainFederationRequested => "DomainFederationRequested",
            Self::DomainDefederationRequested => "DomainDefederationRequested",
            Self::DomainFederated { .. } => "DomainFederated",
            Self::DomainFederationFailed { .. } => "DomainFederationFailed",
            Self::DomainDefederated => "DomainDefederated",
            Self::DomainDefederationFailed { .. } => "DomainDefederationFailed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}
