//! Recently authenticated API keys, so a busy client does not cost a database read per request.
//! Only accepted keys are kept, for a few seconds: revoking a key evicts it at once in the
//! instance that revoked it, and other instances notice within `TTL` (README, "API keys").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Principal;
use crate::domain::values::ApiKeyId;

/// How long another instance may still accept a key after its revocation.
pub const TTL: Duration = Duration::from_secs(5);
/// Bound on entries; the cache is simply emptied when full (keys are few, clients reuse them).
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct PrincipalCache(Mutex<HashMap<String, (Principal, Instant)>>);

impl PrincipalCache {
    pub fn get(&self, secret_hash: &str) -> Option<Principal> {
        let entries = self.0.lock().ok()?;
        let (principal, at) = entries.get(secret_hash)?;
        (at.elapsed() < TTL).then(|| principal.clone())
    }

    pub fn put(&self, secret_hash: String, principal: Principal) {
        if let Ok(mut entries) = self.0.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(secret_hash, (principal, Instant::now()));
        }
    }

    pub fn evict(&self, key_id: ApiKeyId) {
        if let Ok(mut entries) = self.0.lock() {
            entries.retain(|_, (principal, _)| principal.key_id != key_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::api_key::Role;

    fn principal(key_id: ApiKeyId) -> Principal {
        Principal { key_id, name: "ops".into(), role: Role::Operator, tenant_id: None }
    }

    #[test]
    fn a_cached_key_is_returned_until_evicted() {
        let cache = PrincipalCache::default();
        let key_id = ApiKeyId::new();
        assert!(cache.get("h").is_none());
        cache.put("h".into(), principal(key_id));
        assert_eq!(cache.get("h").map(|p| p.key_id), Some(key_id));
        cache.evict(ApiKeyId::new());
        assert!(cache.get("h").is_some());
        cache.evict(key_id);
        assert!(cache.get("h").is_none());
    }
}
