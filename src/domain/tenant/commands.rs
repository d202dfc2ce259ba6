use crate::domain::values::{DisplayName, SkuId, TenantId, UsageLocation};

use super::events::{DeprovisionAction, MfaPolicy};

#[derive(Debug, Clone, PartialEq)]
pub enum TenantCommand {
    CreateTenant {
        tenant_id: TenantId,
        name: DisplayName,
    },
    RenameTenant {
        name: DisplayName,
    },
    SuspendTenant,
    ReactivateTenant,
    SetDefaultUsageLocation {
        usage_location: Option<UsageLocation>,
    },
    SetDefaultLicenses {
        sku_ids: Vec<SkuId>,
    },
    /// `grace_hours` (DELETE only matters): `None` keeps the default of 72 hours.
    SetDeprovisionAction {
        action: DeprovisionAction,
        grace_hours: Option<u32>,
    },
    SetMfaPolicy {
        policy: MfaPolicy,
    },
    /// Exact URLs (already checked by the WS-Fed allow-list parser) tokens may be posted to,
    /// besides Microsoft's own endpoints.
    SetReplyUrls {
        urls: Vec<String>,
    },
    /// Validity of issued tokens, in minutes (checked by the use case).
    SetTokenLifetime {
        minutes: u32,
    },
}
