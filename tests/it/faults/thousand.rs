//! 1,000 users assigned and licensed against an emulator failing about 30 % of requests (429
//! with Retry-After, 503, connections dropped before or after the request ran): all end
//! provisioned exactly once, each created before its license.

use std::time::{Duration, Instant};

use super::support::{Api, assert_provisioned_once_in_order, injected, thirty_percent};
use crate::both_backends;
use crate::helpers::graph::Emulator;
use crate::helpers::{Backend, TestDns, fresh_database, settings};

both_backends!(a_thousand_users_under_thirty_percent_faults_are_provisioned_once_in_order);

pub const USERS: usize = 1_000;

async fn a_thousand_users_under_thirty_percent_faults_are_provisioned_once_in_order(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(backend, dir.path()).await;
    let dns = TestDns::start().await;
    let mut settings = settings(&database_url, dir.path().to_path_buf(), dns.addr);
    // Enough workers (and connections for them) that attempts waiting out a Retry-After or
    // their outcome's projection do not hold the rest back.
    settings.outbox_workers = 16;
    // One request per call, so every fault hits one task (faults on whole `$batch` requests are
    // the outbox tests', which run with batching on).
    settings.graph_batch = false;
    // Retries never run out on a saturated machine (timeouts pile up); exactly-once is what is tested.
    settings.outbox_max_attempts = 1_000;
    settings.db_max_connections = 24;
    settings.projection_poll_ms = 20;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let running = tessera::startup::build(&settings, listener, None).await.expect("start tessera");
    let api = Api::new(format!("http://127.0.0.1:{}", running.port));
    tokio::spawn(running.run_until_stopped());
    let emu = Emulator::start().await;
    let admin = api.connected_tenant(&dns, &emu).await;
    emu.faults(thirty_percent()).await;

    let started = Instant::now();
    let users = api.assigned_users(&admin, "user", USERS).await;
    let assigned = started.elapsed();
    let tasks = api.all_succeeded(&admin, USERS * 2, Duration::from_secs(90)).await;
    eprintln!("{USERS} users assigned in {assigned:?}, all provisioned after {:?}", started.elapsed());

    let log = emu.requests().await;
    let faults = injected(&log);
    let graph_requests = log.iter().filter(|e| e["path"].as_str().unwrap().starts_with("/v1.0/")).count();
    let graph_faults = log.iter().filter(|e| e["path"].as_str().unwrap().starts_with("/v1.0/") && !e["fault"].is_null()).count();
    eprintln!("{graph_requests} Graph requests, {graph_faults} failed by injection: {faults:?}");
    for kind in ["throttle", "unavailable", "drop", "lostAnswer"] {
        assert!(faults.get(kind).copied().unwrap_or(0) > 20, "too few {kind} faults: {faults:?}");
    }
    // The mix is near its 30 % (a loose bound: it is random, though seeded, and a fault on a
    // whole `$batch` request counts once while its items count as requests).
    assert!(graph_faults * 100 > graph_requests * 15 && graph_faults * 100 < graph_requests * 38, "{graph_faults} of {graph_requests}");
    assert!(tasks.iter().any(|t| t["attempts"].as_i64().unwrap() > 2), "the faults should have forced repeated retries");
    assert_provisioned_once_in_order(&emu, &users, &tasks).await;
}
