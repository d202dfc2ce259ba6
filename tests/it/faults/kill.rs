//! The thousand-user run under 30 % faults with the server process SIGKILLed mid-run and
//! restarted: tasks in the dead process's hands come back when their lease ends, a create whose
//! answer was lost (or that ran just before the kill) is looked up before it is repeated, and
//! every user still ends provisioned exactly once, in order.

use std::time::{Duration, Instant};

use serde_json::json;

use super::support::{Api, assert_provisioned_once_in_order, thirty_percent};
use super::thousand::USERS;
use crate::both_backends;
use crate::helpers::graph::Emulator;
use crate::helpers::{Backend, TestDns, fresh_database};

both_backends!(a_thousand_users_under_faults_survive_a_sigkill_of_the_server);

/// Short backoff and lease so the run stays short; the kill finds leases in hand.
pub const OUTBOX: &[(&str, &str)] = &[
    ("TESSERA_OUTBOX_WORKERS", "16"),
    ("TESSERA_DB_MAX_CONNECTIONS", "24"),
    ("TESSERA_PROJECTION_POLL_MS", "20"),
    ("TESSERA_OUTBOX_POLL_MS", "50"),
    ("TESSERA_OUTBOX_LEASE_SECONDS", "5"),
    // Retries never run out on a saturated machine (timeouts pile up); exactly-once is what is tested.
    ("TESSERA_OUTBOX_MAX_ATTEMPTS", "1000"),
    ("TESSERA_OUTBOX_BACKOFF_BASE_MS", "50"),
    ("TESSERA_OUTBOX_BACKOFF_MAX_MS", "2000"),
    // One request per call, as in the thousand-user test: inside a `$batch` every item meets the
    // fault rate twice (the batch's and its own), and a provisioning attempt after a failure makes
    // four calls (two lookups, create or adopt, license), so an attempt succeeded about one time
    // in seventeen and the run took over ten minutes on a busy machine. Faults on whole batches
    // are covered by the outbox tests, which run with `$batch` on.
    ("TESSERA_GRAPH_BATCH", "false"),
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn a_thousand_users_under_faults_survive_a_sigkill_of_the_server(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(backend, dir.path()).await;
    let dns = TestDns::start().await;
    let emu = Emulator::start().await;
    let port = free_port();
    let api = Api::on_port(port);
    let mut process = crate::helpers::process::serve(&database_url, dns.addr, port, OUTBOX);
    api.ready().await;
    let admin = api.connected_tenant(&dns, &emu).await;
    // Microsoft 365 answers nothing but 503 while the users are assigned, so the work is still
    // ahead when the faults turn to the thirty per cent mix (otherwise most of it is done before
    // the assignments end, and the kill finds nothing in hand).
    emu.faults(json!([{"kind": "unavailable", "pathPrefix": "/v1.0/", "rate": 1.0}])).await;
    let users = api.assigned_users(&admin, "k", USERS).await;
    emu.faults(thirty_percent()).await;

    // SIGKILL once some, not most, of the users exist in Microsoft 365 (the emulator's count is
    // cheap to read, where paging through Tessera's 2,000 tasks is not).
    let started = Instant::now();
    loop {
        let created = emu.users().await.len();
        if created >= USERS / 5 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "only {created} users created before the kill");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    process.kill().unwrap(); // SIGKILL on Unix
    process.wait().unwrap();
    let created_at_kill = emu.users().await.len();
    assert!(created_at_kill < USERS * 9 / 10, "{created_at_kill} users created before the kill: too late to test anything");
    let killed_at = emu.requests().await.last().map(|e| e["seq"].as_u64().unwrap()).unwrap_or(0);

    let mut process = crate::helpers::process::serve(&database_url, dns.addr, port, OUTBOX);
    // A new client: the old one's pooled keep-alive connections died with the killed process.
    let api = Api::on_port(port);
    api.ready().await;
    let tasks = api.all_succeeded(&admin, USERS * 2, Duration::from_secs(90)).await;
    process.kill().unwrap();
    process.wait().unwrap();
    eprintln!(
        "{created_at_kill} of {USERS} users created at the kill; all tasks done {:?} after the users were assigned",
        started.elapsed()
    );
    let after = emu.requests().await.iter().filter(|e| e["seq"].as_u64().unwrap() > killed_at).count();
    assert!(after > 0, "the restarted server did the rest");
    assert_provisioned_once_in_order(&emu, &users, &tasks).await;
}
