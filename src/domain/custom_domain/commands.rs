use crate::domain::microsoft365::GraphFailure;
use crate::domain::values::{DomainName, TenantId};

#[derive(Debug, Clone, PartialEq)]
pub enum DomainCommand {
    /// `verification_token` is drawn by the caller (randomness is injected).
    AddDomain {
        tenant_id: TenantId,
        name: DomainName,
        verification_token: String,
    },
    /// `txt_records` are what a DNS lookup of the domain returned just now.
    VerifyDomain {
        txt_records: Vec<String>,
    },
    RemoveDomain,
    FederateDomain,
    DefederateDomain,
    /// What Graph showed after a requested (de)federation: the use case has asked Microsoft.
    RecordFederated {
        issuer_uri: String,
        manual: bool,
    },
    RecordFederationFailed {
        reason: String,
        error: Option<GraphFailure>,
    },
    RecordDefederated,
    RecordDefederationFailed {
        reason: String,
        error: Option<GraphFailure>,
    },
}
