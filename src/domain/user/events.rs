use serde::{Deserialize, Serialize};

use crate::domain::EVENT_VERSION;
use crate::domain::values::{DisplayName, ImmutableId, Pseudonym, SkuId, TenantId, Upn, UsageLocation, UserId};
use crate::domain::{Personal, SealedSecret};

/// The person's profile; always carried inside `Personal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    pub display_name: DisplayName,
    pub given_name: Option<DisplayName>,
    pub surname: Option<DisplayName>,
    pub mail: Option<String>,
}

/// The schema version of `UserCreated` since the UPN became personal data: 1.0 carried it in
/// clear (`"upn": "…"`), 1.1 inside `Personal`, with its pseudonym beside it. An upcaster reads
/// 1.0 as 1.1 (eventstore/upcast.rs).
pub const USER_CREATED_VERSION: &str = "1.1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    UserCreated {
        tenant_id: TenantId,
        user_id: UserId,
        upn: Personal<Upn>,
        /// The UPN's keyed hash (its uniqueness claim and sign-in records are keyed by it), kept
        /// so the user can be forgotten completely even once the UPN itself is unreadable.
        /// Absent in 1.0 events, whose UPN stays readable.
        #[serde(default)]
        upn_pseudonym: Option<Pseudonym>,
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
    /// The person's data keys were destroyed: every personal value they left in the history now
    /// reads as forgotten. Carries no personal data, only the pseudonym of the UPN, so the read
    /// models can find the records of sign-in attempts made with it.
    UserForgotten {
        upn_pseudonym: Option<Pseudonym>,
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
            Self::UserForgotten { .. } => "UserForgotten",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::UserCreated { .. } => USER_CREATED_VERSION,
            _ => EVENT_VERSION,
        }
        .to_owned()
    }
}
