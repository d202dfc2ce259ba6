//! JSON batching: `POST /v1.0/$batch`.
//!
//! Follows graph-notes.md §3: at most 20 requests, unique ids, `Content-Type` required with
//! a body, `dependsOn` ordering with 424 for a failed dependency, and per-item status,
//! headers and body. Items run one after another through the ordinary dispatcher, each
//! rolled against the fault rules on its own (so one item can be throttled with 429).

use std::collections::HashMap;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Map, Value, json};

use super::errors::{GraphError, GraphResponse, GraphResult, RequestIds, finish};
use super::log::{LogEntry, body_json};
use super::request::{Call, Principal};
use super::router;
use super::state::{Shared, lock};

/// Microsoft's documented limit.
pub(crate) const MAX_REQUESTS: usize = 20;

pub(crate) const JSON_CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

struct Item {
    id: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    depends_on: Vec<String>,
}

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::odata(message)
}

fn parse(body: &[u8]) -> Result<Vec<Item>, GraphError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| GraphError::malformed_json())?;
    let requests = v
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Invalid batch payload format: a 'requests' array is required."))?;
    if requests.is_empty() {
        return Err(invalid("Invalid batch payload format: 'requests' is empty."));
    }
    if requests.len() > MAX_REQUESTS {
        return Err(invalid(format!(
            "The batch contains {} requests; JSON batch requests are currently limited to {MAX_REQUESTS} individual requests.",
            requests.len()
        )));
    }
    let mut items: Vec<Item> = Vec::new();
    for r in requests {
        let text = |name: &str| r.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
        let id = text("id").ok_or_else(|| invalid("Every batch request needs a string 'id'."))?;
        let method = text("method").ok_or_else(|| invalid(format!("Batch request id : {id} has no 'method'.")))?;
        let url = text("url").ok_or_else(|| invalid(format!("Batch request id : {id} has no 'url'.")))?;
        if items.iter().any(|i| i.id.eq_ignore_ascii_case(id)) {
            return Err(invalid(format!("Batch request id '{id}' is not unique.")));
        }
        let headers: Vec<(String, String)> = match r.get("headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(h)) => h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_owned())).collect(),
            Some(_) => {
                return Err(invalid(format!("Batch request id : {id} has invalid 'headers'.")));
            }
        };
        let body = match r.get("body") {
            None | Some(Value::Null) => Vec::new(),
            Some(b) => {
                if !headers.iter().any(|(k, _)| k == "content-type") {
                    return Err(invalid(format!("Write request id : {id} does not contain Content-Type header or body.")));
                }
                match b {
                    Value::String(s) => STANDARD
                        .decode(s)
                        .or_else(|_| URL_SAFE.decode(s))
                        .map_err(|_| invalid(format!("Batch request id : {id} has a body that is not base64.")))?,
                    other => serde_json::to_vec(other).unwrap_or_default(),
                }
            }
        };
        let depends_on = match r.get("dependsOn") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(d)) => d
                .iter()
                .map(|x| x.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid(format!("Batch request id : {id} has an invalid 'dependsOn'.")))?,
            Some(_) => {
                return Err(invalid(format!("Batch request id : {id} has an invalid 'dependsOn'.")));
            }
        };
        items.push(Item { id: id.to_owned(), method: method.to_ascii_uppercase(), url: url.to_owned(), headers, body, depends_on });
    }
    for item in &items {
        for dep in &item.depends_on {
            if dep.eq_ignore_ascii_case(&item.id) || !items.iter().any(|i| i.id.eq_ignore_ascii_case(dep)) {
                return Err(invalid(format!(
                    "Batch request id : {} depends on '{dep}', which is not another request of the batch.",
                    item.id
                )));
            }
        }
    }
    Ok(items)
}

/// Execution order: each request after its dependencies, otherwise in the given order.
fn order(items: &[Item]) -> Result<Vec<usize>, GraphError> {
    let mut done: Vec<usize> = Vec::new();
    while done.len() < items.len() {
        let next = (0..items.len())
            .find(|i| !done.contains(i) && items[*i].depends_on.iter().all(|d| done.iter().any(|j| items[*j].id.eq_ignore_ascii_case(d))));
        match next {
            Some(i) => done.push(i),
            None => {
                return Err(invalid("The dependsOn references of the batch form a cycle."));
            }
        }
    }
    Ok(done)
}

/// Runs a batch for an authenticated app and builds the `responses` document.
pub(crate) fn run(shared: &Shared, principal: &Principal, outer: &RequestIds, body: &[u8]) -> GraphResult {
    let items = parse(body)?;
    let mut results: HashMap<String, GraphResponse> = HashMap::new();
    for i in order(&items)? {
        let item = &items[i];
        let started = Instant::now();
        let now = shared.now();
        let ids = RequestIds { request_id: uuid::Uuid::new_v4().to_string(), client_request_id: outer.client_request_id.clone() };
        let (path, query) = item.url.split_once('?').unwrap_or((item.url.as_str(), ""));
        let path = format!("/{}", path.trim_start_matches('/'));
        let failed_dependency = item.depends_on.iter().any(|d| results.get(&d.to_ascii_lowercase()).is_none_or(|r| r.status >= 400));
        let mut fault = None;
        let response = if failed_dependency {
            GraphError::new(424, "FailedDependency", "The request depends on a request of the batch that failed.").into_response(&ids, now)
        } else {
            let decision = lock(&shared.faults).decide(&item.method, &format!("/v1.0{path}"));
            match decision.outcome.and_then(|o| o.graph_error().map(|e| (o, e))) {
                Some((outcome, error)) => {
                    fault = Some(outcome.name().to_owned());
                    error.into_response(&ids, now)
                }
                None => {
                    let call = Call {
                        method: &item.method,
                        path: &path,
                        query,
                        headers: &item.headers,
                        body: &item.body,
                        base: &shared.base_url,
                        now,
                    };
                    let result = router::dispatch(&mut lock(&shared.state), principal, &call);
                    finish(result, &ids, now)
                }
            }
        };
        lock(&shared.log).push(LogEntry {
            seq: 0,
            time: now,
            method: item.method.clone(),
            path: format!("/v1.0{path}"),
            query: query.to_owned(),
            body: body_json(&item.body),
            status: Some(response.status),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            request_id: ids.request_id,
            client_request_id: ids.client_request_id,
            tenant_id: Some(principal.tenant_id.clone()),
            client_id: Some(principal.client_id.clone()),
            fault,
            batch_request_id: Some(outer.request_id.clone()),
            batch_item_id: Some(item.id.clone()),
        });
        results.insert(item.id.to_ascii_lowercase(), response);
    }
    let responses: Vec<Value> = items
        .iter()
        .filter_map(|item| {
            let r = results.remove(&item.id.to_ascii_lowercase())?;
            let mut headers = Map::new();
            if r.body.is_some() {
                headers.insert("Content-Type".into(), Value::from(JSON_CONTENT_TYPE));
            }
            for (k, v) in r.headers {
                headers.insert(k, Value::from(v));
            }
            let mut out = Map::new();
            out.insert("id".into(), Value::from(item.id.clone()));
            out.insert("status".into(), Value::from(r.status));
            out.insert("headers".into(), Value::Object(headers));
            if let Some(body) = r.body {
                out.insert("body".into(), body);
            }
            Some(Value::Object(out))
        })
        .collect();
    Ok(GraphResponse::json(200, json!({ "responses": responses })))
}
