use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::values::TenantId;

/// What every event records beside its payload. Stored in the event's metadata column (and so
/// covered by the audit hash chain); the tenant is also lifted into its own column for indexes
/// and row-level security.
///
/// The client's IP address and user agent are personal data with a short retention, while
/// events are kept forever and hashed into the audit chain: they are therefore NOT here. They
/// live in `request_origins`, keyed by `(tenant_id, request_id)`, which can be purged without
/// breaking the chain (see README, "The audit trail").
#[derive(Debug, Clone)]
pub struct EventMetadata {
    pub tenant_id: Option<TenantId>,
    /// `api-key:<id>`, `system:<worker>`, later `user:<id>`.
    pub actor: String,
    pub actor_role: Option<String>,
    pub correlation_id: String,
    /// What caused this event: `request:<request id>` for an API call, `event:<position>` for a
    /// worker reacting to an event, absent for start-up work.
    pub causation_id: Option<String>,
    /// The HTTP request that issued the command (one per request, unlike the correlation id,
    /// which a caller may reuse across requests).
    pub request_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl EventMetadata {
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::with_capacity(7);
        if let Some(tenant_id) = &self.tenant_id {
            map.insert("tenant_id".to_owned(), tenant_id.to_string());
        }
        map.insert("actor".to_owned(), self.actor.clone());
        if let Some(role) = &self.actor_role {
            map.insert("actor_role".to_owned(), role.clone());
        }
        map.insert("correlation_id".to_owned(), self.correlation_id.clone());
        if let Some(causation_id) = &self.causation_id {
            map.insert("causation_id".to_owned(), causation_id.clone());
        }
        if let Some(request_id) = &self.request_id {
            map.insert("request_id".to_owned(), request_id.clone());
        }
        map.insert("occurred_at".to_owned(), self.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true));
        map
    }
}

/// Where the request that issued a command came from, for `request_origins` (one row per
/// request and tenant; never in the events, see `EventMetadata`).
#[derive(Debug, Clone)]
pub struct RequestOrigin {
    /// The tenant's id, or '' for a command outside any tenant.
    pub tenant_id: String,
    pub request_id: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub recorded_at: DateTime<Utc>,
}
