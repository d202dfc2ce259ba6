//! GraphQL types of the auditor API: events with their metadata and chain links.

use async_graphql::{InputObject, Json, Object};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::read::audit::{AuditEventRow, AuditFilter};

/// Fields that hold a secret's verifier or ciphertext: never served by the API.
const SECRET_FIELDS: [&str; 4] = ["secret_hash", "password_hash", "sealed_client_secret", "sealed_private_key"];

fn redacted(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if SECRET_FIELDS.contains(&k.as_str()) { Value::String("<redacted>".into()) } else { redacted(v) };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

/// One event of the tenant's history, as recorded.
pub struct AuditEvent(pub AuditEventRow);

#[Object]
impl AuditEvent {
    /// Global, commit-ordered position (the cursor of `auditEvents`).
    async fn position(&self) -> i64 {
        self.0.position
    }
    async fn aggregate_type(&self) -> &str {
        &self.0.aggregate_type
    }
    async fn aggregate_id(&self) -> &str {
        &self.0.aggregate_id
    }
    /// The aggregate's version after this event.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// The payload's schema version.
    async fn event_version(&self) -> &str {
        &self.0.event_version
    }
    async fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.0.meta("occurred_at").and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
    }
    /// `api-key:<id>`, `system:<worker>` or `user:<id>`.
    async fn actor(&self) -> Option<&str> {
        self.0.meta("actor")
    }
    async fn actor_role(&self) -> Option<&str> {
        self.0.meta("actor_role")
    }
    async fn correlation_id(&self) -> Option<&str> {
        self.0.meta("correlation_id")
    }
    async fn causation_id(&self) -> Option<&str> {
        self.0.meta("causation_id")
    }
    async fn request_id(&self) -> Option<&str> {
        self.0.meta("request_id")
    }
    /// The payload (JSON), with secrets' verifiers and ciphertexts (`secret_hash`,
    /// `password_hash`) replaced by `"<redacted>"`, and personal values opened: `{"personal": …}`,
    /// or `{"forgotten": true}` once their subject was forgotten. The export keeps the exact
    /// bytes the chain hashes, where personal values are sealed.
    async fn payload(&self) -> Json<Value> {
        Json(redacted(&self.0.payload))
    }
    /// The payload decoded into its typed form (old shapes upcast); null if it cannot be.
    async fn typed_payload(&self) -> Option<super::payload::AuditPayload> {
        super::payload::typed(&self.0)
    }
    /// All metadata as stored (JSON).
    async fn metadata(&self) -> Json<Value> {
        Json(self.0.metadata.clone())
    }
    /// The event's link in the tenant's SHA-256 hash chain (hex), once chained.
    async fn chain_hash(&self) -> Option<&str> {
        self.0.chain_hash.as_deref()
    }
}

/// Filters of `auditEvents`; all optional, combined with AND.
#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub actor: Option<String>,
    pub correlation_id: Option<String>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub to: Option<DateTime<Utc>>,
}

impl AuditEventFilter {
    pub fn into_filter(self) -> AuditFilter {
        AuditFilter {
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            event_types: self.event_types.unwrap_or_default(),
            actor: self.actor,
            correlation_id: self.correlation_id,
            from: self.from,
            to: self.to,
            up_to_position: None,
        }
    }
}

/// One line of a timeline.
pub struct HistoryEntry(pub crate::audit::history::HistoryEntry);

#[Object]
impl HistoryEntry {
    async fn position(&self) -> i64 {
        self.0.position
    }
    async fn at(&self) -> Option<DateTime<Utc>> {
        self.0.at
    }
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// Who did it, named ("admin key 'ops-2'").
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// The whole line: "license ENTERPRISEPACK granted by admin key 'ops-2' at 2026-…".
    async fn text(&self) -> &str {
        &self.0.text
    }
}
