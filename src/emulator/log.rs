//! The request log: what the emulated Graph received and answered.
//!
//! Tests assert on Tessera's observable behaviour (which calls, in which order, with which
//! body) through this log. Secrets are redacted on the way in, because the log is served
//! over HTTP and may end up in demo output.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// One logged exchange.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogEntry {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub query: String,
    /// Request body as JSON (form fields as an object for the token endpoint), secrets
    /// redacted; `null` when empty, the raw text (truncated) when not JSON.
    pub body: Value,
    /// `null` when the connection was dropped without an answer.
    pub status: Option<u16>,
    pub duration_ms: u64,
    pub request_id: String,
    pub client_request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The injected fault that decided the answer, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// For requests inside a `$batch`: the batch's request-id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_request_id: Option<String>,
    /// For requests inside a `$batch`: the request's id in the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_item_id: Option<String>,
}

/// A bounded log: the oldest entries fall off so a load test cannot exhaust memory.
pub(crate) struct RequestLog {
    entries: VecDeque<LogEntry>,
    max: usize,
    next_seq: u64,
}

impl RequestLog {
    pub(crate) fn new(max: usize) -> Self {
        Self { entries: VecDeque::new(), max: max.max(1), next_seq: 1 }
    }

    pub(crate) fn push(&mut self, mut entry: LogEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        if self.entries.len() >= self.max {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Entries with `seq > since`, oldest first.
    pub(crate) fn since(&self, since: u64) -> Vec<LogEntry> {
        self.entries.iter().filter(|e| e.seq > since).cloned().collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

const SECRET_KEYS: &[&str] = &["password", "client_secret", "client_assertion"];

/// Replaces secret values (passwords, client secrets, assertions) anywhere in a body.
pub(crate) fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s)) && !v.is_null() {
                        (k, Value::from("[redacted]"))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// The logged form of a raw JSON body.
pub(crate) fn body_json(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .map_or_else(|_| Value::String(String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).into_owned()), redact)
}
