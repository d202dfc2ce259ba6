//! One Graph call, independent of HTTP, and the app that makes it.
//!
//! Top-level requests and the items of a `$batch` both become a [`Call`], so they go
//! through exactly the same routing, permission checks and handlers.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::errors::GraphError;
use super::odata::{self, Allowed, Query};
use super::schema::TypeSpec;

/// The caller, as proven by its access token.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub tenant_id: String,
    pub client_id: String,
    pub roles: Vec<String>,
}

/// A Graph request below `/v1.0`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub method: &'a str,
    /// Raw (still percent-encoded) path below `/v1.0`, e.g. `/users/a%40b.com`.
    pub path: &'a str,
    /// Raw query string, without `?`.
    pub query: &'a str,
    /// Header names in lower case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// Public base URL of the emulator (for `@odata.context` and next links).
    pub base: &'a str,
    pub now: DateTime<Utc>,
}

impl Call<'_> {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the caller opted into advanced queries (`ConsistencyLevel: eventual`).
    pub(crate) fn eventual(&self) -> bool {
        self.header("consistencylevel").is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
    }

    /// The body as a JSON object; anything else is Graph's malformed-payload 400.
    pub(crate) fn object(&self) -> Result<Map<String, Value>, GraphError> {
        match serde_json::from_slice::<Value>(self.body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(GraphError::malformed_json()),
        }
    }

    pub(crate) fn options(&self, specs: &[&'static TypeSpec], allowed: Allowed) -> Result<Query, GraphError> {
        odata::parse(self.query, specs, allowed, self.eventual())
    }
}

/// Graph's timestamp format (`2025-02-13T10:17:06Z`).
pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
