use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::domain::values::TenantId;
use crate::domain::{DomainError, EVENT_VERSION, Reason, SealedSecret};

/// The role a key plays when it is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyRole {
    /// Signs tokens now.
    Active,
    /// Published in metadata (and for Microsoft as `nextSigningCertificate`) before it signs.
    Next,
}

/// A freshly generated key with its self-signed certificate; the private key is sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSigningKey {
    pub key_id: String,
    pub key_bits: u32,
    pub certificate_pem: String,
    pub sha1_thumbprint: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub private_key: SealedSecret,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SigningKeyCommand {
    /// The first key becomes active; later ones become the next key.
    GenerateSigningKey { tenant_id: TenantId, key: NewSigningKey },
    /// The next key starts signing; the active one is retired.
    ActivateNextSigningKey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SigningKeyEvent {
    SigningKeyGenerated { tenant_id: TenantId, role: KeyRole, key: NewSigningKey },
    NextSigningKeyActivated { key_id: String, retired_key_id: String },
}

impl DomainEvent for SigningKeyEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SigningKeyGenerated { .. } => "SigningKeyGenerated",
            Self::NextSigningKeyActivated { .. } => "NextSigningKeyActivated",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}

/// Aggregate id: the tenant id.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SigningKeys {
    pub tenant_id: Option<TenantId>,
    pub active: Option<NewSigningKey>,
    pub next: Option<NewSigningKey>,
}

impl Aggregate for SigningKeys {
    const TYPE: &'static str = "SigningKeys";
    type Command = SigningKeyCommand;
    type Event = SigningKeyEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: SigningKeyCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        let event = match command {
            SigningKeyCommand::GenerateSigningKey { tenant_id, key } => {
                if self.next.is_some() {
                    return Err(DomainError::precondition(
                        Reason::NextSigningKeyExists,
                        "a next signing key is already published; activate it before generating another",
                    ));
                }
                let role = if self.active.is_some() { KeyRole::Next } else { KeyRole::Active };
                SigningKeyEvent::SigningKeyGenerated { tenant_id, role, key }
            }
            SigningKeyCommand::ActivateNextSigningKey => {
                let (Some(next), Some(active)) = (&self.next, &self.active) else {
                    return Err(DomainError::precondition(Reason::NoNextSigningKey, "there is no next signing key to activate"));
                };
                SigningKeyEvent::NextSigningKeyActivated { key_id: next.key_id.clone(), retired_key_id: active.key_id.clone() }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: SigningKeyEvent) {
        match event {
            SigningKeyEvent::SigningKeyGenerated { tenant_id, role, key } => {
                self.tenant_id = Some(tenant_id);
                match role {
                    KeyRole::Active => self.active = Some(key),
                    KeyRole::Next => self.next = Some(key),
                }
            }
            SigningKeyEvent::NextSigningKeyActivated { .. } => {
                if let Some(next) = self.next.take() {
                    self.active = Some(next);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    type Given = TestFramework<SigningKeys>;

    fn tenant() -> TenantId {
        TenantId::from_uuid(uuid::Uuid::nil())
    }

    fn key(id: &str) -> NewSigningKey {
        NewSigningKey {
            key_id: id.to_owned(),
            key_bits: 2048,
            certificate_pem: "PEM".into(),
            sha1_thumbprint: "AB".into(),
            not_before: DateTime::UNIX_EPOCH,
            not_after: DateTime::UNIX_EPOCH,
            private_key: SealedSecret::new("sealed".into()),
        }
    }

    fn generated(id: &str, role: KeyRole) -> SigningKeyEvent {
        SigningKeyEvent::SigningKeyGenerated { tenant_id: tenant(), role, key: key(id) }
    }

    #[test]
    fn first_key_is_active_then_next() {
        Given::with(())
            .given_no_previous_events()
            .when(SigningKeyCommand::GenerateSigningKey { tenant_id: tenant(), key: key("a") })
            .then_expect_events(vec![generated("a", KeyRole::Active)]);
        Given::with(())
            .given(vec![generated("a", KeyRole::Active)])
            .when(SigningKeyCommand::GenerateSigningKey { tenant_id: tenant(), key: key("b") })
            .then_expect_events(vec![generated("b", KeyRole::Next)]);
    }

    #[test]
    fn one_next_key_at_a_time_and_activation_needs_one() {
        let result = Given::with(())
            .given(vec![generated("a", KeyRole::Active), generated("b", KeyRole::Next)])
            .when(SigningKeyCommand::GenerateSigningKey { tenant_id: tenant(), key: key("c") })
            .inspect_result();
        assert!(matches!(result, Err(DomainError::Precondition { reason: Reason::NextSigningKeyExists, .. })));
        let result =
            Given::with(()).given(vec![generated("a", KeyRole::Active)]).when(SigningKeyCommand::ActivateNextSigningKey).inspect_result();
        assert!(matches!(result, Err(DomainError::Precondition { reason: Reason::NoNextSigningKey, .. })));
        Given::with(())
            .given(vec![generated("a", KeyRole::Active), generated("b", KeyRole::Next)])
            .when(SigningKeyCommand::ActivateNextSigningKey)
            .then_expect_events(vec![SigningKeyEvent::NextSigningKeyActivated { key_id: "b".into(), retired_key_id: "a".into() }]);
    }
}
