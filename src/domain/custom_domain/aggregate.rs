use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use crate::domain::values::{DomainName, TenantId};
use crate::domain::{DomainError, Reason};

use super::commands::DomainCommand;
use super::events::DomainEvent;

/// The TXT record a tenant publishes to prove it owns a domain: `tessera-verification=<token>`.
pub const VERIFICATION_RECORD_PREFIX: &str = "tessera-verification=";

/// Where a domain stands with Microsoft 365 federation. The Graph work that moves a domain out
/// of the `*Requested` states belongs to the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FederationState {
    #[default]
    Managed,
    FederationRequested,
    Federated,
    DefederationRequested,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CustomDomain {
    pub tenant_id: Option<TenantId>,
    pub name: Option<DomainName>,
    pub verification_token: String,
    pub verified: bool,
    pub removed: bool,
    pub federation: FederationState,
    /// Learned from Microsoft 365 once a Graph connection exists; `Some(true)` forbids federation.
    #[serde(default)]
    pub microsoft365_default: Option<bool>,
}

impl CustomDomain {
    pub fn exists(&self) -> bool {
        self.name.is_some() && !self.removed
    }

    pub fn expected_record(&self) -> String {
        format!("{VERIFICATION_RECORD_PREFIX}{}", self.verification_token)
    }

    fn name(&self) -> Result<&DomainName, DomainError> {
        match &self.name {
            Some(name) if !self.removed => Ok(name),
            _ => Err(DomainError::NotFound("domain")),
        }
    }

    /// The local rules that must hold before Tessera asks Microsoft to federate a domain.
    pub fn ensure_federable(&self) -> Result<(), DomainError> {
        let name = self.name()?;
        if name.is_onmicrosoft() {
            return Err(DomainError::precondition(
                Reason::DomainIsOnmicrosoft,
                format!("{name} belongs to Microsoft and can never be federated"),
            ));
        }
        if !self.verified {
            return Err(DomainError::precondition(
                Reason::DomainNotVerified,
                format!("verify {name} with its DNS TXT record before federating it"),
            ));
        }
        if self.microsoft365_default == Some(true) {
            return Err(DomainError::precondition(
                Reason::DomainIsDefault,
                format!("{name} is the Microsoft 365 default domain; make the onmicrosoft.com domain the default first"),
            ));
        }
        match self.federation {
            FederationState::Managed => Ok(()),
            FederationState::Federated => {
                Err(DomainError::precondition(Reason::DomainAlreadyFederated, format!("{name} is already federated")))
            }
            FederationState::FederationRequested | FederationState::DefederationRequested => {
                Err(DomainError::precondition(Reason::DomainFederationInProgress, format!("a federation change of {name} is in progress")))
            }
        }
    }
}

impl Aggregate for CustomDomain {
    const TYPE: &'static str = "Domain";
    type Command = DomainCommand;
    type Event = DomainEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: DomainCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        let event = match command {
            DomainCommand::AddDomain { tenant_id, name, verification_token } => {
                if self.exists() {
                    return Err(DomainError::Conflict(format!("{name} has already been added")));
                }
                DomainEvent::DomainAdded { tenant_id, name, verification_token }
            }
            DomainCommand::VerifyDomain { txt_records } => {
                let name = self.name()?;
                if self.verified {
                    return Ok(());
                }
                let expected = self.expected_record();
                if !txt_records.iter().any(|r| r.trim() == expected) {
                    return Err(DomainError::precondition(
                        Reason::DomainVerificationFailed,
                        format!("no TXT record \"{expected}\" found at {name} ({} TXT records seen)", txt_records.len()),
                    ));
                }
                DomainEvent::DomainVerified { txt_record: expected }
            }
            DomainCommand::RemoveDomain => {
                let name = self.name()?;
                if self.federation != FederationState::Managed {
                    return Err(DomainError::precondition(Reason::DomainFederated, format!("defederate {name} before removing it")));
                }
                DomainEvent::DomainRemoved
            }
            DomainCommand::FederateDomain => {
                self.ensure_federable()?;
                DomainEvent::DomainFederationRequested
            }
            DomainCommand::DefederateDomain => {
                let name = self.name()?;
                match self.federation {
                    FederationState::Federated | FederationState::FederationRequested => DomainEvent::DomainDefederationRequested,
                    FederationState::DefederationRequested => return Ok(()),
                    FederationState::Managed => {
                        return Err(DomainError::precondition(Reason::DomainNotFederated, format!("{name} is not federated")));
                    }
                }
            }
            DomainCommand::RecordFederated { issuer_uri, manual } => {
                let name = self.name()?;
                match self.federation {
                    FederationState::FederationRequested => DomainEvent::DomainFederated { issuer_uri, manual },
                    FederationState::Federated => return Ok(()),
                    FederationState::Managed | FederationState::DefederationRequested => {
                        return Err(DomainError::precondition(
                            Reason::DomainFederationInProgress,
                            format!("no federation of {name} was requested"),
                        ));
                    }
                }
            }
            DomainCommand::RecordFederationFailed { reason, error } => {
                self.name()?;
                if self.federation != FederationState::FederationRequested {
                    return Ok(());
                }
                DomainEvent::DomainFederationFailed { reason, error }
            }
            DomainCommand::RecordDefederated => {
                self.name()?;
                if !matches!(self.federation, FederationState::DefederationRequested) {
                    return Ok(());
                }
                DomainEvent::DomainDefederated
            }
            DomainCommand::RecordDefederationFailed { reason, error } => {
                self.name()?;
                if self.federation != FederationState::DefederationRequested {
                    return Ok(());
                }
                DomainEvent::DomainDefederationFailed { reason, error }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: DomainEvent) {
        match event {
            DomainEvent::DomainAdded { tenant_id, name, verification_token } => {
                *self = Self { tenant_id: Some(tenant_id), name: Some(name), verification_token, ..Self::default() };
            }
            DomainEvent::DomainVerified { .. } => self.verified = true,
            DomainEvent::DomainRemoved => self.removed = true,
            DomainEvent::DomainFederationRequested => self.federation = FederationState::FederationRequested,
            DomainEvent::DomainDefederationRequested => self.federation = FederationState::DefederationRequested,
            DomainEvent::DomainFederated { .. } | DomainEvent::DomainDefederationFailed { .. } => {
                self.federation = FederationState::Federated;
            }
            DomainEvent::DomainFederationFailed { .. } | DomainEvent::DomainDefederated => self.federation = FederationState::Managed,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    type Given = TestFramework<CustomDomain>;

    fn added(name: &str) -> DomainEvent {
        DomainEvent::DomainAdded {
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            name: DomainName::parse(name).unwrap(),
            verification_token: "t0k3n".into(),
        }
    }

    fn verified() -> DomainEvent {
        DomainEvent::DomainVerified { txt_record: "tessera-verification=t0k3n".into() }
    }

    #[test]
    fn verifies_only_with_the_exact_record() {
        Given::with(())
            .given(vec![added("contoso.com")])
            .when(DomainCommand::VerifyDomain { txt_records: vec!["v=spf1 -all".into(), "tessera-verification=t0k3n".into()] })
            .then_expect_events(vec![verified()]);
        let result = Given::with(())
            .given(vec![added("contoso.com")])
            .when(DomainCommand::VerifyDomain { txt_records: vec!["tessera-verification=other".into()] })
            .inspect_result();
        assert!(matches!(result, Err(DomainError::Precondition { reason: Reason::DomainVerificationFailed, .. })));
    }

    #[test]
    fn federation_needs_a_verified_non_microsoft_domain() {
        let unverified = Given::with(()).given(vec![added("contoso.com")]).when(DomainCommand::FederateDomain).inspect_result();
        assert!(matches!(unverified, Err(DomainError::Precondition { reason: Reason::DomainNotVerified, .. })));
        let onmicrosoft =
            Given::with(()).given(vec![added("contoso.onmicrosoft.com"), verified()]).when(DomainCommand::FederateDomain).inspect_result();
        assert!(matches!(onmicrosoft, Err(DomainError::Precondition { reason: Reason::DomainIsOnmicrosoft, .. })));
        Given::with(())
            .given(vec![added("contoso.com"), verified()])
            .when(DomainCommand::FederateDomain)
            .then_expect_events(vec![DomainEvent::DomainFederationRequested]);
        let twice = Given::with(())
            .given(vec![added("contoso.com"), verified(), DomainEvent::DomainFederationRequested])
            .when(DomainCommand::FederateDomain)
            .inspect_result();
        assert!(matches!(twice, Err(DomainError::Precondition { reason: Reason::DomainFederationInProgress, .. })));
    }

    #[test]
    fn graphs_answer_settles_a_requested_federation() {
        let requested = vec![added("contoso.com"), verified(), DomainEvent::DomainFederationRequested];
        let federated = DomainEvent::DomainFederated { issuer_uri: "https://sts/x".into(), manual: false };
        Given::with(())
            .given(requested.clone())
            .when(DomainCommand::RecordFederated { issuer_uri: "https://sts/x".into(), manual: false })
            .then_expect_events(vec![federated.clone()]);
        let failed = DomainEvent::DomainFederationFailed { reason: "refused".into(), error: None };
        Given::with(())
            .given(requested.clone())
            .when(DomainCommand::RecordFederationFailed { reason: "refused".into(), error: None })
            .then_expect_events(vec![failed.clone()]);
        // Failed: managed again, so it can be federated again.
        let mut again = requested.clone();
        again.push(failed);
        Given::with(()).given(again).when(DomainCommand::FederateDomain).then_expect_events(vec![DomainEvent::DomainFederationRequested]);
        // Not requested: nothing to record.
        let result = Given::with(())
            .given(vec![added("contoso.com"), verified()])
            .when(DomainCommand::RecordFederated { issuer_uri: "https://sts/x".into(), manual: true })
            .inspect_result();
        assert!(result.is_err());
        // A failed defederation leaves it federated.
        let mut defederating = requested;
        defederating.extend([federated, DomainEvent::DomainDefederationRequested]);
        Given::with(())
            .given(defederating.clone())
            .when(DomainCommand::RecordDefederationFailed { reason: "x".into(), error: None })
            .then_expect_events(vec![DomainEvent::DomainDefederationFailed { reason: "x".into(), error: None }]);
        Given::with(()).given(defederating).when(DomainCommand::RecordDefederated).then_expect_events(vec![DomainEvent::DomainDefederated]);
    }

    #[test]
    fn defederation_and_removal() {
        Given::with(())
            .given(vec![added("contoso.com"), verified(), DomainEvent::DomainFederationRequested])
            .when(DomainCommand::DefederateDomain)
            .then_expect_events(vec![DomainEvent::DomainDefederationRequested]);
        let managed = Given::with(()).given(vec![added("contoso.com")]).when(DomainCommand::DefederateDomain).inspect_result();
        assert!(matches!(managed, Err(DomainError::Precondition { reason: Reason::DomainNotFederated, .. })));
        let federated = Given::with(())
            .given(vec![added("contoso.com"), verified(), DomainEvent::DomainFederationRequested])
            .when(DomainCommand::RemoveDomain)
            .inspect_result();
        assert!(matches!(federated, Err(DomainError::Precondition { reason: Reason::DomainFederated, .. })));
        Given::with(())
            .given(vec![added("contoso.com")])
            .when(DomainCommand::RemoveDomain)
            .then_expect_events(vec![DomainEvent::DomainRemoved]);
    }
}
