//! Graph's error body and the transport-free response type.
//!
//! All failures are built here so every one carries Microsoft's shape
//! (`{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`,
//! graph-notes.md §4) and the codes Tessera's Graph client branches on.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The correlation ids of one exchange: Graph's `request-id` and the caller's
/// `client-request-id` (echoed when sent, otherwise equal to the request id).
#[derive(Debug, Clone)]
pub(crate) struct RequestIds {
    pub request_id: String,
    pub client_request_id: String,
}

impl RequestIds {
    /// New ids, echoing a caller-supplied `client-request-id` when it is a sane token.
    pub(crate) fn new(client: Option<&str>) -> Self {
        let request_id = uuid::Uuid::new_v4().to_string();
        let client_request_id = client
            .filter(|c| !c.is_empty() && c.len() <= 200 && c.bytes().all(|b| b.is_ascii_graphic()))
            .map_or_else(|| request_id.clone(), str::to_owned);
        Self { request_id, client_request_id }
    }
}

/// An answer of the emulated Graph, before it becomes HTTP (or a `$batch` item).
#[derive(Debug, Clone)]
pub(crate) struct GraphResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl GraphResponse {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self { status, headers: Vec::new(), body: Some(body) }
    }

    pub(crate) fn no_content() -> Self {
        Self { status: 204, headers: Vec::new(), body: None }
    }
}

/// A Graph failure: status, stable code and developer message.
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<Value>,
    pub retry_after: Option<u32>,
}

pub(crate) type GraphResult = Result<GraphResponse, GraphError>;

impl GraphError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Vec::new(), retry_after: None }
    }

    /// Directory-side validation failure (`Request_BadRequest`).
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "Request_BadRequest", message)
    }

    /// OData protocol-level failure (URL, query options, JSON syntax): code `BadRequest`.
    pub(crate) fn odata(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub(crate) fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(400, "Request_UnsupportedQuery", message)
    }

    pub(crate) fn not_found(id: &str) -> Self {
        Self::new(
            404,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    }

    pub(crate) fn forbidden() -> Self {
        Self::new(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    }

    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(401, "InvalidAuthenticationToken", message)
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
    }

    pub(crate) fn malformed_json() -> Self {
        Self::odata("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
    }

    /// A required property is absent, null or empty.
    pub(crate) fn required(property: &str) -> Self {
        Self::bad_request(format!("Property {property} value is required but is empty or missing."))
    }

    /// A property value that does not fit the property.
    pub(crate) fn invalid_value(property: &str, resource: &str) -> Self {
        Self::bad_request(format!("Invalid value specified for property '{property}' of resource '{resource}'."))
    }

    pub(crate) fn read_only(property: &str) -> Self {
        Self::bad_request(format!("Property '{property}' is read-only and cannot be set."))
    }

    /// Uniqueness violation, shaped like Graph's duplicate-UPN answer (graph-notes.md §4).
    pub(crate) fn conflict(property: &str) -> Self {
        let message = format!("Another object with the same value for property {property} already exists.");
        let mut e = Self::bad_request(message.clone());
        e.details = vec![json!({
            "code": "ObjectConflict",
            "message": message,
            "target": property,
        })];
        e
    }

    /// Renders the error as a response carrying the exchange's ids.
    pub(crate) fn into_response(self, ids: &RequestIds, now: DateTime<Utc>) -> GraphResponse {
        let mut error = Map::new();
        error.insert("code".into(), Value::from(self.code));
        error.insert("message".into(), Value::from(self.message));
        if !self.details.is_empty() {
            error.insert("details".into(), Value::Array(self.details));
        }
        error.insert(
            "innerError".into(),
            json!({
                "date": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": ids.request_id,
                "client-request-id": ids.client_request_id,
            }),
        );
        let mut headers = Vec::new();
        if let Some(secs) = self.retry_after {
            headers.push(("Retry-After".to_owned(), secs.to_string()));
        }
        if self.status == 401 {
            headers.push((
                "WWW-Authenticate".to_owned(),
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"".to_owned(),
            ));
        }
        GraphResponse { status: self.status, headers, body: Some(json!({ "error": Value::Object(error) })) }
    }
}

/// Turns a handler result into a response, rendering errors with the exchange's ids.
pub(crate) fn finish(result: GraphResult, ids: &RequestIds, now: DateTime<Utc>) -> GraphResponse {
    result.unwrap_or_else(|e| e.into_response(ids, now))
}
