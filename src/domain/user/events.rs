use serde::{Deserialize, Serialize};

use crate::domain::EVENT_VERSION;
use crate::domain::values::{DisplayName, ImmutableId, SkuId, TenantId, Upn, UsageLocation, UserId};
use crate::domain::{Personal, SealedSecret};

/// The person's profile; always carried inside `Personal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    pub display_name: DisplayName,
    pub given_name: Option<DisplayName>,
    pub surname: Option<DisplayName>,
    pub mail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    UserCreated {
        tenant_id: TenantId,
        user_id: UserId,
        upn: Upn,
        immutable_id: ImmutableId,
        profile: Personal<UserProfile>,
        usage_location: Option<UsageLocation>,
    },
    UserProfileUpdated {
        profile: Personal<UserProfile>,
    },
    UserPasswordSet {
        password_hash: SealedSecret,
    },
    TotpEnrolled {
        seed: SealedSecret,
        recovery_code_hashes: Vec<String>,
    },
    RecoveryCodeUsed {
        code_hash: String,
    },
    TotpRemoved,
    UserSuspended,
    UserReactivated,
    UserDeleted,
    UserAssigned,
    UserUnassigned,
    UsageLocationSet {
        usage_location: UsageLocation,
    },
    LicenseGranted {
        sku_id: SkuId,
    },
    LicenseRevoked {
        sku_id: SkuId,
    },
}

impl cqrs_es::DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        match self {
            Self::UserCreated { .. } => "UserCreated",
            Self::UserProfileUpdated { .. } => "UserProfileUpdated",
            Self::UserPasswordSet { .. } => "UserPasswordSet",
            Self::TotpEnrolled { .. } => "TotpEnrolled",
            Self::RecoveryCodeUsed { .. } => "RecoveryCodeUsed",
            Self::TotpRemoved => "TotpRemoved",
            Self::UserSuspended => "UserSuspended",
            Self::UserReactivated => "UserReactivated",
            Self::UserDeleted => "UserDeleted",
            Self::UserAssigned => "UserAssigned",
            Self::UserUnassigned => "UserUnassigned",
            Self::UsageLocationSet { .. } => "UsageLocationSet",
            Self::LicenseGranted { .. } => "LicenseGranted",
            Self::LicenseRevoked { .. } => "LicenseRevoked",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}
