//! What the fault tests share: a GraphQL client for an in-process or child-process server, a
//! tenant connected to the emulator, users created and assigned in bulk, the fault mix, and the
//! verdict.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::helpers::graph::{CLIENT, E3, ENTRA_TENANT, Emulator, SECRET};
use crate::helpers::{TestDns, app_operator_key};

/// About 30 % of Graph requests fail: the rules roll in order and the first hit wins, so
/// 1 − 0.90 · 0.91 · 0.92 · 0.92 ≈ 30.7 %. Half the failures are answers (429 with Retry-After,
/// 503), half lost connections: before the request ran (`drop`) or after (`lostAnswer`, the
/// ambiguous case). The token endpoint is throttled too.
pub fn thirty_percent() -> Value {
    json!([
        {"kind": "throttle", "pathPrefix": "/v1.0/", "rate": 0.10, "retryAfterSeconds": 1},
        {"kind": "unavailable", "pathPrefix": "/v1.0/", "rate": 0.09},
        {"kind": "drop", "pathPrefix": "/v1.0/", "rate": 0.08},
        {"kind": "lostAnswer", "pathPrefix": "/v1.0/", "rate": 0.08},
        {"kind": "throttle", "pathPrefix": format!("/{ENTRA_TENANT}/oauth2"), "rate": 0.3, "retryAfterSeconds": 1},
    ])
}

/// A user made by a test: (UPN, user id, ImmutableID).
pub type Made = (String, String, String);

/// A Tessera server reached over HTTP (in-process or a child process).
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(base: String) -> Self {
        Self { http: reqwest::Client::new(), base }
    }

    pub fn on_port(port: u16) -> Self {
        Self::new(format!("http://127.0.0.1:{port}"))
    }

    pub async fn ready(&self) {
        for _ in 0..600 {
            if let Ok(response) = self.http.get(format!("{}/readyz", self.base)).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server at {} never became ready", self.base);
    }

    pub async fn ok(&self, key: &str, query: &str, variables: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/graphql", self.base))
            .bearer_auth(key)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        let body: Value = response.json().await.expect("JSON");
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }

    /// Every provisioning task (all pages).
    pub async fn tasks(&self, key: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let data = self
                .ok(
                    key,
                    "query($a: String) { provisioningTasks(first: 100, after: $a) {
                        pageInfo { hasNextPage endCursor }
                        nodes { id kind status userId attempts graphObjectId detail lastError { code message } } } }",
                    json!({"a": after}),
                )
                .await;
            let page = &data["provisioningTasks"];
            all.extend(page["nodes"].as_array().cloned().unwrap_or_default());
            if page["pageInfo"]["hasNextPage"] != true {
                return all;
            }
            after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
    }

    /// Waits until there are `count` tasks and all succeeded; fails on a FAILED one, or when no
    /// task has succeeded for `stall` (progress, not a wall-clock deadline: on a loaded machine
    /// the run is slower, never stuck).
    pub async fn all_succeeded(&self, key: &str, count: usize, stall: Duration) -> Vec<Value> {
        let mut progress = (0, Instant::now());
        loop {
            let tasks = self.tasks(key).await;
            let failed: Vec<&Value> = tasks.iter().filter(|t| t["status"] == "FAILED" || t["status"] == "CANCELLED").collect();
            assert!(failed.is_empty(), "{failed:#?}");
            if tasks.len() == count && tasks.iter().all(|t| t["status"] == "SUCCEEDED") {
                return tasks;
            }
            let done = tasks.iter().filter(|t| t["status"] == "SUCCEEDED").count();
            if done > progress.0 {
                progress = (done, Instant::now());
            }
            assert!(progress.1.elapsed() < stall, "{done} of {count} tasks succeeded; none for {stall:?}");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// A tenant with contoso.com verified, connected to the emulator, usage location US and E3
    /// by default; returns its admin key.
    pub async fn connected_tenant(&self, dns: &TestDns, emu: &Emulator) -> String {
        let operator = app_operator_key();
        let tenant = self.ok(operator, "mutation { createTenant(name: \"Faults\") { id } }", json!({})).await["createTenant"]["id"].clone();
        let admin = self
            .ok(operator, "mutation($t: ID!) { createApiKey(name: \"a\", role: ADMIN, tenantId: $t) { secret } }", json!({"t": tenant}))
            .await["createApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let record = self.ok(&admin, "mutation { addDomain(name: \"contoso.com\") { verificationRecord } }", json!({})).await["addDomain"]
            ["verificationRecord"]
            .as_str()
            .unwrap()
            .to_owned();
        dns.add_txt("contoso.com", &record).await;
        self.ok(&admin, "mutation { verifyDomain(name: \"contoso.com\") { verified } }", json!({})).await;
        let input = json!({"entraTenantId": ENTRA_TENANT, "clientId": CLIENT, "clientSecret": SECRET,
                           "loginBaseUrl": emu.base, "graphBaseUrl": emu.base});
        self.ok(&admin, "mutation($i: ConnectMicrosoft365Input!) { connectMicrosoft365(input: $i) { clientId } }", json!({"i": input}))
            .await;
        self.ok(
            &admin,
            "mutation($s: String!) { setDefaultUsageLocation(usageLocation: \"US\") { id } setDefaultLicenses(skuIds: [$s]) { id } }",
            json!({"s": E3}),
        )
        .await;
        admin
    }

    /// Creates and assigns `count` users `{prefix}{i}@contoso.com`, 25 per request (aliased
    /// mutations), four requests at a time; returns (UPN, user id, ImmutableID) in order.
    pub async fn assigned_users(&self, key: &str, prefix: &str, count: usize) -> Vec<(String, String, String)> {
        const CHUNK: usize = 25;
        let chunks: Vec<Vec<usize>> = (0..count).collect::<Vec<_>>().chunks(CHUNK).map(<[usize]>::to_vec).collect();
        let mut made: Vec<(usize, Vec<Made>)> = futures::stream::iter(chunks.into_iter().enumerate())
            .map(|(n, chunk)| async move {
                let upns: Vec<String> = chunk.iter().map(|i| format!("{prefix}{i}@contoso.com")).collect();
                let create: String = upns
                    .iter()
                    .enumerate()
                    .map(|(j, upn)| {
                        format!(
                            "u{j}: createUser(input: {{ userPrincipalName: \"{upn}\", displayName: \"Fault Test\" }}) {{ id immutableId }} "
                        )
                    })
                    .collect();
                let data = self.ok(key, &format!("mutation {{ {create} }}"), json!({})).await;
                let users: Vec<(String, String, String)> = upns
                    .iter()
                    .enumerate()
                    .map(|(j, upn)| {
                        let user = &data[format!("u{j}")];
                        (upn.clone(), user["id"].as_str().unwrap().to_owned(), user["immutableId"].as_str().unwrap().to_owned())
                    })
                    .collect();
                let assign: String =
                    users.iter().enumerate().map(|(j, (_, id, _))| format!("a{j}: assignUser(id: \"{id}\") {{ assigned }} ")).collect();
                self.ok(key, &format!("mutation {{ {assign} }}"), json!({})).await;
                (n, users)
            })
            .buffer_unordered(4)
            .collect()
            .await;
        made.sort_by_key(|(n, _)| *n);
        made.into_iter().flat_map(|(_, users)| users).collect()
    }
}

/// The verdict: every user exists exactly once in the emulated Microsoft 365 (no duplicate UPN or
/// onPremisesImmutableId anywhere), with its anchor and E3, was created by exactly one request
/// that took effect, and no license reached it before that creation (order kept per user); in
/// Tessera, each user's PROVISION_USER succeeded before its GRANT_LICENSE, naming the same object.
pub async fn assert_provisioned_once_in_order(emu: &Emulator, users: &[(String, String, String)], tasks: &[Value]) {
    let everyone = emu.users().await;
    let mut by_upn: HashMap<String, Vec<&Value>> = HashMap::new();
    let mut by_anchor: HashMap<&str, usize> = HashMap::new();
    for user in &everyone {
        by_upn.entry(user["userPrincipalName"].as_str().unwrap().to_ascii_lowercase()).or_default().push(user);
        if let Some(anchor) = user["onPremisesImmutableId"].as_str() {
            *by_anchor.entry(anchor).or_default() += 1;
        }
    }
    let duplicates: Vec<(&&str, &usize)> = by_anchor.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "onPremisesImmutableId held by several users: {duplicates:?}");
    let duplicates: Vec<&String> = by_upn.iter().filter(|(_, found)| found.len() > 1).map(|(upn, _)| upn).collect();
    assert!(duplicates.is_empty(), "UPNs held by several users: {duplicates:?}");

    let log = emu.requests().await;
    // Creations that took effect (a lost answer still took effect: the log keeps its status).
    let mut created: HashMap<String, Vec<u64>> = HashMap::new();
    let mut licensed: HashMap<String, u64> = HashMap::new();
    for entry in &log {
        let path = entry["path"].as_str().unwrap_or_default();
        let seq = entry["seq"].as_u64().unwrap();
        if entry["method"] == "POST" && path == "/v1.0/users" && entry["status"] == 201 {
            let upn = entry["body"]["userPrincipalName"].as_str().unwrap().to_ascii_lowercase();
            created.entry(upn).or_default().push(seq);
        }
        if let Some(object) = path.strip_prefix("/v1.0/users/").and_then(|p| p.strip_suffix("/assignLicense"))
            && entry["status"] == 200
        {
            let first = licensed.entry(object.to_owned()).or_insert(seq);
            *first = (*first).min(seq);
        }
    }
    let mut by_user: HashMap<&str, Vec<&Value>> = HashMap::new();
    for task in tasks {
        by_user.entry(task["userId"].as_str().unwrap_or_default()).or_default().push(task);
    }
    for (upn, id, anchor) in users {
        let found = by_upn.get(upn.as_str()).unwrap_or_else(|| panic!("{upn} is not in Microsoft 365"));
        let user = found[0];
        assert_eq!(user["onPremisesImmutableId"], anchor.as_str(), "{upn}");
        let skus: Vec<&str> = user["assignedLicenses"].as_array().unwrap().iter().map(|l| l["skuId"].as_str().unwrap()).collect();
        assert_eq!(skus, [E3], "{upn}");
        let creations = created.get(upn.as_str()).cloned().unwrap_or_default();
        assert_eq!(creations.len(), 1, "{upn} created by {} requests", creations.len());
        let object = user["id"].as_str().unwrap();
        let first_license = licensed.get(object).unwrap_or_else(|| panic!("{upn}: no assignLicense took effect"));
        assert!(creations[0] < *first_license, "{upn}: created at #{} but licensed at #{first_license}", creations[0]);
        let kinds: Vec<(&str, &str)> = by_user
            .get(id.as_str())
            .map(|t| t.iter().map(|t| (t["kind"].as_str().unwrap(), t["status"].as_str().unwrap())).collect())
            .unwrap_or_default();
        assert_eq!(kinds, [("PROVISION_USER", "SUCCEEDED"), ("GRANT_LICENSE", "SUCCEEDED")], "{upn}");
        assert_eq!(by_user[id.as_str()][0]["graphObjectId"], object, "{upn}");
    }
}

/// How many of the logged Graph requests failed by injection, by kind (the tests assert the mix
/// was really applied).
pub fn injected(log: &[Value]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for entry in log {
        if let Some(fault) = entry["fault"].as_str() {
            *counts.entry(fault.to_owned()).or_default() += 1;
        }
    }
    counts
}
