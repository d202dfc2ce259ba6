use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::events::{ConnectionCredential, ConnectionSettings, Finding, GraphFailure, Microsoft365Event, SubscribedSku};
use crate::domain::DomainError;
use crate::domain::values::{DomainName, TenantId};

#[derive(Debug, Clone, PartialEq)]
pub enum Microsoft365Command {
    /// The use case has sealed the secret (or generated and sealed the key) already.
    Connect {
        tenant_id: TenantId,
        settings: ConnectionSettings,
        credential: ConnectionCredential,
    },
    Disconnect,
    RecordConnectionTest {
        succeeded: bool,
        granted_permissions: Vec<String>,
        findings: Vec<Finding>,
        error: Option<GraphFailure>,
    },
    RecordCompatibility {
        domain: DomainName,
        findings: Vec<Finding>,
    },
    RecordSubscribedSkus {
        skus: Vec<SubscribedSku>,
    },
}

/// Aggregate id: the tenant id (one connection per tenant).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Microsoft365Connection {
    pub tenant_id: Option<TenantId>,
    pub settings: Option<ConnectionSettings>,
    pub credential: Option<ConnectionCredential>,
    /// How many times it was (re)connected: a new value means new settings or credential, so
    /// cached tokens of the old one must not be used.
    pub generation: u32,
}

impl Microsoft365Connection {
    pub fn is_connected(&self) -> bool {
        self.settings.is_some() && self.credential.is_some()
    }

    fn ensure_connected(&self) -> Result<(), DomainError> {
        if self.is_connected() { Ok(()) } else { Err(DomainError::NotFound("Microsoft 365 connection")) }
    }
}

impl Aggregate for Microsoft365Connection {
    const TYPE: &'static str = "Microsoft365Connection";
    type Command = Microsoft365Command;
    type Event = Microsoft365Event;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Microsoft365Command, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        let event = match command {
            Microsoft365Command::Connect { tenant_id, settings, credential } => {
                Microsoft365Event::Microsoft365Connected { tenant_id, settings, credential }
            }
            Microsoft365Command::Disconnect => {
                if !self.is_connected() {
                    return Ok(());
                }
                Microsoft365Event::Microsoft365Disconnected
            }
            Microsoft365Command::RecordConnectionTest { succeeded, granted_permissions, findings, error } => {
                self.ensure_connected()?;
                Microsoft365Event::ConnectionTested { succeeded, granted_permissions, findings, error }
            }
            Microsoft365Command::RecordCompatibility { domain, findings } => {
                self.ensure_connected()?;
                Microsoft365Event::CompatibilityVerified { domain, compatible: findings.is_empty(), findings }
            }
            Microsoft365Command::RecordSubscribedSkus { skus } => {
                self.ensure_connected()?;
                Microsoft365Event::SubscribedSkusRefreshed { skus }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Microsoft365Event) {
        match event {
            Microsoft365Event::Microsoft365Connected { tenant_id, settings, credential } => {
                self.tenant_id = Some(tenant_id);
                self.settings = Some(settings);
                self.credential = Some(credential);
                self.generation += 1;
            }
            Microsoft365Event::Microsoft365Disconnected => {
                self.settings = None;
                self.credential = None;
            }
            Microsoft365Event::ConnectionTested { .. }
            | Microsoft365Event::CompatibilityVerified { .. }
            | Microsoft365Event::SubscribedSkusRefreshed { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::domain::SealedSecret;
    use crate::domain::microsoft365::FindingReason;

    type Given = TestFramework<Microsoft365Connection>;

    fn connected() -> Microsoft365Event {
        Microsoft365Event::Microsoft365Connected {
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            settings: ConnectionSettings {
                entra_tenant_id: uuid::Uuid::nil(),
                client_id: uuid::Uuid::nil(),
                login_base_url: "https://login.microsoftonline.com".into(),
                graph_base_url: "https://graph.microsoft.com".into(),
            },
            credential: ConnectionCredential::ClientSecret { sealed_client_secret: SealedSecret::new("sealed".into()) },
        }
    }

    #[test]
    fn findings_need_a_connection() {
        let domain = DomainName::parse("contoso.com").unwrap();
        Given::with(())
            .given_no_previous_events()
            .when(Microsoft365Command::RecordCompatibility { domain: domain.clone(), findings: vec![] })
            .then_expect_error(DomainError::NotFound("Microsoft 365 connection"));
        let finding = Finding { reason: FindingReason::DomainIsDefault, message: "default".into(), permission: None };
        Given::with(())
            .given(vec![connected()])
            .when(Microsoft365Command::RecordCompatibility { domain: domain.clone(), findings: vec![finding.clone()] })
            .then_expect_events(vec![Microsoft365Event::CompatibilityVerified { domain, compatible: false, findings: vec![finding] }]);
    }

    #[test]
    fn disconnecting_twice_is_harmless() {
        Given::with(())
            .given(vec![connected()])
            .when(Microsoft365Command::Disconnect)
            .then_expect_events(vec![Microsoft365Event::Microsoft365Disconnected]);
        Given::with(())
            .given(vec![connected(), Microsoft365Event::Microsoft365Disconnected])
            .when(Microsoft365Command::Disconnect)
            .then_expect_events(vec![]);
    }
}
