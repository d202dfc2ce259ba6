use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use crate::domain::values::{ApiKeyId, DisplayName, TenantId};
use crate::domain::{DomainError, EVENT_VERSION};

/// What a key may do. `Operator` keys belong to no tenant; the others to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Operator,
    Admin,
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "OPERATOR",
            Self::Admin => "ADMIN",
            Self::Auditor => "AUDITOR",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "OPERATOR" => Some(Self::Operator),
            "ADMIN" => Some(Self::Admin),
            "AUDITOR" => Some(Self::Auditor),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApiKeyCommand {
    /// `secret_hash` is SHA-256 of a 256-bit random secret: safe to store, useless to steal.
    CreateApiKey {
        key_id: ApiKeyId,
        tenant_id: Option<TenantId>,
        name: DisplayName,
        role: Role,
        secret_hash: String,
    },
    RevokeApiKey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiKeyEvent {
    ApiKeyCreated { key_id: ApiKeyId, tenant_id: Option<TenantId>, name: DisplayName, role: Role, secret_hash: String },
    ApiKeyRevoked,
}

impl cqrs_es::DomainEvent for ApiKeyEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ApiKeyCreated { .. } => "ApiKeyCreated",
            Self::ApiKeyRevoked => "ApiKeyRevoked",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ApiKey {
    pub key_id: Option<ApiKeyId>,
    pub tenant_id: Option<TenantId>,
    pub role: Option<Role>,
    pub revoked: bool,
}

impl Aggregate for ApiKey {
    const TYPE: &'static str = "ApiKey";
    type Command = ApiKeyCommand;
    type Event = ApiKeyEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: ApiKeyCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            ApiKeyCommand::CreateApiKey { key_id, tenant_id, name, role, secret_hash } => {
                if self.key_id.is_some() {
                    return Err(DomainError::Conflict("the API key already exists".into()));
                }
                if (role == Role::Operator) != tenant_id.is_none() {
                    return Err(DomainError::Invalid(crate::domain::values::ValueError::new(
                        "role",
                        "operator keys belong to no tenant; admin and auditor keys to exactly one",
                    )));
                }
                sink.write(ApiKeyEvent::ApiKeyCreated { key_id, tenant_id, name, role, secret_hash }, self).await;
            }
            ApiKeyCommand::RevokeApiKey => {
                if self.key_id.is_none() {
                    return Err(DomainError::NotFound("API key"));
                }
                if !self.revoked {
                    sink.write(ApiKeyEvent::ApiKeyRevoked, self).await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: ApiKeyEvent) {
        match event {
            ApiKeyEvent::ApiKeyCreated { key_id, tenant_id, role, .. } => {
                self.key_id = Some(key_id);
                self.tenant_id = tenant_id;
                self.role = Some(role);
            }
            ApiKeyEvent::ApiKeyRevoked => self.revoked = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    #[test]
    fn operator_keys_have_no_tenant() {
        let result = TestFramework::<ApiKey>::with(())
            .given_no_previous_events()
            .when(ApiKeyCommand::CreateApiKey {
                key_id: ApiKeyId::new(),
                tenant_id: Some(TenantId::new()),
                name: DisplayName::parse("name", "ops").unwrap(),
                role: Role::Operator,
                secret_hash: "00".into(),
            })
            .inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(_))));
    }
}
