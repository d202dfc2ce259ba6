//! Microsoft 365 benchmarks against the Graph emulator (`tessera graph-emulator`):
//!
//! - `graph-setup`: a fresh tenant with N users created and assigned (usage location US, E3 by
//!   default) while Microsoft 365 is not connected, so nothing is pushed yet; and a fresh
//!   emulated Entra tenant (its own id) with the domain, an app registration and enough E3 units.
//! - `graph-export`: optionally sets fault rules, connects that tenant to the emulator (which
//!   queues its assigned users), runs `startExportUsers` (which follows them) and waits for its end: wall time, users (= PROVISION_USER tasks) per
//!   second, and from the emulator's request log the HTTP round trips (requests outside a
//!   `$batch` plus the `$batch` requests themselves) against the Graph requests they carried.
//!
//! The server's `TESSERA_GRAPH_BATCH` decides whether `$batch` is used; run-graph.sh restarts it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{Api, Dns, SKU, Tenant, text};

const CLIENT_SECRET: &str = "load~client~secret~0123456789";

async fn control(
    http: &reqwest::Client,
    emulator: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = http.request(method, format!("{}/_emulator{path}", emulator.trim_end_matches('/')));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("emulator {path}: {status} {text}");
    }
    Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text)? })
}

pub async fn setup(api: &Api, operator: &str, dns: &Dns, emulator: &str, users: u64, clients: usize) -> anyhow::Result<Value> {
    let tenant = Tenant::set_up(api, operator, dns).await?;
    api.gql(
        &tenant.admin_key,
        "mutation($s: String!) { setDefaultUsageLocation(usageLocation: \"US\") { id } setDefaultLicenses(skuIds: [$s]) { id } }",
        json!({"s": SKU}),
    )
    .await?;
    let entra = uuid::Uuid::new_v4().to_string();
    let client_id = uuid::Uuid::new_v4().to_string();
    let http = reqwest::Client::new();
    let seed = json!({
        "id": entra, "displayName": "Load", "initialDomain": format!("load{}.onmicrosoft.com", &entra[..8]),
        "domains": [{"name": tenant.domain}],
        "apps": [{"clientId": client_id, "clientSecret": CLIENT_SECRET,
                  "permissions": ["User.ReadWrite.All", "Domain.Read.All", "LicenseAssignment.ReadWrite.All", "Group.ReadWrite.All"]}],
        "skus": [{"skuId": SKU, "skuPartNumber": "ENTERPRISEPACK", "prepaidUnits": {"enabled": 1_000_000}}]
    });
    control(&http, emulator, reqwest::Method::POST, "/tenants", Some(seed)).await?;

    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (api, key, domain, next) = (api.clone(), tenant.admin_key.clone(), tenant.domain.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= users {
                    return anyhow::Ok(());
                }
                if n > 0 && n.is_multiple_of(2_000) {
                    eprintln!("set up {n} users in {:.0} s", started.elapsed().as_secs_f64());
                }
                let created = api
                    .gql(
                        &key,
                        "mutation($u: String!, $n: String!) { createUser(input: { userPrincipalName: $u, displayName: $n }) { id } }",
                        json!({"u": format!("export{n:06}@{domain}"), "n": format!("Export User {n}")}),
                    )
                    .await?;
                let id = text(&created, &["createUser", "id"])?.to_owned();
                api.gql(&key, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({"u": id})).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(json!({"benchmark": "graph-setup", "tenant": tenant.id, "admin_key": tenant.admin_key, "entra_tenant": entra,
              "client_id": client_id, "users": users, "seconds": started.elapsed().as_secs_f64()}))
}

pub struct Export<'a> {
    pub admin_key: &'a str,
    pub entra_tenant: &'a str,
    pub client_id: &'a str,
    pub emulator: &'a str,
    /// Share of `/v1.0/users…` requests (single or inside a `$batch`) answered 429.
    pub throttle: f64,
}

pub async fn export(api: &Api, run: &Export<'_>) -> anyhow::Result<Value> {
    let http = reqwest::Client::new();
    let input = json!({"entraTenantId": run.entra_tenant, "clientId": run.client_id, "clientSecret": CLIENT_SECRET,
                       "loginBaseUrl": run.emulator, "graphBaseUrl": run.emulator});
    let rules = if run.throttle > 0.0 {
        json!([{"kind": "throttle", "pathPrefix": "/v1.0/users", "rate": run.throttle, "retryAfterSeconds": 1}])
    } else {
        json!([])
    };
    control(&http, run.emulator, reqwest::Method::PUT, "/faults", Some(json!({"seed": 42, "rules": rules}))).await?;
    control(&http, run.emulator, reqwest::Method::DELETE, "/requests", None).await?;

    // Connecting already queues a PROVISION_USER per assigned user (the outbox's backfill); the
    // export job then follows those tasks to their end, so the clock starts before connecting.
    let started = Instant::now();
    api.gql(run.admin_key, "mutation($i: ConnectMicrosoft365Input!) { connectMicrosoft365(input: $i) { clientId } }", json!({"i": input}))
        .await
        .context("connectMicrosoft365")?;
    let job = api.gql(run.admin_key, "mutation { startExportUsers { id } }", json!({})).await?;
    let id = text(&job, &["startExportUsers", "id"])?.to_owned();
    let job = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let data = api
            .gql(run.admin_key, "query($id: ID!) { job(id: $id) { status total done created matched failed error } }", json!({"id": id}))
            .await?;
        if data["job"]["status"] != "RUNNING" {
            break data["job"].clone();
        }
        if started.elapsed() > Duration::from_secs(3_600) {
            bail!("the export did not end within an hour: {data}");
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    control(&http, run.emulator, reqwest::Method::PUT, "/faults", Some(json!({"rules": []}))).await?;
    let log = control(&http, run.emulator, reqwest::Method::GET, "/requests", None).await?;
    let entries = log["value"].as_array().cloned().unwrap_or_default();
    let round_trips = entries.iter().filter(|e| e["batchRequestId"].is_null()).count();
    let batches = entries.iter().filter(|e| e["path"] == "/v1.0/$batch").count();
    let graph_requests = entries.iter().filter(|e| e["path"] != "/v1.0/$batch").count();
    let throttled = entries.iter().filter(|e| e["status"] == 429).count();
    let tasks = job["total"].as_f64().unwrap_or(0.0);
    Ok(json!({
        "benchmark": "graph-export", "job": job, "seconds": seconds, "tasks_per_second": tasks / seconds,
        "round_trips": round_trips, "batches": batches, "graph_requests": graph_requests, "throttled": throttled,
        "log_entries": entries.len(), "throttle_rate": run.throttle,
    }))
}
