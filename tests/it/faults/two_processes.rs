//! Two `tessera serve` processes on one PostgreSQL share the outbox (`FOR UPDATE SKIP LOCKED`):
//! both do work, every task is done once, and all are done. PostgreSQL only: SQLite is the
//! single-process store (README, "Delivery guarantees").
//!
//! Faults here are answers only (429 with Retry-After, 503) and slowness, never lost
//! connections: then no repeat is ever legitimate, so a task done twice would show as a second
//! creation (or a UPN conflict) of its user, or as one more license assignment than its tasks
//! account for.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::kill::OUTBOX;
use super::support::{Api, assert_provisioned_once_in_order};
use crate::helpers::graph::Emulator;
use crate::helpers::{Backend, TestDns, fresh_database};

const USERS: usize = 300;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_processes_share_the_outbox_without_doing_a_task_twice() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(Backend::Postgres, dir.path()).await;
    let dns = TestDns::start().await;
    let emu = Emulator::start().await;
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = crate::helpers::process::serve(&database_url, dns.addr, port_a, OUTBOX);
    let mut b = crate::helpers::process::serve(&database_url, dns.addr, port_b, OUTBOX);
    let (api_a, api_b) = (Api::on_port(port_a), Api::on_port(port_b));
    api_a.ready().await;
    api_b.ready().await;
    let admin = api_a.connected_tenant(&dns, &emu).await;
    emu.faults(json!([
        {"kind": "throttle", "pathPrefix": "/v1.0/", "rate": 0.15, "retryAfterSeconds": 1},
        {"kind": "unavailable", "pathPrefix": "/v1.0/", "rate": 0.15},
        {"kind": "delay", "pathPrefix": "/v1.0/", "delayMs": 10},
    ]))
    .await;
    // Half the users through each process.
    let started = Instant::now();
    let (mut users, more) = tokio::join!(api_a.assigned_users(&admin, "a", USERS / 2), api_b.assigned_users(&admin, "b", USERS / 2));
    users.extend(more);
    let tasks = api_b.all_succeeded(&admin, USERS * 2, Duration::from_secs(90)).await;
    // Read while a server still runs (every task has its outcome event by now).
    let events = audit_counts(&api_a, &admin).await;
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
    eprintln!("{USERS} users through two processes in {:?}", started.elapsed());
    assert_provisioned_once_in_order(&emu, &users, &tasks).await;

    let log = emu.requests().await;
    // Each process keeps its own token cache: two token requests mean both pushed tasks.
    let tokens = log.iter().filter(|e| e["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token")).count();
    assert_eq!(tokens, 2, "both processes should have pushed tasks");
    // No create repeated, not even one refused as a conflict.
    let creates = log.iter().filter(|e| e["method"] == "POST" && e["path"] == "/v1.0/users" && e["fault"].is_null()).count();
    assert_eq!(creates, USERS, "every user created by one request");
    // License assignments that ran: one per GRANT_LICENSE task, plus one per PROVISION_USER
    // that granted the license itself ("…; 1 license(s) granted").
    let mut assigned: HashMap<String, usize> = HashMap::new();
    for e in log.iter().filter(|e| e["status"] == 200 && e["path"].as_str().unwrap().ends_with("/assignLicense")) {
        *assigned.entry(e["path"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    for task in tasks.iter().filter(|t| t["kind"] == "PROVISION_USER") {
        let path = format!("/v1.0/users/{}/assignLicense", task["graphObjectId"].as_str().unwrap());
        let in_provision = usize::from(task["detail"].as_str().unwrap().ends_with("; 1 license(s) granted"));
        assert_eq!(assigned.get(&path).copied().unwrap_or(0), 1 + in_provision, "{task}");
    }
    // One outcome event per attempt, and the transient answers are exactly the failed attempts.
    let transient = log.iter().filter(|e| e["path"].as_str().unwrap().starts_with("/v1.0/") && !e["fault"].is_null()).count();
    let attempts: i64 = tasks.iter().map(|t| t["attempts"].as_i64().unwrap()).sum();
    // At least: a run on 2 busy cores also sees a few failures nobody injected (a slow answer
    // past the client timeout), retried like any other; none of them repeated an effect (above).
    assert!(attempts as usize >= tasks.len() + transient, "attempts {attempts}: one success per task + one per 429/503");
    assert_eq!(events.get("ProvisioningTaskSucceeded").copied(), Some(tasks.len()), "one success event per task");
    assert_eq!(events.get("ProvisioningAttemptFailed").copied().unwrap_or(0) + tasks.len(), attempts as usize, "one event per attempt");
}

/// ProvisioningTask events by type, from the audit trail (all pages).
async fn audit_counts(api: &Api, key: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let data = api
            .ok(
                key,
                "query($a: String) { auditEvents(first: 100, after: $a, filter: { aggregateType: \"ProvisioningTask\" }) {
                    pageInfo { hasNextPage endCursor } nodes { eventType } } }",
                json!({"a": after}),
            )
            .await;
        let page = &data["auditEvents"];
        for node in page["nodes"].as_array().unwrap() {
            *counts.entry(node["eventType"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return counts;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}
