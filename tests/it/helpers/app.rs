use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use tessera::app::dns::{HickoryTxtLookup, TxtLookup};
use tessera::config::{LogFormat, Settings};

use super::dns::TestDns;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fixed operator key, so tests need not scrape stdout.
pub const OPERATOR_KEY: &str = "tsk_operator-key-for-tests-0123456789abcdefghijklmnopq";
pub const MASTER_KEY: &str = "test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub operator_key: String,
    pub database_url: String,
    pub dns: TestDns,
    pub app: Arc<tessera::app::Tessera>,
    _dir: tempfile::TempDir,
}

/// A fresh database for one test: a new SQLite file, or a new PostgreSQL database in the
/// cluster the test command started (TESSERA_TEST_DATABASE_URL).
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite:{}", dir.join("tessera.db").display()),
        Backend::Postgres => {
            let admin = std::env::var("TESSERA_TEST_DATABASE_URL")
                .expect("TESSERA_TEST_DATABASE_URL is not set: run the suite with scripts/test.sh, which starts PostgreSQL");
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let pool = sqlx::PgPool::connect(&admin).await.expect("connect to the test cluster");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.expect("create test database");
            pool.close().await;
            let (base, _) = admin.rsplit_once('/').expect("database URL with a path");
            format!("{base}/{name}")
        }
    }
}

pub fn settings(database_url: &str, data_dir: PathBuf, dns: std::net::SocketAddr) -> Settings {
    Settings {
        database_url: Some(database_url.to_owned()),
        data_dir,
        listen: "127.0.0.1:0".parse().unwrap(),
        log_format: LogFormat::Text,
        log: "warn".into(),
        master_key: Some(MASTER_KEY.to_owned().into()),
        master_key_file: None,
        operator_key: Some(OPERATOR_KEY.to_owned().into()),
        dns_nameservers: dns.to_string(),
        db_max_connections: 5,
        // A CI machine under load can lag seconds behind; a slow read model must not read as a
        // failed mutation (the wait ends as soon as the read models catch up).
        projection_wait_ms: 60_000,
        projection_poll_ms: 100,
        readiness_max_lag_seconds: 30,
        shutdown_timeout_seconds: 2,
        // Cheap hashing keeps the suite fast; production defaults are OWASP's.
        argon2_memory_kib: 1024,
        argon2_iterations: 1,
        argon2_parallelism: 1,
        workers: Some(2),
        public_url: None,
        signing_key_validity_days: 365,
        signing_key_rollover_days: 30,
        key_rollover_check_seconds: 3600,
        session_idle_minutes: 30,
        session_absolute_hours: 8,
        token_lifetime_minutes: 60,
        allow_loopback_reply: true,
        // Sign often, so tamper tests have signed checkpoints to break.
        audit_checkpoint_events: 3,
        audit_checkpoint_seconds: 3_600,
        // Fast retries against the emulator; its Retry-After (1 s by default) still applies.
        outbox_workers: 4,
        outbox_poll_ms: 100,
        outbox_lease_seconds: 60,
        outbox_max_attempts: 30,
        outbox_backoff_base_ms: 50,
        outbox_backoff_max_ms: 2_000,
        graph_timeout_seconds: 5,
        graph_batch: true,
        jobs_workers: 1,
        jobs_poll_ms: 100,
        jobs_lease_seconds: 30,
        import_page_size: 999,
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// `spawn_app` with some settings changed.
pub async fn spawn_app_with(backend: Backend, change: impl FnOnce(&mut Settings)) -> TestApp {
    tessera::telemetry::init(LogFormat::Text, "warn");
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(backend, dir.path()).await;
    let dns = TestDns::start().await;
    let mut settings = settings(&database_url, dir.path().to_path_buf(), dns.addr);
    change(&mut settings);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let lookup: Arc<dyn TxtLookup> = Arc::new(HickoryTxtLookup::new(&[dns.addr]).unwrap());
    let running = tessera::startup::build(&settings, listener, Some(lookup)).await.expect("start tessera");
    let address = format!("http://127.0.0.1:{}", running.port);
    let app = running.app.clone();
    tokio::spawn(running.run_until_stopped());
    TestApp { address, client: reqwest::Client::new(), operator_key: OPERATOR_KEY.to_owned(), database_url, dns, app, _dir: dir }
}

/// Another Tessera instance on a `TestApp`'s database (as a second replica would run).
pub struct SecondInstance {
    pub address: String,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Starts a second instance on this one's database, with its own projector and workers.
    pub async fn second_instance(&self) -> SecondInstance {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(&self.database_url, dir.path().to_path_buf(), self.dns.addr);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let second = tessera::startup::build(&settings, listener, None).await.expect("second instance");
        let address = format!("http://127.0.0.1:{}", second.port);
        tokio::spawn(second.run_until_stopped());
        SecondInstance { address, _dir: dir }
    }

    /// `SELECT COUNT(*) AS n …` over every tenant's rows (the system setting).
    pub async fn count(&self, sql: &str, args: &[tessera::db::Arg]) -> i64 {
        #[derive(sqlx::FromRow)]
        struct Count {
            n: i64,
        }
        let mut tx = self.app.db().begin_system().await.unwrap();
        let count: Count = tx.fetch_optional(sql, args).await.unwrap().expect("a count");
        tx.commit().await.unwrap();
        count.n
    }

    /// Sends a GraphQL request with `key` and returns the JSON body.
    pub async fn gql(&self, key: &str, query: &str, variables: Value) -> Value {
        self.client
            .post(format!("{}/graphql", self.address))
            .bearer_auth(key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON body")
    }

    /// Like `gql` but panics on any error, returning `data`.
    pub async fn ok(&self, key: &str, query: &str, variables: Value) -> Value {
        let body = self.gql(key, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    pub async fn create_tenant(&self, name: &str) -> String {
        let data = self.ok(&self.operator_key, "mutation($n: String!) { createTenant(name: $n) { id } }", json!({ "n": name })).await;
        data["createTenant"]["id"].as_str().unwrap().to_owned()
    }

    /// A tenant with an admin key: (tenant id, admin key).
    pub async fn tenant_with_admin(&self, name: &str) -> (String, String) {
        let tenant = self.create_tenant(name).await;
        let key = self.key_for(&tenant, "ADMIN").await;
        (tenant, key)
    }

    pub async fn key_for(&self, tenant: &str, role: &str) -> String {
        let query = format!("mutation($t: ID!) {{ createApiKey(name: \"{role} key\", role: {role}, tenantId: $t) {{ secret }} }}");
        let data = self.ok(&self.operator_key, &query, json!({ "t": tenant })).await;
        data["createApiKey"]["secret"].as_str().unwrap().to_owned()
    }

    /// Adds `domain` to the tenant, publishes its TXT record on the test DNS and verifies it.
    pub async fn verified_domain(&self, key: &str, domain: &str) {
        let data = self.ok(key, "mutation($d: String!) { addDomain(name: $d) { verificationRecord } }", json!({ "d": domain })).await;
        let record = data["addDomain"]["verificationRecord"].as_str().unwrap().to_owned();
        self.dns.add_txt(domain, &record).await;
        let data = self.ok(key, "mutation($d: String!) { verifyDomain(name: $d) { verified } }", json!({ "d": domain })).await;
        assert_eq!(data["verifyDomain"]["verified"], true);
    }

    /// contoso.com verified, a group, and `count` users (u0@… onwards), each with a usage
    /// location, a license and the group: enough state to compare read models.
    pub async fn seed_directory(&self, key: &str, count: usize) {
        self.verified_domain(key, "contoso.com").await;
        let group = self.ok(key, "mutation { createGroup(displayName: \"G\") { id } }", json!({})).await["createGroup"]["id"].clone();
        for i in 0..count {
            let user = self.create_user(key, &format!("u{i}@contoso.com")).await;
            self.ok(
                key,
                "mutation($u: ID!, $g: ID!) { setUsageLocation(id: $u, usageLocation: \"US\") { id } grantLicense(id: $u, skuId: \"6fd2c87f-b296-42f0-b197-1e91e994b900\") { id } addGroupMember(groupId: $g, userId: $u) { id } }",
                json!({ "u": user, "g": group }),
            )
            .await;
        }
    }

    /// A user who may sign in: password "correct horse battery", assigned to Microsoft 365.
    /// Returns (user id, ImmutableID).
    pub async fn sign_in_ready_user(&self, key: &str, upn: &str) -> (String, String) {
        let data = self
            .ok(
                key,
                "mutation($u: String!) { createUser(input: { userPrincipalName: $u, displayName: \"Signer\", password: \"correct horse battery\" }) { id immutableId } }",
                json!({ "u": upn }),
            )
            .await;
        let user_id = data["createUser"]["id"].as_str().unwrap().to_owned();
        let immutable_id = data["createUser"]["immutableId"].as_str().unwrap().to_owned();
        self.ok(key, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({ "u": user_id })).await;
        (user_id, immutable_id)
    }

    pub async fn create_user(&self, key: &str, upn: &str) -> String {
        let data = self
            .ok(
                key,
                "mutation($u: String!) { createUser(input: { userPrincipalName: $u, displayName: \"Test User\" }) { id } }",
                json!({ "u": upn }),
            )
            .await;
        data["createUser"]["id"].as_str().unwrap().to_owned()
    }
}

/// The `extensions.code` of the first error.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {body:#}"))
}
