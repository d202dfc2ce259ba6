//! Seed documents: the tenants, apps, domains, SKUs, users and groups an emulator starts with.
//!
//! The same types serve the startup configuration, `POST /_emulator/seed` and the
//! per-resource control endpoints, so a JSON seed file and a test helper describe a tenant
//! the same way. Applying them is `seeding`'s job.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A whole seed document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub tenants: Vec<TenantSeed>,
}

/// A tenant and its content.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSeed {
    /// Tenant id (a GUID); generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// The initial `*.onmicrosoft.com` domain; `emulator-{8 hex}.onmicrosoft.com` when absent.
    #[serde(default)]
    pub initial_domain: Option<String>,
    #[serde(default)]
    pub domains: Vec<DomainSeed>,
    #[serde(default)]
    pub apps: Vec<AppSeed>,
    #[serde(default)]
    pub skus: Vec<SkuSeed>,
    /// Graph user JSON (`userPrincipalName` required; `id` and `assignedLicenses` allowed).
    #[serde(default)]
    pub users: Vec<Value>,
    /// Graph group JSON plus `members`: ids or UPNs of already seeded objects.
    #[serde(default)]
    pub groups: Vec<Value>,
}

/// An app registration allowed to get app-only tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSeed {
    /// Application (client) id; generated when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// PEM of the certificate whose key signs client assertions.
    #[serde(default)]
    pub certificate_pem: Option<String>,
    /// Application permissions, e.g. `User.ReadWrite.All`.
    #[serde(default)]
    pub permissions: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A domain of the tenant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DomainSeed {
    pub name: String,
    #[serde(default = "yes")]
    pub is_verified: bool,
    #[serde(default)]
    pub is_default: bool,
    /// `Managed` (default) or `Federated`.
    #[serde(default)]
    pub authentication_type: Option<String>,
    /// Defaults to whether the name ends in `.onmicrosoft.com`.
    #[serde(default)]
    pub is_initial: Option<bool>,
    #[serde(default)]
    pub supported_services: Vec<String>,
}

/// A subscribed SKU.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkuSeed {
    #[serde(default)]
    pub sku_id: Option<Uuid>,
    pub sku_part_number: String,
    #[serde(default)]
    pub prepaid_units: UnitsSeed,
    /// Units consumed by users outside the emulator's knowledge.
    #[serde(default)]
    pub consumed_units: i64,
    #[serde(default)]
    pub service_plans: Vec<ServicePlanSeed>,
    #[serde(default)]
    pub applies_to: Option<String>,
    #[serde(default)]
    pub capability_status: Option<String>,
}

/// `prepaidUnits`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnitsSeed {
    #[serde(default)]
    pub enabled: i64,
    #[serde(default)]
    pub suspended: i64,
    #[serde(default)]
    pub warning: i64,
    #[serde(default)]
    pub locked_out: i64,
}

/// A service plan of a SKU.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePlanSeed {
    #[serde(default)]
    pub service_plan_id: Option<Uuid>,
    pub service_plan_name: String,
    #[serde(default)]
    pub applies_to: Option<String>,
    #[serde(default)]
    pub provisioning_status: Option<String>,
}
