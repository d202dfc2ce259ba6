//! `tessera-load`: the load generator behind docs/benchmarks.md. It drives a running
//! `tessera serve` over HTTP with an operator key, exactly as a client would:
//!
//! - `mix`: N concurrent clients for T seconds, each doing CreateUser → AssignUser →
//!   GrantLicense (one GraphQL mutation per command, sequentially); reports commands/s, latency
//!   p50/p99, and the projection lag p99 from the server's `/metrics` histogram (scraped before
//!   and after, so only this run's events count).
//! - `seed`: creates N users as fast as the API takes them (the setup of `read`).
//! - `read`: `users(first: 50)` p50/p99 over the first page and pages reached by cursors.
//! - `signin`: the WS-Federation sign-in (SSO tokens/s, password sign-ins/s, latency, the
//!   server's memory with many live sessions); see `signin.rs`.
//! - `argon2` / `rsa`: in-process baselines for `signin` on the same cores; see `baseline.rs`.
//!
//! Domain verification needs a DNS TXT record: the tool answers DNS itself on `--dns`
//! (UDP, hickory-proto for the wire format), and the server is started with
//! `TESSERA_DNS_NAMESERVERS` pointing there. So the benchmarked server runs its real
//! verification path, with no test-only switch in the product.
//!
//! Every request loop is bounded in time or count and only talks to the given URL.

mod audit_read;
mod baseline;
mod cpu;
mod events;
mod graph;
mod signin;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tokio::sync::RwLock;

/// Microsoft 365 E3, as in the README walkthrough.
const SKU: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

#[derive(Parser)]
#[command(name = "tessera-load", about = "Load generator for a running tessera serve")]
struct Cli {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An operator key of that server (every command but `seed-events`, `argon2` and `rsa`).
    #[arg(long, env = "TESSERA_LOAD_OPERATOR_KEY", default_value = "")]
    operator_key: String,
    /// Where this tool answers DNS (the server's TESSERA_DNS_NAMESERVERS).
    #[arg(long, default_value = "127.0.0.1:5353")]
    dns: SocketAddr,
    /// Also print the result as one JSON line prefixed with `RESULT `.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// CreateUser → AssignUser → GrantLicense by concurrent clients for a fixed time.
    Mix {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Not measured: lets connections, caches and the database warm up first.
        #[arg(long, default_value_t = 5)]
        warmup_seconds: u64,
    },
    /// Creates users in a fresh tenant; prints the tenant id for `read`.
    Seed {
        #[arg(long, default_value_t = 100_000)]
        users: u64,
        #[arg(long, default_value_t = 32)]
        clients: usize,
    },
    /// `users(first: 50)` latency on a seeded tenant, one request at a time.
    Read {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
        /// Pages followed by cursor before starting again at the first page.
        #[arg(long, default_value_t = 20)]
        pages: usize,
        /// Also select `licenses` (one more query per user on the server).
        #[arg(long)]
        with_licenses: bool,
    },
    /// `auditEvents` latency with several filters on a tenant's (large) history.
    AuditRead {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 500)]
        requests: usize,
        /// Pages followed by cursor before starting again at the first page.
        #[arg(long, default_value_t = 20)]
        pages: usize,
    },
    /// Sets up a tenant with N assigned users not yet in Microsoft 365, and an emulated Entra
    /// tenant for it (the setup of `graph-export`).
    GraphSetup {
        /// Base URL of `tessera graph-emulator`.
        #[arg(long)]
        emulator: String,
        #[arg(long, default_value_t = 10_000)]
        users: u64,
        #[arg(long, default_value_t = 16)]
        clients: usize,
    },
    /// Connects a `graph-setup` tenant to the emulator and times `startExportUsers`; counts the
    /// HTTP round trips in the emulator's request log.
    GraphExport {
        #[arg(long)]
        emulator: String,
        #[arg(long)]
        admin_key: String,
        #[arg(long)]
        entra_tenant: String,
        #[arg(long)]
        client_id: String,
        /// Share of `/v1.0/users` requests the emulator answers 429 (Retry-After 1 s).
        #[arg(long, default_value_t = 0.0)]
        throttle: f64,
    },
    /// Writes users' histories (5 events each) straight into a store through the event store,
    /// with no server: the setup of the audit benchmarks.
    SeedEvents {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 200_000)]
        users: u64,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// The master key ring the server will use: personal values are sealed under data keys
        /// it wraps.
        #[arg(long, env = "TESSERA_MASTER_KEY", hide_env_values = true)]
        master_key: String,
    },
    /// The WS-Fed sign-in: SSO token issuance, password sign-ins, memory with live sessions.
    Signin {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Users with a password in the benchmark tenant (sign-ins are spread over them).
        #[arg(long, default_value_t = 256)]
        users: usize,
        /// Measured window of the SSO and of the password phase.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 5)]
        warmup_seconds: u64,
        /// Sessions made by `sessions` to use once each at the end.
        #[arg(long)]
        touch_sessions: Option<std::path::PathBuf>,
        /// The server's process id, to sample its resident memory from /proc.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Signed-in sessions by real sign-ins in a fresh tenant; cookies go to a file.
    Sessions {
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 256)]
        users: usize,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Raw argon2id verifications/s with the server's parameters, one thread per core.
    Argon2 {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, env = "TESSERA_ARGON2_MEMORY_KIB")]
        memory_kib: Option<u32>,
        #[arg(long, env = "TESSERA_ARGON2_ITERATIONS")]
        iterations: Option<u32>,
        #[arg(long, env = "TESSERA_ARGON2_PARALLELISM")]
        parallelism: Option<u32>,
    },
    /// RSA-2048 signatures/s with the OpenSSL the server links, one thread per core.
    Rsa {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long)]
        threads: Option<usize>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let api = Api::new(&cli.url)?;
    let result = match cli.command {
        Command::Signin { clients, users, seconds, warmup_seconds, touch_sessions, server_pid } => {
            let dns = Dns::start(cli.dns).await?;
            let options = signin::Options {
                clients,
                warmup: Duration::from_secs(warmup_seconds),
                measured: Duration::from_secs(seconds),
                touch: touch_sessions,
                server_pid,
            };
            signin::run(&api, &cli.operator_key, &dns, users, &options).await?
        }
        Command::Sessions { count, clients, users, out } => {
            let dns = Dns::start(cli.dns).await?;
            signin::make_sessions(&api, &cli.operator_key, &dns, users, clients, count, &out).await?
        }
        Command::Argon2 { seconds, threads, memory_kib, iterations, parallelism } => {
            let defaults = tessera::app::Argon2Params::default();
            let params = tessera::app::Argon2Params {
                memory_kib: memory_kib.unwrap_or(defaults.memory_kib),
                iterations: iterations.unwrap_or(defaults.iterations),
                parallelism: parallelism.unwrap_or(defaults.parallelism),
            };
            let threads = threads.unwrap_or_else(baseline::cores);
            tokio::task::spawn_blocking(move || baseline::argon2(params, threads, seconds)).await??
        }
        Command::Rsa { seconds, threads } => {
            let threads = threads.unwrap_or_else(baseline::cores);
            tokio::task::spawn_blocking(move || baseline::rsa(threads, seconds)).await??
        }
        Command::Mix { clients, seconds, warmup_seconds } => {
            let dns = Dns::start(cli.dns).await?;
            let tenant = Tenant::set_up(&api, &cli.operator_key, &dns).await?;
            mix(&api, &tenant, clients, Duration::from_secs(warmup_seconds), Duration::from_secs(seconds)).await?
        }
        Command::Seed { users, clients } => {
            let dns = Dns::start(cli.dns).await?;
            let tenant = Tenant::set_up(&api, &cli.operator_key, &dns).await?;
            seed(&api, &tenant, users, clients).await?
        }
        Command::Read { tenant, requests, pages, with_licenses } => {
            read(&api, &cli.operator_key, &tenant, requests, pages, with_licenses).await?
        }
        Command::AuditRead { tenant, requests, pages } => audit_read::run(&api, &cli.operator_key, &tenant, requests, pages).await?,
        Command::GraphSetup { emulator, users, clients } => {
            let dns = Dns::start(cli.dns).await?;
            graph::setup(&api, &cli.operator_key, &dns, &emulator, users, clients).await?
        }
        Command::GraphExport { emulator, admin_key, entra_tenant, client_id, throttle } => {
            let run =
                graph::Export { admin_key: &admin_key, entra_tenant: &entra_tenant, client_id: &client_id, emulator: &emulator, throttle };
            graph::export(&api, &run).await?
        }
        Command::SeedEvents { database_url, users, clients, master_key } => {
            events::seed(&database_url, &master_key, users, clients).await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&result)?);
    if cli.json {
        println!("RESULT {result}");
    }
    Ok(())
}

/// A GraphQL client of one server.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(256).build()?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned() })
    }

    /// Runs one GraphQL operation; an `errors` entry is an error.
    async fn gql(&self, key: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}/graphql", self.base))
            .bearer_auth(key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.with_context(|| format!("HTTP {status}: not JSON"))?;
        if let Some(errors) = body.get("errors").filter(|e| !e.is_null()) {
            bail!("HTTP {status}: {errors}");
        }
        Ok(body.get("data").cloned().unwrap_or(Value::Null))
    }

    async fn metrics(&self) -> anyhow::Result<String> {
        let response = self.http.get(format!("{}/metrics", self.base)).send().await?.error_for_status()?;
        Ok(response.text().await?)
    }
}

fn text<'a>(value: &'a Value, path: &[&str]) -> anyhow::Result<&'a str> {
    let mut at = value;
    for step in path {
        at = at.get(step).ok_or_else(|| anyhow!("no {step} in {value}"))?;
    }
    at.as_str().ok_or_else(|| anyhow!("{} is not a string in {value}", path.join(".")))
}

/// A fresh tenant with an admin key and one verified domain, so every run starts clean.
struct Tenant {
    id: String,
    admin_key: String,
    domain: String,
}

impl Tenant {
    async fn set_up(api: &Api, operator: &str, dns: &Dns) -> anyhow::Result<Self> {
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let created =
            api.gql(operator, "mutation($n: String!) { createTenant(name: $n) { id } }", json!({ "n": format!("load {tag}") })).await?;
        let id = text(&created, &["createTenant", "id"])?.to_owned();
        let key = api
            .gql(operator, "mutation($t: ID!) { createApiKey(name: \"load\", role: ADMIN, tenantId: $t) { secret } }", json!({ "t": id }))
            .await?;
        let admin_key = text(&key, &["createApiKey", "secret"])?.to_owned();
        let domain = format!("load-{tag}.example.com");
        let added =
            api.gql(&admin_key, "mutation($d: String!) { addDomain(name: $d) { verificationRecord } }", json!({ "d": domain })).await?;
        dns.set_txt(&domain, text(&added, &["addDomain", "verificationRecord"])?).await;
        api.gql(&admin_key, "mutation($d: String!) { verifyDomain(name: $d) { verified } }", json!({ "d": domain }))
            .await
            .context("verifyDomain: is the server's TESSERA_DNS_NAMESERVERS this tool's --dns?")?;
        Ok(Self { id, admin_key, domain })
    }
}

const CREATE_USER: &str = "mutation($upn: String!, $name: String!) { createUser(input: { userPrincipalName: $upn, displayName: $name, usageLocation: \"US\" }) { id } }";
const ASSIGN_USER: &str = "mutation($u: ID!) { assignUser(id: $u) { assigned } }";
const GRANT_LICENSE: &str = "mutation($u: ID!, $s: String!) { grantLicense(id: $u, skuId: $s) { id } }";

/// Latency samples of one kind of request, in microseconds.
#[derive(Default)]
struct Samples(Vec<u64>);

impl Samples {
    fn add(&mut self, took: Duration) {
        self.0.push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }

    fn merge(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// Nearest-rank percentile, in milliseconds.
    fn percentile(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1] as f64 / 1000.0
    }

    fn summary(&mut self) -> Value {
        json!({ "count": self.0.len(), "p50_ms": self.percentile(50.0), "p99_ms": self.percentile(99.0), "max_ms": self.percentile(100.0) })
    }
}

#[derive(Default)]
struct ClientResult {
    create: Samples,
    assign: Samples,
    grant: Samples,
    errors: u64,
    first_error: Option<String>,
}

async fn mix(api: &Api, tenant: &Tenant, clients: usize, warmup: Duration, measured: Duration) -> anyhow::Result<Value> {
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + measured;
    let before = Arc::new(RwLock::new(None::<String>));
    // The "before" scrape happens when the measured window opens, from a task of its own.
    let scraper = {
        let api = api.clone();
        let before = before.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            *before.write().await = api.metrics().await.ok();
        })
    };
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for client in 0..clients {
        let api = api.clone();
        let key = tenant.admin_key.clone();
        let domain = tenant.domain.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut result = ClientResult::default();
            while Instant::now() < end {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let upn = format!("u{client}-{n}@{domain}");
                let step = |result: &mut ClientResult, e: anyhow::Error| {
                    result.errors += 1;
                    result.first_error.get_or_insert_with(|| e.to_string());
                };
                let t = Instant::now();
                let created = api.gql(&key, CREATE_USER, json!({ "upn": upn, "name": format!("Load User {n}") })).await;
                let counts = t >= measure_from && Instant::now() <= end;
                let id = match created.and_then(|d| Ok(text(&d, &["createUser", "id"])?.to_owned())) {
                    Ok(id) => id,
                    Err(e) => {
                        step(&mut result, e);
                        continue;
                    }
                };
                if counts {
                    result.create.add(t.elapsed());
                }
                let t = Instant::now();
                match api.gql(&key, ASSIGN_USER, json!({ "u": id })).await {
                    Ok(_) if t >= measure_from && Instant::now() <= end => result.assign.add(t.elapsed()),
                    Ok(_) => {}
                    Err(e) => step(&mut result, e),
                }
                let t = Instant::now();
                match api.gql(&key, GRANT_LICENSE, json!({ "u": id, "s": SKU })).await {
                    Ok(_) if t >= measure_from && Instant::now() <= end => result.grant.add(t.elapsed()),
                    Ok(_) => {}
                    Err(e) => step(&mut result, e),
                }
            }
            result
        }));
    }
    let mut all = ClientResult::default();
    for task in tasks {
        let r = task.await?;
        all.create.merge(r.create);
        all.assign.merge(r.assign);
        all.grant.merge(r.grant);
        all.errors += r.errors;
        if all.first_error.is_none() {
            all.first_error = r.first_error;
        }
    }
    scraper.await?;
    // Let the projections finish what the window wrote before the second scrape.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = api.metrics().await?;
    let before = before.read().await.clone().ok_or_else(|| anyhow!("could not scrape /metrics at the window's start"))?;
    let lag = Lag::between(&before, &after);

    let mut every = Samples::default();
    every.0.extend(&all.create.0);
    every.0.extend(&all.assign.0);
    every.0.extend(&all.grant.0);
    let commands = every.0.len();
    let seconds = measured.as_secs_f64();
    Ok(json!({
        "benchmark": "mix",
        "clients": clients,
        "seconds": seconds,
        "commands": commands,
        "commands_per_second": commands as f64 / seconds,
        "errors": all.errors,
        "first_error": all.first_error,
        "latency": every.summary(),
        "createUser": all.create.summary(),
        "assignUser": all.assign.summary(),
        "grantLicense": all.grant.summary(),
        "projection_lag": lag.report(),
    }))
}

async fn seed(api: &Api, tenant: &Tenant, users: u64, clients: usize) -> anyhow::Result<Value> {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let api = api.clone();
        let key = tenant.admin_key.clone();
        let domain = tenant.domain.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut errors = 0u64;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= users {
                    break;
                }
                if n > 0 && n.is_multiple_of(10_000) {
                    eprintln!("seeded {n} users in {:.0} s", started.elapsed().as_secs_f64());
                }
                let vars = json!({ "upn": format!("seed{n:06}@{domain}"), "name": format!("Seed User {n}") });
                if let Err(e) = api.gql(&key, CREATE_USER, vars).await {
                    errors += 1;
                    if errors > 100 {
                        return Err(e.context("more than 100 errors while seeding"));
                    }
                }
            }
            Ok(errors)
        }));
    }
    let mut errors = 0;
    for task in tasks {
        errors += task.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(
        json!({ "benchmark": "seed", "tenant": tenant.id, "users": users, "errors": errors, "seconds": seconds, "users_per_second": users as f64 / seconds }),
    )
}

async fn read(api: &Api, operator: &str, tenant: &str, requests: usize, pages: usize, with_licenses: bool) -> anyhow::Result<Value> {
    let fields = if with_licenses {
        "id userPrincipalName displayName immutableId assigned usageLocation licenses"
    } else {
        "id userPrincipalName displayName immutableId assigned usageLocation"
    };
    let query = format!(
        "query($t: ID!, $after: String) {{ users(first: 50, after: $after, tenantId: $t) {{ edges {{ node {{ {fields} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let warmup = 100;
    let mut first_page = Samples::default();
    let mut later_pages = Samples::default();
    let mut after: Option<String> = None;
    let mut page = 0;
    for i in 0..warmup + requests {
        let t = Instant::now();
        let data = api.gql(operator, &query, json!({ "t": tenant, "after": after })).await?;
        let took = t.elapsed();
        let edges = data["users"]["edges"].as_array().map_or(0, Vec::len);
        if edges != 50 {
            bail!("expected a full page of 50 users, got {edges}: seed the tenant first");
        }
        if i >= warmup {
            if after.is_none() { first_page.add(took) } else { later_pages.add(took) }
        }
        page += 1;
        after = if page < pages { data["users"]["pageInfo"]["endCursor"].as_str().map(str::to_owned) } else { None };
        if after.is_none() {
            page = 0;
        }
    }
    let mut every = Samples::default();
    every.0.extend(&first_page.0);
    every.0.extend(&later_pages.0);
    Ok(json!({
        "benchmark": "read",
        "query": query,
        "requests": requests,
        "latency": every.summary(),
        "first_page": first_page.summary(),
        "cursor_pages": later_pages.summary(),
    }))
}

/// The projection-lag histogram between two scrapes: cumulative bucket counts per projection.
struct Lag {
    /// projection → [(upper bound, count in the window)], cumulative, ascending.
    buckets: HashMap<String, Vec<(f64, f64)>>,
}

impl Lag {
    fn parse(text: &str) -> HashMap<String, Vec<(f64, f64)>> {
        let mut out: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
        for line in text.lines().filter(|l| l.starts_with("tessera_projection_lag_seconds_bucket{")) {
            let Some((labels, value)) = line.rsplit_once(' ') else { continue };
            let label = |name: &str| labels.split(&format!("{name}=\"")).nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned);
            let (Some(projection), Some(le), Ok(count)) = (label("projection"), label("le"), value.parse::<f64>()) else { continue };
            let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::INFINITY) };
            out.entry(projection).or_default().push((bound, count));
        }
        for buckets in out.values_mut() {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        out
    }

    fn between(before: &str, after: &str) -> Self {
        let before = Self::parse(before);
        let mut buckets = Self::parse(after);
        for (projection, list) in &mut buckets {
            if let Some(old) = before.get(projection) {
                for (bound, count) in list.iter_mut() {
                    if let Some((_, was)) = old.iter().find(|(b, _)| b == bound) {
                        *count -= was;
                    }
                }
            }
        }
        Self { buckets }
    }

    /// The quantile by linear interpolation inside the bucket that holds it (as Prometheus'
    /// histogram_quantile does), in milliseconds.
    fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
        let total = buckets.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for &(bound, count) in buckets {
            if count >= rank {
                if bound.is_infinite() {
                    return Some(lower.0 * 1000.0);
                }
                let inside = count - lower.1;
                let fraction = if inside > 0.0 { (rank - lower.1) / inside } else { 1.0 };
                return Some((lower.0 + (bound - lower.0) * fraction) * 1000.0);
            }
            lower = (bound, count);
        }
        None
    }

    fn report(&self) -> Value {
        let mut per = serde_json::Map::new();
        let mut combined: Vec<(f64, f64)> = Vec::new();
        for (projection, buckets) in &self.buckets {
            per.insert(
                projection.clone(),
                json!({ "events": buckets.last().map(|b| b.1), "p50_ms": Self::quantile(buckets, 0.5), "p99_ms": Self::quantile(buckets, 0.99) }),
            );
            if combined.is_empty() {
                combined = buckets.clone();
            } else {
                for ((_, sum), (_, count)) in combined.iter_mut().zip(buckets) {
                    *sum += count;
                }
            }
        }
        json!({
            "all_projections": { "events": combined.last().map(|b| b.1), "p50_ms": Self::quantile(&combined, 0.5), "p99_ms": Self::quantile(&combined, 0.99) },
            "per_projection": per,
        })
    }
}

/// A minimal authoritative DNS responder for the verification TXT records (UDP; the answers
/// are far below 512 bytes, so TCP fallback never happens).
#[derive(Clone)]
struct Dns {
    records: Arc<RwLock<HashMap<String, Vec<String>>>>,
}

impl Dns {
    async fn start(addr: SocketAddr) -> anyhow::Result<Self> {
        let socket = tokio::net::UdpSocket::bind(addr).await.with_context(|| format!("binding DNS on {addr}"))?;
        let dns = Self { records: Arc::default() };
        let records = dns.records.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((len, peer)) = socket.recv_from(&mut buf).await else { continue };
                let answer = {
                    let records = records.read().await;
                    answer(&buf[..len], &records)
                };
                if let Some(bytes) = answer {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        Ok(dns)
    }

    async fn set_txt(&self, domain: &str, value: &str) {
        self.records.write().await.insert(format!("{}.", domain.to_ascii_lowercase()), vec![value.to_owned()]);
    }
}

fn answer(query: &[u8], records: &HashMap<String, Vec<String>>) -> Option<Vec<u8>> {
    use hickory_proto::op::{Message, MessageType, ResponseCode};
    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::{RData, Record, RecordType};
    use hickory_proto::serialize::binary::{BinDecodable, BinEncodable};

    let request = Message::from_bytes(query).ok()?;
    let mut response = Message::new();
    response
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_authoritative(true)
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true);
    response.add_queries(request.queries().to_vec());
    for question in request.queries() {
        let name = question.name().to_lowercase().to_ascii();
        match records.get(&name) {
            Some(values) if question.query_type() == RecordType::TXT => {
                response.add_answer(Record::from_rdata(question.name().clone(), 0, RData::TXT(TXT::new(values.clone()))));
            }
            Some(_) => {}
            None => {
                response.set_response_code(ResponseCode::NXDomain);
            }
        }
    }
    response.to_bytes().ok()
}
