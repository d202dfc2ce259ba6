use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::domain::EVENT_VERSION;
use crate::domain::values::{DisplayName, SkuId, TenantId, UsageLocation};

/// What happens in Microsoft 365 when a user is unassigned from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeprovisionAction {
    /// `accountEnabled = false`: the safe default, reversible.
    #[default]
    BlockSignIn,
    /// Delete the Microsoft 365 user after a grace period.
    Delete,
    None,
}

/// Whether users must, may or never use a second factor at sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MfaPolicy {
    Off,
    #[default]
    Optional,
    Required,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TenantEvent {
    TenantCreated {
        tenant_id: TenantId,
        name: DisplayName,
    },
    TenantRenamed {
        name: DisplayName,
    },
    TenantSuspended,
    TenantReactivated,
    DefaultUsageLocationSet {
        usage_location: Option<UsageLocation>,
    },
    DefaultLicensesSet {
        sku_ids: Vec<SkuId>,
    },
    /// `grace_hours`: how long DELETE waits after unassignment; absent means the default (72).
    DeprovisionActionSet {
        action: DeprovisionAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace_hours: Option<u32>,
    },
    MfaPolicySet {
        policy: MfaPolicy,
    },
    ReplyUrlsSet {
        urls: Vec<String>,
    },
    TokenLifetimeSet {
        minutes: u32,
    },
}

impl DomainEvent for TenantEvent {
    fn event_type(&self) -> String {
        match self {
            Self::TenantCreated { .. } => "TenantCreated",
            Self::TenantRenamed { .. } => "TenantRenamed",
            Self::TenantSuspended => "TenantSuspended",
            Self::TenantReactivated => "TenantReactivated",
            Self::DefaultUsageLocationSet { .. } => "DefaultUsageLocationSet",
            Self::DefaultLicensesSet { .. } => "DefaultLicensesSet",
            Self::DeprovisionActionSet { .. } => "DeprovisionActionSet",
            Self::MfaPolicySet { .. } => "MfaPolicySet",
            Self::ReplyUrlsSet { .. } => "ReplyUrlsSet",
            Self::TokenLifetimeSet { .. } => "TokenLifetimeSet",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}
