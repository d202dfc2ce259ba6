//! The Graph emulator next to a Tessera under test: started in-process on a free port, seeded
//! with one Microsoft 365 tenant, driven through its control API.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::TestApp;

/// The emulated Entra tenant.
pub const ENTRA_TENANT: &str = "0a0b0c0d-1111-2222-3333-444455556666";
/// An app registration with every permission Tessera uses.
pub const CLIENT: &str = "c1c1c1c1-0000-4000-8000-000000000001";
pub const SECRET: &str = "emulated~client~secret~0123456789";
/// An app registration that may only read users and domains.
pub const LIMITED_CLIENT: &str = "c1c1c1c1-0000-4000-8000-000000000002";
pub const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
pub const E5: &str = "c7df2760-2c81-4ef7-b578-5b5392b571df";

pub const ALL_PERMISSIONS: &[&str] = &[
    "User.ReadWrite.All",
    "Domain.Read.All",
    "Domain-InternalFederation.ReadWrite.All",
    "LicenseAssignment.ReadWrite.All",
    "Group.ReadWrite.All",
];

pub fn seed() -> Value {
    json!({"tenants": [{
        "id": ENTRA_TENANT,
        "displayName": "Contoso",
        "initialDomain": "contoso.onmicrosoft.com",
        "domains": [
            {"name": "contoso.com"},
            {"name": "notverified.com", "isVerified": false},
            {"name": "default.com", "isDefault": true},
            {"name": "federated.com", "authenticationType": "Federated"}
        ],
        "apps": [
            {"clientId": CLIENT, "clientSecret": SECRET, "permissions": ALL_PERMISSIONS},
            {"clientId": LIMITED_CLIENT, "clientSecret": SECRET, "permissions": ["User.Read.All", "Domain.Read.All"]}
        ],
        "skus": [
            {"skuId": E3, "skuPartNumber": "ENTERPRISEPACK", "prepaidUnits": {"enabled": 5000}},
            {"skuId": E5, "skuPartNumber": "ENTERPRISEPREMIUM", "prepaidUnits": {"enabled": 5000}}
        ]
    }]})
}

pub struct Emulator {
    pub base: String,
    http: reqwest::Client,
}

impl Emulator {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let config = tessera::emulator::EmulatorConfig {
            seed: serde_json::from_value(seed()).expect("seed"),
            fault_seed: 7,
            workers: 2,
            max_log_entries: 200_000,
            ..Default::default()
        };
        tokio::spawn(tessera::emulator::serve(listener, config).expect("emulator"));
        // No pooled connections: the emulator closes idle ones after its keep-alive (5 s), and a
        // control request that reuses one as it closes fails with `IncompleteMessage`.
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
        Self { base, http }
    }

    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}/_emulator{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("control request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "{path}: {status} {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") }
    }

    /// Every user of the emulated tenant, with all properties.
    pub async fn users(&self) -> Vec<Value> {
        let tenant = self.control("GET", &format!("/tenants/{ENTRA_TENANT}"), None).await;
        tenant["users"].as_array().cloned().unwrap_or_default()
    }

    pub async fn users_with_upn(&self, upn: &str) -> Vec<Value> {
        self.users().await.into_iter().filter(|u| u["userPrincipalName"].as_str().is_some_and(|v| v.eq_ignore_ascii_case(upn))).collect()
    }

    pub async fn requests(&self) -> Vec<Value> {
        self.control("GET", "/requests", None).await["value"].as_array().cloned().unwrap_or_default()
    }

    pub async fn add_app(&self, body: Value) {
        self.control("POST", &format!("/tenants/{ENTRA_TENANT}/apps"), Some(body)).await;
    }

    pub async fn add_domain(&self, name: &str) {
        self.control("POST", &format!("/tenants/{ENTRA_TENANT}/domains"), Some(json!({"name": name}))).await;
    }

    pub async fn add_user(&self, body: Value) {
        self.control("POST", &format!("/tenants/{ENTRA_TENANT}/users"), Some(body)).await;
    }

    /// A domain of the emulated tenant as the control API shows it (with its federation).
    pub async fn domain(&self, name: &str) -> Value {
        let tenant = self.control("GET", &format!("/tenants/{ENTRA_TENANT}"), None).await;
        tenant["domains"].as_array().unwrap().iter().find(|d| d["id"] == name).cloned().expect("domain")
    }

    /// Calls Graph as the admin would from PowerShell (app-only token of `CLIENT`).
    pub async fn graph(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let token: Value = self
            .http
            .post(format!("{}/{ENTRA_TENANT}/oauth2/v2.0/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token JSON");
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, format!("{}/v1.0{path}", self.base))
            .bearer_auth(token["access_token"].as_str().expect("access_token"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("Graph request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") })
    }

    pub async fn faults(&self, rules: Value) {
        self.control("PUT", "/faults", Some(json!({"seed": 11, "rules": rules}))).await;
    }
}

/// When a test ends well, every request the emulator received must match Microsoft's contract
/// (`helpers::conformance`): each suite that uses the emulator checks Tessera's requests.
impl Drop for Emulator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return;
        }
        let log = tokio::task::block_in_place(|| runtime.block_on(self.requests()));
        let reference = super::conformance::reference();
        let errors: Vec<String> = log.iter().flat_map(|entry| reference.check(entry)).collect();
        assert!(errors.is_empty(), "{} request(s) off Microsoft's contract (reference/graph/):\n{}", errors.len(), errors.join("\n"));
    }
}

const CONNECT: &str = "mutation($i: ConnectMicrosoft365Input!) {
    connectMicrosoft365(input: $i) { entraTenantId clientId credentialType loginBaseUrl graphBaseUrl
        certificate { pem sha1Thumbprint sha256Thumbprint notBefore notAfter } } }";

impl TestApp {
    /// Connects the tenant of `key` to the emulator with a client secret; returns the response.
    pub async fn connect_emulator(&self, key: &str, emulator: &Emulator, client: &str, secret: &str) -> Value {
        let input = json!({"entraTenantId": ENTRA_TENANT, "clientId": client, "clientSecret": secret,
                           "loginBaseUrl": emulator.base, "graphBaseUrl": emulator.base});
        self.gql(key, CONNECT, json!({"i": input})).await
    }

    /// Connects with a certificate Tessera generates; returns the response.
    pub async fn connect_emulator_with_certificate(&self, key: &str, emulator: &Emulator, client: &str) -> Value {
        let input = json!({"entraTenantId": ENTRA_TENANT, "clientId": client, "generateCertificate": true,
                           "loginBaseUrl": emulator.base, "graphBaseUrl": emulator.base});
        self.gql(key, CONNECT, json!({"i": input})).await
    }

    /// Every provisioning task of the tenant (all pages).
    pub async fn tasks(&self, key: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let data = self
                .ok(
                    key,
                    "query($a: String) { provisioningTasks(first: 100, after: $a) {
                        pageInfo { hasNextPage endCursor }
                        nodes { id kind status target userId skuId attempts graphObjectId detail
                                lastError { status code message requestId clientRequestId personalDataForgotten } } } }",
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

    /// `tessera replay`, in-process: the one-pass rebuild (in-memory folds) must give exactly
    /// the read models the live projections built event by event. Call it once the outbox has
    /// settled (a worker's outcome landing mid-replay would be a difference).
    pub async fn assert_replay_matches(&self) {
        let report = tessera::audit::replay::replay(self.app.db(), self.app.personal_data()).await.unwrap();
        assert!(report.differences.is_empty(), "{:#?}", report.differences);
        assert!(report.unchecked.is_empty(), "{:?}", report.unchecked);
    }

    /// Waits until no task is PENDING (at most `limit`), then returns them all.
    pub async fn settled_tasks(&self, key: &str, limit: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let tasks = self.tasks(key).await;
            if !tasks.is_empty() && tasks.iter().all(|t| t["status"] != "PENDING") {
                return tasks;
            }
            assert!(started.elapsed() < limit, "tasks still pending after {limit:?}: {tasks:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
