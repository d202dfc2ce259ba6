use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::values::TenantId;

/// What every event records beside its payload. Stored in the event's metadata column; the
/// tenant is also lifted into its own column for indexes and row-level security.
#[derive(Debug, Clone)]
pub struct EventMetadata {
    pub tenant_id: Option<TenantId>,
    /// `api-key:<id>`, `system:<worker>`, later `user:<id>`.
    pub actor: String,
    pub actor_role: Option<String>,
    pub correlation_id: String,
    pub occurred_at: DateTime<Utc>,
}

impl EventMetadata {
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::with_capacity(5);
        if let Some(tenant_id) = &self.tenant_id {
            map.insert("tenant_id".to_owned(), tenant_id.to_string());
        }
        map.insert("actor".to_owned(), self.actor.clone());
        if let Some(role) = &self.actor_role {
            map.insert("actor_role".to_owned(), role.clone());
        }
        map.insert("correlation_id".to_owned(), self.correlation_id.clone());
        map.insert("occurred_at".to_owned(), self.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true));
        map
    }
}
