//! `tessera-load audit-read`: `auditEvents` page latency with filters, over a large history
//! (seeded by `seed-events`), one request at a time, following cursors like an auditor paging
//! through results.

use std::time::Instant;

use anyhow::bail;
use serde_json::{Value, json};

use crate::{Api, Samples};

const QUERY: &str = "query($t: ID!, $f: AuditEventFilter, $after: String) { auditEvents(tenantId: $t, filter: $f, first: 50, after: $after) { edges { node { position aggregateType aggregateId eventType occurredAt actor } } pageInfo { hasNextPage endCursor } } }";

/// One user's aggregate id and one correlation id from the tenant's history, to filter on.
async fn samples_of(api: &Api, key: &str, tenant: &str) -> anyhow::Result<(String, String)> {
    let filter = json!({ "eventTypes": ["UserCreated"] });
    let data = api.gql(key, QUERY, json!({ "t": tenant, "f": filter, "after": null })).await?;
    let node = &data["auditEvents"]["edges"][25]["node"];
    let Some(aggregate_id) = node["aggregateId"].as_str() else { bail!("the tenant has fewer than 26 users: seed it first") };
    let position = node["position"].as_i64().unwrap_or_default();
    let one = api
        .gql(
            key,
            "query($t: ID!, $p: Int!) { auditEvent(tenantId: $t, position: $p) { correlationId } }",
            json!({ "t": tenant, "p": position }),
        )
        .await?;
    let correlation = one["auditEvent"]["correlationId"].as_str().unwrap_or_default().to_owned();
    Ok((aggregate_id.to_owned(), correlation))
}

pub async fn run(api: &Api, key: &str, tenant: &str, requests: usize, pages: usize) -> anyhow::Result<Value> {
    let (aggregate_id, correlation) = samples_of(api, key, tenant).await?;
    let filters = [
        ("eventTypes=[LicenseGranted]", json!({ "eventTypes": ["LicenseGranted"] })),
        ("aggregateType=User,eventTypes=[UserProfileUpdated]", json!({ "aggregateType": "User", "eventTypes": ["UserProfileUpdated"] })),
        ("aggregateId=<one user>", json!({ "aggregateId": aggregate_id })),
        ("correlationId=<one request>", json!({ "correlationId": correlation })),
        ("none", json!({})),
    ];
    let mut all = Samples::default();
    let mut per_filter = serde_json::Map::new();
    for (name, filter) in filters {
        let mut samples = Samples::default();
        let mut after: Option<String> = None;
        let mut page = 0;
        for i in 0..requests + 20 {
            let started = Instant::now();
            let data = api.gql(key, QUERY, json!({ "t": tenant, "f": filter, "after": after })).await?;
            let took = started.elapsed();
            if data["auditEvents"]["edges"].as_array().is_none_or(Vec::is_empty) {
                bail!("filter {name} found no events");
            }
            // The first 20 requests warm caches and are not counted.
            if i >= 20 {
                samples.add(took);
            }
            page += 1;
            let more = data["auditEvents"]["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false);
            after = if more && page < pages { data["auditEvents"]["pageInfo"]["endCursor"].as_str().map(str::to_owned) } else { None };
            if after.is_none() {
                page = 0;
            }
        }
        per_filter.insert(name.to_owned(), samples.summary());
        all.merge(samples);
    }
    Ok(
        json!({ "benchmark": "audit-read", "tenant": tenant, "requests_per_filter": requests, "latency": all.summary(), "filters": per_filter }),
    )
}
