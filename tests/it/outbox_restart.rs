//! The outbox survives a SIGKILL: a server process pushing users to Microsoft 365 (the
//! emulator) is killed mid-run and restarted; every user ends provisioned exactly once, with its
//! license, because claimed tasks come back after their lease and a create whose answer was lost
//! is looked up before it is repeated.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::graph::{CLIENT, E3, ENTRA_TENANT, Emulator, SECRET};
use crate::helpers::process::ServerProcess;
use crate::helpers::{Backend, TestDns, fresh_database};

both_backends!(a_killed_server_still_provisions_everyone_exactly_once);

fn start_server(database_url: &str, dns: std::net::SocketAddr, port: u16) -> ServerProcess {
    let outbox = [
        ("TESSERA_OUTBOX_POLL_MS", "50"),
        ("TESSERA_OUTBOX_LEASE_SECONDS", "2"),
        ("TESSERA_OUTBOX_BACKOFF_BASE_MS", "50"),
        ("TESSERA_OUTBOX_BACKOFF_MAX_MS", "1000"),
    ];
    crate::helpers::process::serve(database_url, dns, port, &outbox)
}

struct Server {
    client: reqwest::Client,
    base: String,
}

impl Server {
    async fn ready(&self) {
        for _ in 0..300 {
            if let Ok(response) = self.client.get(format!("{}/readyz", self.base)).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server at {} never became ready", self.base);
    }

    async fn ok(&self, key: &str, query: &str, variables: Value) -> Value {
        let body: Value = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(key)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }

    async fn tasks(&self, key: &str) -> Vec<Value> {
        let data = self.ok(key, "{ provisioningTasks(first: 100) { nodes { kind status attempts userId } } }", json!({})).await;
        data["provisioningTasks"]["nodes"].as_array().unwrap().clone()
    }
}

async fn a_killed_server_still_provisions_everyone_exactly_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(backend, dir.path()).await;
    let dns = TestDns::start().await;
    let emu = Emulator::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Server { client: reqwest::Client::new(), base: format!("http://127.0.0.1:{port}") };
    let mut process = start_server(&database_url, dns.addr, port);
    server.ready().await;

    let operator = crate::helpers::app_operator_key();
    let tenant = server.ok(operator, "mutation { createTenant(name: \"K\") { id } }", json!({})).await["createTenant"]["id"].clone();
    let admin = server
        .ok(operator, "mutation($t: ID!) { createApiKey(name: \"a\", role: ADMIN, tenantId: $t) { secret } }", json!({"t": tenant}))
        .await["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = server.ok(&admin, "mutation { addDomain(name: \"contoso.com\") { verificationRecord } }", json!({})).await["addDomain"]
        ["verificationRecord"]
        .as_str()
        .unwrap()
        .to_owned();
    dns.add_txt("contoso.com", &record).await;
    server.ok(&admin, "mutation { verifyDomain(name: \"contoso.com\") { verified } }", json!({})).await;
    let input = json!({"entraTenantId": ENTRA_TENANT, "clientId": CLIENT, "clientSecret": SECRET,
                       "loginBaseUrl": emu.base, "graphBaseUrl": emu.base});
    server.ok(&admin, "mutation($i: ConnectMicrosoft365Input!) { connectMicrosoft365(input: $i) { clientId } }", json!({"i": input})).await;
    server
        .ok(
            &admin,
            "mutation($s: String!) { setDefaultUsageLocation(usageLocation: \"US\") { id } setDefaultLicenses(skuIds: [$s]) { id } }",
            json!({"s": E3}),
        )
        .await;
    // Slow answers, so the kill finds work in hand.
    emu.faults(json!([{"kind": "delay", "pathPrefix": "/v1.0/", "delayMs": 150}])).await;
    const USERS: usize = 12;
    for i in 0..USERS {
        let id = server
            .ok(
                &admin,
                "mutation($u: String!) { createUser(input: { userPrincipalName: $u, displayName: \"K\" }) { id } }",
                json!({"u": format!("k{i}@contoso.com")}),
            )
            .await["createUser"]["id"]
            .clone();
        server.ok(&admin, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({"u": id})).await;
    }
    // Kill once some, not all, of the work is done.
    let started = Instant::now();
    loop {
        let done = server.tasks(&admin).await.iter().filter(|t| t["status"] == "SUCCEEDED").count();
        if done >= 3 {
            assert!(done < USERS * 2, "everything finished before the kill; slow the emulator down");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no progress before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    process.kill().unwrap();
    process.wait().unwrap();

    let mut process = start_server(&database_url, dns.addr, port);
    server.ready().await;
    let started = Instant::now();
    let tasks = loop {
        let tasks = server.tasks(&admin).await;
        if tasks.len() == USERS * 2 && tasks.iter().all(|t| t["status"] == "SUCCEEDED") {
            break tasks;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{tasks:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    process.kill().unwrap();
    process.wait().unwrap();
    assert!(tasks.iter().all(|t| t["status"] == "SUCCEEDED"));
    for i in 0..USERS {
        let found = emu.users_with_upn(&format!("k{i}@contoso.com")).await;
        assert_eq!(found.len(), 1, "k{i}: {found:#?}");
        let licenses: Vec<&str> = found[0]["assignedLicenses"].as_array().unwrap().iter().map(|l| l["skuId"].as_str().unwrap()).collect();
        assert_eq!(licenses, [E3], "k{i}");
    }
}
