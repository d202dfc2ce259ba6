//! Microsoft's error answers, read into `GraphError`: Graph's `{"error": {code, message,
//! innerError}}` and the identity platform's `{"error", "error_description", "error_codes"}`
//! (graph-notes.md §1 and §4), with the `request-id` / `client-request-id` headers and
//! `Retry-After` (§5).

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::app::graph::{FailureKind, GraphError};
use crate::domain::microsoft365::GraphFailure;

/// Longest `Retry-After` honoured as given; a larger one is capped (a broken header must not park
/// a task for a day).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

pub(super) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = header(headers, "retry-after")?;
    let value = value.trim();
    let delay = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

fn kind_of(status: u16) -> FailureKind {
    match status {
        408 | 429 | 500 | 502 | 503 | 504 => FailureKind::Transient,
        _ => FailureKind::Permanent,
    }
}

/// A non-2xx Graph answer.
pub(super) fn graph_error(status: u16, headers: &HeaderMap, body: &Value, client_request_id: &str) -> GraphError {
    let error = &body["error"];
    let code = error["code"].as_str().filter(|c| !c.is_empty()).map_or_else(|| format!("HTTP_{status}"), str::to_owned);
    let message = error["message"].as_str().map_or_else(|| truncated(body), str::to_owned);
    let inner = if error["innerError"].is_object() { &error["innerError"] } else { &error["innererror"] };
    let request_id = header(headers, "request-id").or_else(|| inner["request-id"].as_str().map(str::to_owned));
    let conflict_target = error["details"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["code"].as_str().is_some_and(|c| c.eq_ignore_ascii_case("ObjectConflict")))
        .and_then(|d| d["target"].as_str())
        .map(str::to_owned);
    GraphError {
        failure: GraphFailure {
            status: Some(status),
            code,
            message,
            request_id,
            client_request_id: header(headers, "client-request-id").or_else(|| Some(client_request_id.to_owned())),
        },
        kind: kind_of(status),
        retry_after: retry_after(headers),
        conflict_target,
    }
}

/// A non-2xx answer of the token endpoint: `error` plus the AADSTS description.
pub(super) fn token_error(status: u16, headers: &HeaderMap, body: &Value, client_request_id: &str) -> GraphError {
    let code = body["error"].as_str().map_or_else(|| format!("HTTP_{status}"), str::to_owned);
    let message = body["error_description"].as_str().map_or_else(|| truncated(body), str::to_owned);
    let request_id = body["trace_id"].as_str().map(str::to_owned).or_else(|| header(headers, "x-ms-request-id"));
    GraphError {
        failure: GraphFailure {
            status: Some(status),
            code,
            message,
            request_id,
            client_request_id: body["correlation_id"].as_str().map(str::to_owned).or_else(|| Some(client_request_id.to_owned())),
        },
        kind: kind_of(status),
        retry_after: retry_after(headers),
        conflict_target: None,
    }
}

/// No answer: refused before sending (safe to repeat) or lost after sending (ambiguous).
pub(super) fn transport_error(error: reqwest::Error, client_request_id: &str) -> GraphError {
    let (kind, code) = if error.is_connect() {
        (FailureKind::Unreachable, "CONNECTION_FAILED")
    } else if error.is_timeout() {
        (FailureKind::Ambiguous, "TIMEOUT")
    } else {
        (FailureKind::Ambiguous, "CONNECTION_DROPPED")
    };
    // Without the URL: it can hold a user principal name.
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    GraphError {
        failure: GraphFailure {
            status: None,
            code: code.to_owned(),
            message,
            request_id: None,
            client_request_id: Some(client_request_id.to_owned()),
        },
        kind,
        retry_after: None,
        conflict_target: None,
    }
}

fn truncated(body: &Value) -> String {
    let text = match body {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderName, HeaderValue};
    use serde_json::json;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(HeaderName::from_static(k), HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn reads_graph_errors_with_conflict_targets_and_ids() {
        let body = json!({"error": {"code": "Request_BadRequest",
            "message": "Another object with the same value for property userPrincipalName already exists.",
            "details": [{"code": "ObjectConflict", "message": "…", "target": "userPrincipalName"}],
            "innerError": {"date": "2026-01-01T00:00:00", "request-id": "inner-id", "client-request-id": "c"}}});
        let e = graph_error(400, &headers(&[("request-id", "req-1")]), &body, "mine");
        assert_eq!(e.failure.code, "Request_BadRequest");
        assert_eq!(e.failure.request_id.as_deref(), Some("req-1"));
        assert_eq!(e.failure.client_request_id.as_deref(), Some("mine"));
        assert_eq!(e.conflict_target.as_deref(), Some("userPrincipalName"));
        assert_eq!(e.kind, FailureKind::Permanent);
        let e = graph_error(400, &HeaderMap::new(), &body, "mine");
        assert_eq!(e.failure.request_id.as_deref(), Some("inner-id"));
    }

    #[test]
    fn throttling_is_transient_and_retry_after_is_read() {
        let body = json!({"error": {"code": "TooManyRequests", "message": "slow down"}});
        let e = graph_error(429, &headers(&[("retry-after", "7")]), &body, "c");
        assert_eq!(e.kind, FailureKind::Transient);
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        let e = graph_error(503, &headers(&[("retry-after", "999999")]), &Value::Null, "c");
        assert_eq!(e.retry_after, Some(MAX_RETRY_AFTER));
        assert_eq!(e.failure.code, "HTTP_503");
    }

    #[test]
    fn reads_token_endpoint_errors() {
        let body = json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215], "trace_id": "t", "correlation_id": "c"});
        let e = token_error(401, &HeaderMap::new(), &body, "mine");
        assert_eq!(e.failure.code, "invalid_client");
        assert!(e.failure.message.starts_with("AADSTS7000215"));
        assert_eq!(e.failure.request_id.as_deref(), Some("t"));
        assert_eq!(e.kind, FailureKind::Permanent);
    }
}
