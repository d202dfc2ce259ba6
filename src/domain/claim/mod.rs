//! Write-side uniqueness: an aggregate keyed by the unique value itself (a UPN within a tenant,
//! a verified domain across tenants, the one-time operator bootstrap). The event store's
//! optimistic concurrency on that key lets exactly one claimant win a race.

mod aggregate;

pub use aggregate::{ClaimCommand, ClaimEvent, UniqueClaim};

/// The claim key for a UPN, unique per tenant and case-insensitive: named by the UPN's
/// pseudonym (a keyed hash of the lower-case UPN), so the key, which is an aggregate id and
/// stays in the history for good, does not spell out who the user was.
pub fn upn_key(tenant_id: &crate::domain::values::TenantId, upn: &crate::domain::values::Pseudonym) -> String {
    format!("upn:{tenant_id}:{upn}")
}

/// The claim key releases before personal-data pseudonyms used: the UPN in clear. Still read,
/// so a UPN claimed then stays unique.
pub fn legacy_upn_key(tenant_id: &crate::domain::values::TenantId, upn: &crate::domain::values::Upn) -> String {
    format!("upn:{tenant_id}:{upn}")
}

/// The claim key for a verified domain, unique across all tenants.
pub fn domain_key(name: &crate::domain::values::DomainName) -> String {
    format!("domain:{name}")
}

/// The claim key that makes the first operator key a one-time event.
pub const OPERATOR_BOOTSTRAP_KEY: &str = "bootstrap:operator";
