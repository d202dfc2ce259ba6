//! What the write side read lately, for its hot look-ups: an entry is trusted for `ttl`, and only
//! while the generation it was read under is current. A projection bumps its generation when it
//! commits a change in this process, which invalidates every entry at once; a change made through
//! another instance is seen here within `ttl`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on entries; emptied when full (the keys, tenants or a tenant's SKUs, are few).
const CAPACITY: usize = 10_000;

struct Entry<V> {
    value: V,
    generation: u64,
    read_at: Instant,
}

pub struct Recent<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    ttl: Duration,
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self { entries: Mutex::new(HashMap::new()), ttl }
    }

    /// The value, if read under `generation` (the current one) less than the TTL ago.
    pub fn get(&self, key: &K, generation: u64) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        (entry.generation == generation && entry.read_at.elapsed() < self.ttl).then(|| entry.value.clone())
    }

    /// Remembers a value read after `generation` was (a change projected meanwhile leaves the
    /// entry stale-marked).
    pub fn put(&self, key: K, value: V, generation: u64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(key, Entry { value, generation, read_at: Instant::now() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lives_until_the_generation_moves_or_the_ttl_passes() {
        let recent = Recent::new(Duration::from_millis(50));
        assert_eq!(recent.get(&"a", 0), None);
        recent.put("a", 1, 7);
        assert_eq!(recent.get(&"a", 7), Some(1));
        assert_eq!(recent.get(&"a", 8), None, "a projected change invalidates the entry");
        assert_eq!(recent.get(&"b", 7), None);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(recent.get(&"a", 7), None, "trusted for at most the TTL");
    }
}
