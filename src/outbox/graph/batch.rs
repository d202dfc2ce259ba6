//! JSON batching (graph-notes.md §3): up to 20 independent requests in one `POST /$batch`, each
//! answered with its own status, headers and body. A throttled item (429/503 with its own
//! `Retry-After`) is that item's error only; the batch as a whole failing is every item's.

// Results carry Graph errors, which hold Microsoft's whole answer (as every call's do).
#![allow(clippy::result_large_err)]

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::errors;
use crate::app::graph::{FailureKind, GraphError, GraphRequest, GraphResponse, Method};

/// Microsoft's limit per batch.
pub const MAX_BATCH: usize = 20;

/// An item's `url`: relative to the version root, query included (a next-page link's path
/// already carries its query).
fn relative_url(request: &GraphRequest) -> String {
    if request.query.is_empty() {
        return request.path.clone();
    }
    let query = serde_urlencoded::to_string(&request.query).unwrap_or_default();
    let separator = if request.path.contains('?') { '&' } else { '?' };
    format!("{}{separator}{query}", request.path)
}

/// The `$batch` request for `requests`; item ids are their indexes.
pub fn envelope(requests: &[GraphRequest]) -> GraphRequest {
    let items: Vec<Value> = requests
        .iter()
        .enumerate()
        .map(|(index, request)| {
            let mut item = json!({"id": index.to_string(), "method": request.method.as_str(), "url": relative_url(request)});
            if let Some(body) = &request.body {
                item["headers"] = json!({"Content-Type": "application/json"});
                item["body"] = body.clone();
            }
            item
        })
        .collect();
    GraphRequest::new(Method::Post, "/$batch").json(json!({ "requests": items }))
}

fn headers_of(item: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in item["headers"].as_object().into_iter().flatten() {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()), HeaderValue::from_str(&text)) {
            map.insert(name, value);
        }
    }
    map
}

/// Splits a `$batch` answer into one result per request, in request order.
pub fn split(count: usize, answer: &GraphResponse) -> Vec<Result<GraphResponse, GraphError>> {
    let mut results: Vec<Option<Result<GraphResponse, GraphError>>> = (0..count).map(|_| None).collect();
    let batch_request_id = answer.request_id.clone().unwrap_or_default();
    for item in answer.body["responses"].as_array().into_iter().flatten() {
        let Some(index) = item["id"].as_str().and_then(|id| id.parse::<usize>().ok()).filter(|i| *i < count) else { continue };
        let status = item["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(500);
        let headers = headers_of(item);
        let body = item.get("body").cloned().unwrap_or(Value::Null);
        results[index] = Some(if (200..300).contains(&status) {
            let request_id =
                errors::header(&headers, "request-id").or_else(|| body["innerError"]["request-id"].as_str().map(str::to_owned));
            Ok(GraphResponse { status, body, request_id })
        } else {
            Err(errors::graph_error(status, &headers, &body, &batch_request_id))
        });
    }
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| {
                // Graph answered the batch without this item: it may or may not have run.
                let mut error = GraphError::local("BATCH_ITEM_MISSING", "the $batch answer has no response for this request");
                error.kind = FailureKind::Ambiguous;
                Err(error)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_carry_relative_urls_bodies_and_content_types() {
        let requests = vec![
            GraphRequest::new(Method::Get, "/users/a%40contoso.com").query("$select", "id,userPrincipalName"),
            GraphRequest::new(Method::Patch, "/users/1").json(json!({"accountEnabled": false})),
        ];
        let batch = envelope(&requests);
        assert_eq!(batch.path, "/$batch");
        let body = batch.body.unwrap();
        assert_eq!(body["requests"][0]["url"], "/users/a%40contoso.com?%24select=id%2CuserPrincipalName");
        assert!(body["requests"][0].get("body").is_none());
        assert_eq!(body["requests"][1]["headers"]["Content-Type"], "application/json");
        assert_eq!(body["requests"][1]["body"]["accountEnabled"], false);
    }

    #[test]
    fn splits_answers_by_id_with_per_item_throttling() {
        let answer = GraphResponse {
            status: 200,
            request_id: Some("outer".into()),
            body: json!({"responses": [
                {"id": "1", "status": 429, "headers": {"Retry-After": "3"},
                 "body": {"error": {"code": "TooManyRequests", "message": "slow down"}}},
                {"id": "0", "status": 204, "headers": {}}
            ]}),
        };
        let results = split(3, &answer);
        assert_eq!(results[0].as_ref().unwrap().status, 204);
        let throttled = results[1].as_ref().unwrap_err();
        assert_eq!(throttled.status(), Some(429));
        assert_eq!(throttled.retry_after, Some(std::time::Duration::from_secs(3)));
        assert_eq!(throttled.kind, FailureKind::Transient);
        assert_eq!(results[2].as_ref().unwrap_err().kind, FailureKind::Ambiguous);
    }
}
