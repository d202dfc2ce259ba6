use std::collections::BTreeSet;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use crate::domain::values::{ImmutableId, Pseudonym, SkuId, TenantId, Upn, UsageLocation, UserId};
use crate::domain::{DomainError, Personal, Reason, SealedSecret};

use super::commands::UserCommand;
use super::events::{UserEvent, UserProfile};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    #[default]
    Active,
    Suspended,
    Deleted,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct User {
    pub tenant_id: Option<TenantId>,
    pub user_id: Option<UserId>,
    /// None once forgotten (or, for a sealed read, never opened).
    pub upn: Option<Upn>,
    #[serde(default)]
    pub upn_pseudonym: Option<Pseudonym>,
    pub immutable_id: Option<ImmutableId>,
    pub profile: Option<Personal<UserProfile>>,
    pub status: UserStatus,
    pub assigned: bool,
    pub usage_location: Option<UsageLocation>,
    pub licenses: BTreeSet<SkuId>,
    pub password_hash: Option<SealedSecret>,
    #[serde(default)]
    pub totp_seed: Option<SealedSecret>,
    #[serde(default)]
    pub recovery_code_hashes: Vec<String>,
    /// The person was forgotten: their data keys are destroyed.
    #[serde(default)]
    pub forgotten: bool,
}

impl User {
    pub fn exists(&self) -> bool {
        self.user_id.is_some() && self.status != UserStatus::Deleted
    }

    pub fn is_deleted(&self) -> bool {
        self.status == UserStatus::Deleted
    }

    fn ensure_exists(&self) -> Result<(), DomainError> {
        if self.exists() { Ok(()) } else { Err(DomainError::NotFound("user")) }
    }
}

impl Aggregate for User {
    const TYPE: &'static str = "User";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: UserCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        if let UserCommand::CreateUser { tenant_id, user_id, upn, upn_pseudonym, immutable_id, profile, usage_location } = command {
            if self.user_id.is_some() {
                return Err(DomainError::Conflict("the user already exists".into()));
            }
            let event = UserEvent::UserCreated {
                tenant_id,
                user_id,
                upn: Personal::new(upn),
                upn_pseudonym: Some(upn_pseudonym),
                immutable_id,
                profile,
                usage_location,
            };
            sink.write(event, self).await;
            return Ok(());
        }
        if let UserCommand::ForgetUser { upn_pseudonym } = command {
            // Forgetting is an erasure after offboarding: it cannot be undone, so it needs a
            // deleted user, and a second request changes nothing.
            if self.user_id.is_none() {
                return Err(DomainError::NotFound("user"));
            }
            if !self.is_deleted() {
                return Err(DomainError::precondition(
                    Reason::UserNotDeleted,
                    "only a deleted user can be forgotten: delete the user first",
                ));
            }
            if !self.forgotten {
                sink.write(UserEvent::UserForgotten { upn_pseudonym }, self).await;
            }
            return Ok(());
        }
        self.ensure_exists()?;
        let event = match command {
            UserCommand::CreateUser { .. } | UserCommand::ForgetUser { .. } => None,
            UserCommand::UpdateUserProfile { profile } => {
                (self.profile.as_ref() != Some(&profile)).then_some(UserEvent::UserProfileUpdated { profile })
            }
            UserCommand::SetPassword { password_hash } => Some(UserEvent::UserPasswordSet { password_hash }),
            UserCommand::EnrollTotp { seed, recovery_code_hashes } => Some(UserEvent::TotpEnrolled { seed, recovery_code_hashes }),
            UserCommand::UseRecoveryCode { code_hash } => {
                if !self.recovery_code_hashes.contains(&code_hash) {
                    return Err(DomainError::NotFound("recovery code"));
                }
                Some(UserEvent::RecoveryCodeUsed { code_hash })
            }
            UserCommand::RemoveTotp => self.totp_seed.is_some().then_some(UserEvent::TotpRemoved),
            UserCommand::SuspendUser => (self.status == UserStatus::Active).then_some(UserEvent::UserSuspended),
            UserCommand::ReactivateUser => (self.status == UserStatus::Suspended).then_some(UserEvent::UserReactivated),
            UserCommand::DeleteUser => Some(UserEvent::UserDeleted),
            UserCommand::AssignUser => (!self.assigned).then_some(UserEvent::UserAssigned),
            UserCommand::UnassignUser => self.assigned.then_some(UserEvent::UserUnassigned),
            UserCommand::SetUsageLocation { usage_location } => {
                (self.usage_location.as_ref() != Some(&usage_location)).then_some(UserEvent::UsageLocationSet { usage_location })
            }
            UserCommand::GrantLicense { sku_id } => {
                if self.usage_location.is_none() {
                    return Err(DomainError::precondition(
                        Reason::UsageLocationRequired,
                        "Microsoft 365 needs a usage location before it grants a license: set the user's usage location or the tenant's default",
                    ));
                }
                (!self.licenses.contains(&sku_id)).then_some(UserEvent::LicenseGranted { sku_id })
            }
            UserCommand::RevokeLicense { sku_id } => {
                if !self.licenses.contains(&sku_id) {
                    return Err(DomainError::precondition(
                        Reason::LicenseNotGranted,
                        format!("license {sku_id} is not granted to this user"),
                    ));
                }
                Some(UserEvent::LicenseRevoked { sku_id })
            }
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::UserCreated { tenant_id, user_id, upn, upn_pseudonym, immutable_id, profile, usage_location } => {
                self.tenant_id = Some(tenant_id);
                self.user_id = Some(user_id);
                self.upn = upn.into_value();
                self.upn_pseudonym = upn_pseudonym;
                self.immutable_id = Some(immutable_id);
                self.profile = Some(profile);
                self.usage_location = usage_location;
            }
            UserEvent::UserProfileUpdated { profile } => self.profile = Some(profile),
            UserEvent::UserPasswordSet { password_hash } => self.password_hash = Some(password_hash),
            UserEvent::TotpEnrolled { seed, recovery_code_hashes } => {
                self.totp_seed = Some(seed);
                self.recovery_code_hashes = recovery_code_hashes;
            }
            UserEvent::RecoveryCodeUsed { code_hash } => self.recovery_code_hashes.retain(|h| *h != code_hash),
            UserEvent::TotpRemoved => {
                self.totp_seed = None;
                self.recovery_code_hashes.clear();
            }
            UserEvent::UserSuspended => self.status = UserStatus::Suspended,
            UserEvent::UserReactivated => self.status = UserStatus::Active,
            UserEvent::UserDeleted => {
                self.status = UserStatus::Deleted;
                self.assigned = false;
                self.licenses.clear();
                self.password_hash = None;
                self.totp_seed = None;
                self.recovery_code_hashes.clear();
            }
            UserEvent::UserAssigned => self.assigned = true,
            UserEvent::UserUnassigned => self.assigned = false,
            UserEvent::UsageLocationSet { usage_location } => self.usage_location = Some(usage_location),
            UserEvent::LicenseGranted { sku_id } => {
                self.licenses.insert(sku_id);
            }
            UserEvent::LicenseRevoked { sku_id } => {
                self.licenses.remove(&sku_id);
            }
            UserEvent::UserForgotten { .. } => {
                self.forgotten = true;
                self.upn = None;
                self.profile = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::domain::values::DisplayName;

    type Given = TestFramework<User>;

    fn created(usage_location: Option<&str>) -> UserEvent {
        UserEvent::UserCreated {
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            user_id: UserId::from_uuid(uuid::Uuid::nil()),
            upn: Personal::new(Upn::parse("adele@contoso.com").unwrap()),
            upn_pseudonym: Some(pseudonym()),
            immutable_id: ImmutableId::from_bytes([1; 16]),
            profile: Personal::new(UserProfile {
                display_name: DisplayName::parse("displayName", "Adele Vance").unwrap(),
                given_name: None,
                surname: None,
                mail: None,
            }),
            usage_location: usage_location.map(|c| UsageLocation::parse(c).unwrap()),
        }
    }

    fn pseudonym() -> Pseudonym {
        Pseudonym::parse(&"ab".repeat(32)).unwrap()
    }

    fn sku() -> SkuId {
        SkuId::parse("6fd2c87f-b296-42f0-b197-1e91e994b900").unwrap()
    }

    #[test]
    fn a_license_needs_a_usage_location() {
        let result = Given::with(()).given(vec![created(None)]).when(UserCommand::GrantLicense { sku_id: sku() }).inspect_result();
        assert!(matches!(result, Err(DomainError::Precondition { reason: Reason::UsageLocationRequired, .. })));
        Given::with(())
            .given(vec![created(Some("US"))])
            .when(UserCommand::GrantLicense { sku_id: sku() })
            .then_expect_events(vec![UserEvent::LicenseGranted { sku_id: sku() }]);
        Given::with(())
            .given(vec![created(Some("US")), UserEvent::LicenseGranted { sku_id: sku() }])
            .when(UserCommand::GrantLicense { sku_id: sku() })
            .then_expect_events(vec![]);
    }

    #[test]
    fn revoking_what_was_never_granted_is_refused() {
        let result = Given::with(()).given(vec![created(Some("US"))]).when(UserCommand::RevokeLicense { sku_id: sku() }).inspect_result();
        assert!(matches!(result, Err(DomainError::Precondition { reason: Reason::LicenseNotGranted, .. })));
    }

    #[test]
    fn recovery_codes_are_spent_once() {
        let enrolled =
            UserEvent::TotpEnrolled { seed: SealedSecret::new("sealed".into()), recovery_code_hashes: vec!["h1".into(), "h2".into()] };
        Given::with(())
            .given(vec![created(None), enrolled.clone()])
            .when(UserCommand::UseRecoveryCode { code_hash: "h1".into() })
            .then_expect_events(vec![UserEvent::RecoveryCodeUsed { code_hash: "h1".into() }]);
        Given::with(())
            .given(vec![created(None), enrolled.clone(), UserEvent::RecoveryCodeUsed { code_hash: "h1".into() }])
            .when(UserCommand::UseRecoveryCode { code_hash: "h1".into() })
            .then_expect_error(DomainError::NotFound("recovery code"));
        Given::with(()).given(vec![created(None), enrolled]).when(UserCommand::RemoveTotp).then_expect_events(vec![UserEvent::TotpRemoved]);
        Given::with(()).given(vec![created(None)]).when(UserCommand::RemoveTotp).then_expect_events(vec![]);
    }

    #[test]
    fn a_deleted_user_is_gone() {
        Given::with(()).given(vec![created(None)]).when(UserCommand::DeleteUser).then_expect_events(vec![UserEvent::UserDeleted]);
        Given::with(())
            .given(vec![created(None), UserEvent::UserDeleted])
            .when(UserCommand::AssignUser)
            .then_expect_error(DomainError::NotFound("user"));
    }

    #[test]
    fn only_a_deleted_user_is_forgotten_and_only_once() {
        let forget = || UserCommand::ForgetUser { upn_pseudonym: Some(pseudonym()) };
        let result = Given::with(()).given(vec![created(None)]).when(forget()).inspect_result();
        assert!(matches!(result, Err(DomainError::Precondition { reason: Reason::UserNotDeleted, .. })));
        Given::with(()).given_no_previous_events().when(forget()).then_expect_error(DomainError::NotFound("user"));
        let forgotten = UserEvent::UserForgotten { upn_pseudonym: Some(pseudonym()) };
        Given::with(()).given(vec![created(None), UserEvent::UserDeleted]).when(forget()).then_expect_events(vec![forgotten.clone()]);
        Given::with(()).given(vec![created(None), UserEvent::UserDeleted, forgotten]).when(forget()).then_expect_events(vec![]);
    }

    #[test]
    fn assignment_and_suspension_are_idempotent() {
        Given::with(()).given(vec![created(None)]).when(UserCommand::AssignUser).then_expect_events(vec![UserEvent::UserAssigned]);
        Given::with(()).given(vec![created(None), UserEvent::UserAssigned]).when(UserCommand::AssignUser).then_expect_events(vec![]);
        Given::with(()).given(vec![created(None)]).when(UserCommand::UnassignUser).then_expect_events(vec![]);
        Given::with(()).given(vec![created(None)]).when(UserCommand::SuspendUser).then_expect_events(vec![UserEvent::UserSuspended]);
        Given::with(())
            .given(vec![created(None), UserEvent::UserSuspended])
            .when(UserCommand::ReactivateUser)
            .then_expect_events(vec![UserEvent::UserReactivated]);
    }
}
