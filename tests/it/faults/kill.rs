//! The thousand-user run under 30 % faults with the server process SIGKILLed mid-run and
//! restarted: tasks in the dead process's hands come back when their lease ends, a create whose
//! answer was lost (or that ran just before the kill) is looked up before it is repeated, and
//! every user still ends provisioned exactly once, in order.

use std::time::{Duration, Instant};

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
    emu.faults(thirty_percent()).await;
    let users = api.assigned_users(&admin, "k", USERS).await;

    // SIGKILL once some, not most, of the work is done.
    let started = Instant::now();
    let done_at_kill = loop {
        let done = api.tasks(&admin).await.iter().filter(|t| t["status"] == "SUCCEEDED").count();
        if done >= USERS * 2 / 10 {
            break done;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "only {done} tasks done before the kill");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    process.kill().unwrap(); // SIGKILL on Unix
    process.wait().unwrap();
    assert!(done_at_kill < USERS * 2 * 9 / 10, "{done_at_kill} tasks done before the kill: too late to test anything");
    let killed_at = emu.requests().await.last().map(|e| e["seq"].as_u64().unwrap()).unwrap_or(0);

    let mut process = crate::helpers::process::serve(&database_url, dns.addr, port, OUTBOX);
    // A new client: the old one's pooled keep-alive connections died with the killed process.
    let api = Api::on_port(port);
    api.ready().await;
    let tasks = api.all_succeeded(&admin, USERS * 2, Duration::from_secs(90)).await;
    process.kill().unwrap();
    process.wait().unwrap();
    eprintln!("{done_at_kill} of {} tasks done at the kill; all done {:?} after the users were assigned", USERS * 2, started.elapsed());
    let after = emu.requests().await.iter().filter(|e| e["seq"].as_u64().unwrap() > killed_at).count();
    assert!(after > 0, "the restarted server did the rest");
    assert_provisioned_once_in_order(&emu, &users, &tasks).await;
}
