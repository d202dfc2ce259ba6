use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use crate::domain::values::{DisplayName, SkuId, TenantId, UsageLocation};
use crate::domain::{DomainError, Reason};

use super::commands::TenantCommand;
use super::events::{DeprovisionAction, MfaPolicy, TenantEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TenantStatus {
    #[default]
    Active,
    Suspended,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tenant {
    pub id: Option<TenantId>,
    pub name: Option<DisplayName>,
    pub status: TenantStatus,
    pub default_usage_location: Option<UsageLocation>,
    pub default_licenses: Vec<SkuId>,
    pub deprovision_action: DeprovisionAction,
    /// The DELETE deprovision action's grace period; `None`: the default, 72 hours.
    #[serde(default)]
    pub delete_grace_hours: Option<u32>,
    pub mfa_policy: MfaPolicy,
    #[serde(default)]
    pub reply_urls: Vec<String>,
    /// Token validity in minutes; `None` means the server default.
    #[serde(default)]
    pub token_lifetime_minutes: Option<u32>,
}

impl Tenant {
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    pub fn is_active(&self) -> bool {
        self.exists() && self.status == TenantStatus::Active
    }

    /// The guard other aggregates' use cases call before changing anything in this tenant.
    pub fn ensure_active(&self) -> Result<(), DomainError> {
        if !self.exists() {
            return Err(DomainError::NotFound("tenant"));
        }
        if self.status == TenantStatus::Suspended {
            return Err(DomainError::precondition(Reason::TenantSuspended, "the tenant is suspended"));
        }
        Ok(())
    }
}

impl Aggregate for Tenant {
    const TYPE: &'static str = "Tenant";
    type Command = TenantCommand;
    type Event = TenantEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: TenantCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        if let TenantCommand::CreateTenant { tenant_id, name } = command {
            if self.exists() {
                return Err(DomainError::Conflict("the tenant already exists".into()));
            }
            sink.write(TenantEvent::TenantCreated { tenant_id, name }, self).await;
            return Ok(());
        }
        if !self.exists() {
            return Err(DomainError::NotFound("tenant"));
        }
        let event = match command {
            TenantCommand::CreateTenant { .. } => None,
            TenantCommand::RenameTenant { name } => (self.name.as_ref() != Some(&name)).then_some(TenantEvent::TenantRenamed { name }),
            TenantCommand::SuspendTenant => (self.status == TenantStatus::Active).then_some(TenantEvent::TenantSuspended),
            TenantCommand::ReactivateTenant => (self.status == TenantStatus::Suspended).then_some(TenantEvent::TenantReactivated),
            TenantCommand::SetDefaultUsageLocation { usage_location } => {
                (self.default_usage_location != usage_location).then_some(TenantEvent::DefaultUsageLocationSet { usage_location })
            }
            TenantCommand::SetDefaultLicenses { mut sku_ids } => {
                sku_ids.sort();
                sku_ids.dedup();
                (self.default_licenses != sku_ids).then_some(TenantEvent::DefaultLicensesSet { sku_ids })
            }
            TenantCommand::SetDeprovisionAction { action, grace_hours } => (self.deprovision_action != action
                || self.delete_grace_hours != grace_hours)
                .then_some(TenantEvent::DeprovisionActionSet { action, grace_hours }),
            TenantCommand::SetMfaPolicy { policy } => (self.mfa_policy != policy).then_some(TenantEvent::MfaPolicySet { policy }),
            TenantCommand::SetReplyUrls { mut urls } => {
                urls.sort();
                urls.dedup();
                (self.reply_urls != urls).then_some(TenantEvent::ReplyUrlsSet { urls })
            }
            TenantCommand::SetTokenLifetime { minutes } => {
                (self.token_lifetime_minutes != Some(minutes)).then_some(TenantEvent::TokenLifetimeSet { minutes })
            }
        };
        // Setting a value it already has is a no-op, not an error: retries stay harmless.
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: TenantEvent) {
        match event {
            TenantEvent::TenantCreated { tenant_id, name } => {
                self.id = Some(tenant_id);
                self.name = Some(name);
            }
            TenantEvent::TenantRenamed { name } => self.name = Some(name),
            TenantEvent::TenantSuspended => self.status = TenantStatus::Suspended,
            TenantEvent::TenantReactivated => self.status = TenantStatus::Active,
            TenantEvent::DefaultUsageLocationSet { usage_location } => self.default_usage_location = usage_location,
            TenantEvent::DefaultLicensesSet { sku_ids } => self.default_licenses = sku_ids,
            TenantEvent::DeprovisionActionSet { action, grace_hours } => {
                self.deprovision_action = action;
                self.delete_grace_hours = grace_hours;
            }
            TenantEvent::MfaPolicySet { policy } => self.mfa_policy = policy,
            TenantEvent::ReplyUrlsSet { urls } => self.reply_urls = urls,
            TenantEvent::TokenLifetimeSet { minutes } => self.token_lifetime_minutes = Some(minutes),
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    type Given = TestFramework<Tenant>;

    fn created() -> TenantEvent {
        TenantEvent::TenantCreated {
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            name: DisplayName::parse("name", "Contoso").unwrap(),
        }
    }

    #[test]
    fn creates_once() {
        let id = TenantId::from_uuid(uuid::Uuid::nil());
        let name = DisplayName::parse("name", "Contoso").unwrap();
        Given::with(())
            .given_no_previous_events()
            .when(TenantCommand::CreateTenant { tenant_id: id, name: name.clone() })
            .then_expect_events(vec![created()]);
        Given::with(())
            .given(vec![created()])
            .when(TenantCommand::CreateTenant { tenant_id: id, name })
            .then_expect_error(DomainError::Conflict("the tenant already exists".into()));
    }

    #[test]
    fn suspend_and_reactivate_are_idempotent() {
        Given::with(()).given(vec![created()]).when(TenantCommand::SuspendTenant).then_expect_events(vec![TenantEvent::TenantSuspended]);
        Given::with(()).given(vec![created(), TenantEvent::TenantSuspended]).when(TenantCommand::SuspendTenant).then_expect_events(vec![]);
        Given::with(())
            .given(vec![created(), TenantEvent::TenantSuspended])
            .when(TenantCommand::ReactivateTenant)
            .then_expect_events(vec![TenantEvent::TenantReactivated]);
    }

    #[test]
    fn settings_change_only_when_different() {
        Given::with(())
            .given(vec![created()])
            .when(TenantCommand::SetMfaPolicy { policy: MfaPolicy::Required })
            .then_expect_events(vec![TenantEvent::MfaPolicySet { policy: MfaPolicy::Required }]);
        Given::with(()).given(vec![created()]).when(TenantCommand::SetMfaPolicy { policy: MfaPolicy::Optional }).then_expect_events(vec![]);
        Given::with(()).given_no_previous_events().when(TenantCommand::SuspendTenant).then_expect_error(DomainError::NotFound("tenant"));
    }
}
