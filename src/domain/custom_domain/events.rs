use serde::{Deserialize, Serialize};

use crate::domain::EVENT_VERSION;
use crate::domain::values::{DomainName, TenantId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DomainEvent {
    DomainAdded { tenant_id: TenantId, name: DomainName, verification_token: String },
    DomainVerified { txt_record: String },
    DomainRemoved,
    DomainFederationRequested,
    DomainDefederationRequested,
}

impl cqrs_es::DomainEvent for DomainEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DomainAdded { .. } => "DomainAdded",
            Self::DomainVerified { .. } => "DomainVerified",
            Self::DomainRemoved => "DomainRemoved",
            Self::DomainFederationRequested => "DomainFederationRequested",
            Self::DomainDefederationRequested => "DomainDefederationRequested",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}
