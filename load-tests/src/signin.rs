//! The WS-Federation sign-in benchmark (`tessera-load signin`), driven over HTTP as a browser
//! would: `wa=wsignin1.0` from Microsoft, the UPN page, the password page (with the CSRF token
//! and the session cookie the server set), and the self-posting token form at the end.
//!
//! Phases, one after the other against one server:
//! 1. set-up: a fresh tenant with a verified domain and `--users` assigned users with a password;
//! 2. SSO: every client signs in once, then repeats `wsignin1.0` with its session cookie and
//!    gets a token without a prompt (tokens/s, latency);
//! 3. password: every client repeats the whole sign-in (page → UPN → password) with a fresh
//!    cookie jar (sign-ins/s, latency of the whole flow and of the password post);
//! 4. with `--touch-sessions FILE`: every session listed there (made by `tessera-load sessions`,
//!    possibly through another server process on the same database) is used once for a token
//!    without a prompt, proving it is live.
//!
//! The server's resident memory is sampled from `/proc/<pid>/status` throughout.
//!
//! `tessera-load sessions` makes signed-in sessions by real sign-ins in a tenant of its own and
//! writes their cookies to a file.
//!
//! Only correct passwords are used, so the failure throttling never engages; users are spread
//! over clients so no account is hot.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::baseline::PASSWORD;
use super::{Api, Dns, Samples, Tenant, cpu, text};

/// What Microsoft sends (no `wreply`: the token goes to the global login endpoint), with a
/// `wctx` of a realistic length.
const SIGN_IN_QUERY: &str = "wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wctx=LoginOptions%3D3%26estsredirect%3D2%26estsrequest%3DrQQIARAAjZE9aNNQFIWT_v9QrYLgJBkEQZr0vZc0b4EiDG2UVmF1qm4pTS1NWkzDPtIGZsFEYjQQQQRB0FBUBwchcFBUELooJYBQVcQfEBQ0_kAcxEWPrS3Xe75zvnuHXRUuBx7xbZqBnxoKhS3Z9L.JU%26cbcxt%3D%26username%3D";
/// Where the server posts tokens when the request names no `wreply`.
const MICROSOFT_REPLY: &str = "https://login.microsoftonline.com/login.srf";

/// A benchmark tenant: users with `PASSWORD`, assigned to Microsoft 365.
pub struct SignInTenant {
    id: String,
    users: Vec<String>,
}

pub async fn set_up(api: &Api, operator: &str, dns: &Dns, users: usize) -> anyhow::Result<SignInTenant> {
    let tenant = Tenant::set_up(api, operator, dns).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(Mutex::new(Vec::with_capacity(users)));
    let mut tasks = Vec::new();
    // Each user costs an argon2 hash on the server: a few clients keep the cores busy.
    for _ in 0..4 {
        let (api, key, domain, next, made) = (api.clone(), tenant.admin_key.clone(), tenant.domain.clone(), next.clone(), made.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= users {
                    return anyhow::Ok(());
                }
                let upn = format!("signer{n:04}@{domain}");
                let created = api
                    .gql(
                        &key,
                        "mutation($u: String!, $p: String!) { createUser(input: { userPrincipalName: $u, displayName: \"Load Signer\", password: $p }) { id } }",
                        json!({ "u": upn, "p": PASSWORD }),
                    )
                    .await?;
                let id = text(&created, &["createUser", "id"])?.to_owned();
                api.gql(&key, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({ "u": id })).await?;
                made.lock().await.push(upn);
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let mut users = std::mem::take(&mut *made.lock().await);
    users.sort();
    Ok(SignInTenant { id: tenant.id, users })
}

/// One browser's view of a page: status and body.
struct Page {
    status: u16,
    body: String,
}

impl Page {
    fn hidden(&self, name: &str) -> anyhow::Result<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start =
            self.body.find(&marker).ok_or_else(|| anyhow!("no {name} field on the page (HTTP {}): {}", self.status, self.excerpt()))?
                + marker.len();
        let len = self.body[start..].find('"').ok_or_else(|| anyhow!("unterminated {name} field"))?;
        Ok(unescape(&self.body[start..start + len]))
    }

    fn excerpt(&self) -> String {
        self.body.chars().take(600).collect()
    }

    /// The self-posting token form for `upn` to Microsoft.
    fn expect_token(&self, upn: &str) -> anyhow::Result<()> {
        if self.status != 200 || !self.body.contains("name=\"wresult\"") {
            bail!("expected the token form, got HTTP {}: {}", self.status, self.excerpt());
        }
        if !self.body.contains(&format!("action=\"{MICROSOFT_REPLY}\"")) || !self.body.contains(upn) {
            bail!("the token form does not post {upn}'s token to Microsoft");
        }
        Ok(())
    }
}

fn unescape(value: &str) -> String {
    value.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The HTTP side of the sign-in pages, with the session cookie handled by hand (the one cookie
/// the server sets), so every simulated browser is independent over shared connections.
#[derive(Clone)]
pub struct Pages {
    http: reqwest::Client,
    base: String,
    tenant: String,
}

impl Pages {
    fn new(base: &str, tenant: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(512)
            .build()?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned(), tenant: tenant.to_owned() })
    }

    async fn send(&self, request: reqwest::RequestBuilder, cookie: &mut Option<String>) -> anyhow::Result<Page> {
        let request = match cookie.as_deref() {
            Some(c) => request.header("Cookie", format!("tessera_session={c}")),
            None => request,
        };
        let response = request.header("User-Agent", "tessera-load").send().await?;
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str()?;
            let pair = value.split(';').next().unwrap_or_default();
            if let Some(v) = pair.strip_prefix("tessera_session=") {
                *cookie = (!v.is_empty()).then(|| v.to_owned());
            }
        }
        let status = response.status().as_u16();
        Ok(Page { status, body: response.text().await? })
    }

    async fn start(&self, cookie: &mut Option<String>) -> anyhow::Result<Page> {
        let url = format!("{}/wsfed/{}?{SIGN_IN_QUERY}", self.base, self.tenant);
        self.send(self.http.get(url), cookie).await
    }

    async fn submit(&self, page: &Page, step: &str, fields: &[(&str, &str)], cookie: &mut Option<String>) -> anyhow::Result<Page> {
        let mut form = vec![("csrf", page.hidden("csrf")?), ("request", page.hidden("request")?), ("step", step.to_owned())];
        form.extend(fields.iter().map(|(n, v)| (*n, (*v).to_owned())));
        let url = format!("{}/wsfed/{}/signin", self.base, self.tenant);
        self.send(self.http.post(url).form(&form), cookie).await
    }

    /// The whole sign-in with a fresh cookie jar: returns the signed-in session cookie and how
    /// long the password post took.
    async fn sign_in(&self, upn: &str) -> anyhow::Result<(String, Duration)> {
        let mut cookie = None;
        let page = self.start(&mut cookie).await?;
        if cookie.is_none() {
            bail!("the sign-in page set no session cookie (HTTP {}): {}", page.status, page.excerpt());
        }
        let page = self.submit(&page, "upn", &[("upn", upn)], &mut cookie).await?;
        if !page.body.contains("name=\"password\"") {
            bail!("expected the password page, got HTTP {}: {}", page.status, page.excerpt());
        }
        let anonymous = cookie.clone();
        let t = Instant::now();
        let page = self.submit(&page, "password", &[("upn", upn), ("password", PASSWORD)], &mut cookie).await?;
        let took = t.elapsed();
        page.expect_token(upn)?;
        match cookie {
            Some(c) if Some(&c) != anonymous.as_ref() => Ok((c, took)),
            _ => bail!("signing in did not issue a new session id"),
        }
    }

    /// Single sign-on: a token for the session's user without a prompt.
    async fn sso(&self, session: &str, upn: &str) -> anyhow::Result<()> {
        let mut cookie = Some(session.to_owned());
        let page = self.start(&mut cookie).await?;
        page.expect_token(upn)
    }
}

/// Resident memory of the server, sampled in the background.
struct Rss {
    pid: Option<u32>,
}

impl Rss {
    fn read(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    fn now_mb(&self) -> Option<f64> {
        self.read("VmRSS:")
    }

    fn peak_mb(&self) -> Option<f64> {
        self.read("VmHWM:")
    }

    /// Samples every 100 ms until `stop`; returns the largest value seen.
    fn sample_while(self: &Arc<Self>, stop: Arc<tokio::sync::Notify>) -> tokio::task::JoinHandle<Option<f64>> {
        let rss = self.clone();
        tokio::spawn(async move {
            let mut max: Option<f64> = None;
            loop {
                if let Some(mb) = rss.now_mb() {
                    max = Some(max.map_or(mb, |m| m.max(mb)));
                }
                tokio::select! {
                    () = stop.notified() => return max,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        })
    }
}

/// CPU snapshots taken when the measured window opens and when it closes.
fn cpu_window(
    server_pid: Option<u32>,
    from: Instant,
    to: Instant,
) -> tokio::task::JoinHandle<(Option<cpu::Snapshot>, Option<cpu::Snapshot>)> {
    tokio::spawn(async move {
        tokio::time::sleep_until(from.into()).await;
        let first = cpu::snapshot(server_pid);
        tokio::time::sleep_until(to.into()).await;
        (first, cpu::snapshot(server_pid))
    })
}

/// Completions of one kind: latency samples of those ending inside the window.
#[derive(Default)]
struct Window {
    latency: Samples,
    step: Samples,
    errors: u64,
    first_error: Option<String>,
}

impl Window {
    fn error(&mut self, e: &anyhow::Error) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| format!("{e:#}"));
    }

    fn merge(&mut self, other: Window) {
        self.latency.merge(other.latency);
        self.step.merge(other.step);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

pub struct Options {
    pub clients: usize,
    pub warmup: Duration,
    pub measured: Duration,
    /// Sessions to use once each at the end (`cookie upn` lines).
    pub touch: Option<std::path::PathBuf>,
    pub server_pid: Option<u32>,
}

pub async fn run(api: &Api, operator: &str, dns: &Dns, users: usize, options: &Options) -> anyhow::Result<Value> {
    let touch = match &options.touch {
        Some(path) => Some(read_sessions(path)?),
        None => None,
    };
    let tenant = set_up(api, operator, dns, users).await?;
    if tenant.users.is_empty() {
        bail!("no users");
    }
    let pages = Pages::new(&api.base, &tenant.id)?;
    let rss = Arc::new(Rss { pid: options.server_pid });
    let idle_mb = rss.now_mb();

    let stop = Arc::new(tokio::sync::Notify::new());
    let sampler = rss.sample_while(stop.clone());
    let (sso, sso_sessions) = sso(&pages, &tenant, options).await?;
    stop.notify_one();
    let sso_rss = sampler.await?;

    let stop = Arc::new(tokio::sync::Notify::new());
    let sampler = rss.sample_while(stop.clone());
    let (password, password_sessions) = password(&pages, &tenant, options).await?;
    stop.notify_one();
    let password_rss = sampler.await?;

    let touched = match touch {
        Some((tenant_id, sessions)) => {
            let stop = Arc::new(tokio::sync::Notify::new());
            let sampler = rss.sample_while(stop.clone());
            let mut touched = touch_all(&Pages::new(&api.base, &tenant_id)?, options.clients, sessions).await?;
            stop.notify_one();
            touched["server_rss_mb"] = json!({ "max_while_touching": sampler.await?, "after": rss.now_mb() });
            touched["also_live_from_this_run"] = json!(sso_sessions.len() + password_sessions.len());
            Some(touched)
        }
        None => None,
    };
    Ok(json!({
        "benchmark": "signin",
        "tenant": tenant.id,
        "users": tenant.users.len(),
        "clients": options.clients,
        "sso": sso,
        "password": password,
        "sessions": touched,
        "server_rss_mb": {
            "idle_after_setup": idle_mb,
            "max_during_sso": sso_rss,
            "max_during_password": password_rss,
            "at_end": rss.now_mb(),
            "peak_since_start_vmhwm": rss.peak_mb(),
        },
    }))
}

fn user_for(tenant: &SignInTenant, n: usize) -> String {
    tenant.users[n % tenant.users.len()].clone()
}

async fn sso(pages: &Pages, tenant: &SignInTenant, options: &Options) -> anyhow::Result<(Value, Vec<(String, String)>)> {
    // Every client signs in once (not measured), then only asks for tokens.
    let mut sessions = Vec::new();
    for client in 0..options.clients {
        let upn = user_for(tenant, client);
        let (cookie, _) = pages.sign_in(&upn).await.with_context(|| format!("signing in {upn} for the SSO phase"))?;
        sessions.push((cookie, upn));
    }
    let started = Instant::now();
    let measure_from = started + options.warmup;
    let end = measure_from + options.measured;
    let cpu = cpu_window(options.server_pid, measure_from, end);
    let mut tasks = Vec::new();
    for (cookie, upn) in sessions.clone() {
        let pages = pages.clone();
        tasks.push(tokio::spawn(async move {
            let mut window = Window::default();
            while Instant::now() < end {
                let t = Instant::now();
                let result = pages.sso(&cookie, &upn).await;
                let finished = Instant::now();
                match result {
                    Ok(()) if t >= measure_from && finished <= end => window.latency.add(finished - t),
                    Ok(()) => {}
                    Err(e) => window.error(&e),
                }
            }
            window
        }));
    }
    let mut all = Window::default();
    for task in tasks {
        all.merge(task.await?);
    }
    let seconds = options.measured.as_secs_f64();
    let tokens = all.latency.0.len();
    let (from, to) = cpu.await?;
    Ok((
        json!({
            "tokens": tokens,
            "seconds": seconds,
            "tokens_per_second": tokens as f64 / seconds,
            "cpu_per_token": cpu::per_operation(from, to, tokens),
            "errors": all.errors,
            "first_error": all.first_error,
            "latency": all.latency.summary(),
        }),
        sessions,
    ))
}

async fn password(pages: &Pages, tenant: &SignInTenant, options: &Options) -> anyhow::Result<(Value, Vec<(String, String)>)> {
    let started = Instant::now();
    let measure_from = started + options.warmup;
    let end = measure_from + options.measured;
    let cpu = cpu_window(options.server_pid, measure_from, end);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..options.clients {
        let (pages, next) = (pages.clone(), next.clone());
        let users = tenant.users.clone();
        tasks.push(tokio::spawn(async move {
            let mut window = Window::default();
            let mut sessions = Vec::new();
            while Instant::now() < end {
                let upn = users[next.fetch_add(1, Ordering::Relaxed) % users.len()].clone();
                let t = Instant::now();
                let result = pages.sign_in(&upn).await;
                let finished = Instant::now();
                match result {
                    Ok((cookie, step)) => {
                        if t >= measure_from && finished <= end {
                            window.latency.add(finished - t);
                            window.step.add(step);
                        }
                        sessions.push((cookie, upn));
                    }
                    Err(e) => window.error(&e),
                }
            }
            (window, sessions)
        }));
    }
    let mut all = Window::default();
    let mut sessions = Vec::new();
    for task in tasks {
        let (window, s) = task.await?;
        all.merge(window);
        sessions.extend(s);
    }
    let seconds = options.measured.as_secs_f64();
    let sign_ins = all.latency.0.len();
    let (from, to) = cpu.await?;
    Ok((
        json!({
            "sign_ins": sign_ins,
            "seconds": seconds,
            "sign_ins_per_second": sign_ins as f64 / seconds,
            "cpu_per_sign_in": cpu::per_operation(from, to, sign_ins),
            "errors": all.errors,
            "first_error": all.first_error,
            "latency_whole_flow": all.latency.summary(),
            "latency_password_post": all.step.summary(),
        }),
        sessions,
    ))
}

/// `tessera-load sessions`: `count` signed-in sessions by real sign-ins of `clients` clients,
/// written to `out` as `tenant` then `cookie upn` lines.
pub async fn make_sessions(
    api: &Api,
    operator: &str,
    dns: &Dns,
    users: usize,
    clients: usize,
    count: usize,
    out: &std::path::Path,
) -> anyhow::Result<Value> {
    let tenant = set_up(api, operator, dns, users).await?;
    let pages = Pages::new(&api.base, &tenant.id)?;
    let started = Instant::now();
    let sessions = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (pages, sessions, next, errors) = (pages.clone(), sessions.clone(), next.clone(), errors.clone());
        let users = tenant.users.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return anyhow::Ok(());
                }
                if n > 0 && n % 1000 == 0 {
                    eprintln!("{n} signed-in sessions after {:.0} s", started.elapsed().as_secs_f64());
                }
                let upn = users[n % users.len()].clone();
                match pages.sign_in(&upn).await {
                    Ok((cookie, _)) => sessions.lock().await.push((cookie, upn)),
                    Err(e) => {
                        // A failed sign-in is retried under a new number, so the count is met.
                        next.fetch_sub(1, Ordering::Relaxed);
                        if errors.fetch_add(1, Ordering::Relaxed) >= 100 {
                            return Err(e.context("more than 100 failed sign-ins while making sessions"));
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let sessions = std::mem::take(&mut *sessions.lock().await);
    let mut file = format!("{}\n", tenant.id);
    for (cookie, upn) in &sessions {
        file.push_str(&format!("{cookie} {upn}\n"));
    }
    std::fs::write(out, file).with_context(|| format!("writing {}", out.display()))?;
    Ok(json!({
        "benchmark": "sessions",
        "tenant": tenant.id,
        "users": tenant.users.len(),
        "sessions": sessions.len(),
        "seconds": started.elapsed().as_secs_f64(),
        "errors": errors.load(Ordering::Relaxed),
    }))
}

fn read_sessions(path: &std::path::Path) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let tenant = lines.next().ok_or_else(|| anyhow!("{} is empty", path.display()))?.to_owned();
    let sessions = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once(' ').map(|(c, u)| (c.to_owned(), u.to_owned())).ok_or_else(|| anyhow!("bad line in {}", path.display())))
        .collect::<anyhow::Result<_>>()?;
    Ok((tenant, sessions))
}

/// Uses every session once: each must still give a token without a prompt.
async fn touch_all(pages: &Pages, clients: usize, sessions: Vec<(String, String)>) -> anyhow::Result<Value> {
    let started = Instant::now();
    let total = sessions.len();
    let sessions = Arc::new(sessions);
    let cursor = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (pages, sessions, cursor) = (pages.clone(), sessions.clone(), cursor.clone());
        tasks.push(tokio::spawn(async move {
            let (mut live, mut window) = (0usize, Window::default());
            loop {
                let i = cursor.fetch_add(1, Ordering::Relaxed);
                let Some((cookie, upn)) = sessions.get(i) else { return (live, window) };
                match pages.sso(cookie, upn).await {
                    Ok(()) => live += 1,
                    Err(e) => window.error(&e),
                }
            }
        }));
    }
    let (mut live, mut all) = (0, Window::default());
    for task in tasks {
        let (l, w) = task.await?;
        live += l;
        all.merge(w);
    }
    Ok(json!({
        "sessions_listed": total,
        "live_confirmed_by_sso": live,
        "seconds": started.elapsed().as_secs_f64(),
        "errors": all.errors,
        "first_error": all.first_error,
    }))
}
