//! The tenant as the sign-in endpoints need it (active or not, reply URLs, MFA policy, token
//! lifetime), folded from its events at most once a second per tenant and process. Every page of
//! a sign-in needs it; reading the tenant's history for each was a round trip and a fold per
//! request. Within this process a projected tenant event invalidates the entry at once
//! (`projections::tenants::generation`); a change made through another instance (a suspension,
//! a new reply URL) is seen here within `TTL` (README, "Sign-in").

use std::sync::Arc;
use std::time::Duration;

use crate::app::recent::Recent;
use crate::domain::tenant::Tenant;
use crate::domain::values::TenantId;

/// How long a tenant's state is trusted without a tenant event projected in this process.
pub const TTL: Duration = Duration::from_secs(1);

pub struct TenantStates(Recent<TenantId, Arc<Tenant>>);

impl Default for TenantStates {
    fn default() -> Self {
        Self(Recent::new(TTL))
    }
}

impl TenantStates {
    /// The cached state, if read under `generation` (the current one) less than `TTL` ago.
    pub fn get(&self, tenant_id: TenantId, generation: u64) -> Option<Arc<Tenant>> {
        self.0.get(&tenant_id, generation)
    }

    /// Remembers a state folded after `generation` was read. Only tenants that exist: unknown
    /// ids cost a read each.
    pub fn put(&self, tenant_id: TenantId, tenant: Arc<Tenant>, generation: u64) {
        if tenant.exists() {
            self.0.put(tenant_id, tenant, generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenant::TenantEvent;
    use crate::domain::values::DisplayName;
    use cqrs_es::Aggregate;

    fn existing() -> Arc<Tenant> {
        let mut tenant = Tenant::default();
        tenant.apply(TenantEvent::TenantCreated { tenant_id: TenantId::new(), name: DisplayName::parse("name", "Contoso").unwrap() });
        Arc::new(tenant)
    }

    #[test]
    fn an_entry_lives_until_the_generation_moves_or_the_ttl_passes() {
        let states = TenantStates::default();
        let id = TenantId::new();
        assert!(states.get(id, 0).is_none());
        states.put(id, existing(), 7);
        assert!(states.get(id, 7).is_some());
        assert!(states.get(id, 8).is_none(), "a projected tenant event invalidates the entry");
        assert!(states.get(TenantId::new(), 7).is_none());
        // Unknown tenants are not kept.
        let unknown = TenantId::new();
        states.put(unknown, Arc::new(Tenant::default()), 7);
        assert!(states.get(unknown, 7).is_none());
        std::thread::sleep(TTL);
        assert!(states.get(id, 7).is_none(), "trusted for at most the TTL");
    }
}
