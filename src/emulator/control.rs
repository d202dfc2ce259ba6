//! The control API under `/_emulator/`: seeding, fault injection, the request log, the
//! clock and reset. Documented in `docs/graph-emulator.md`.
//!
//! It is unauthenticated on purpose: it drives a test double, and anything able to reach
//! the emulator's port can already see all of its (fake) data.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::domains;
use super::faults::FaultRule;
use super::federation;
use super::groups;
use super::licenses::{LicenseView, render_sku};
use super::odata;
use super::seed::{AppSeed, DomainSeed, Seed, SkuSeed, TenantSeed};
use super::seeding;
use super::state::{EmulatorState, Shared, lock};
use super::users;

/// Seeds of many users are large; allow them.
const CONTROL_BODY_LIMIT: usize = 64 * 1024 * 1024;

pub(crate) fn scope() -> actix_web::Scope {
    web::scope("/_emulator")
        .app_data(web::PayloadConfig::new(CONTROL_BODY_LIMIT))
        .route("/health", web::get().to(health))
        .route("/reset", web::post().to(reset))
        .route("/seed", web::post().to(apply_seed))
        .route("/tenants", web::get().to(list_tenants))
        .route("/tenants", web::post().to(create_tenant))
        .route("/tenants/{tenant}", web::get().to(dump_tenant))
        .route("/tenants/{tenant}/apps", web::post().to(add_app))
        .route("/tenants/{tenant}/domains", web::post().to(add_domain))
        .route("/tenants/{tenant}/skus", web::post().to(add_sku))
        .route("/tenants/{tenant}/users", web::post().to(add_user))
        .route("/tenants/{tenant}/groups", web::post().to(add_group))
        .route("/faults", web::get().to(get_faults))
        .route("/faults", web::put().to(set_faults))
        .route("/faults", web::delete().to(clear_faults))
        .route("/requests", web::get().to(get_requests))
        .route("/requests", web::delete().to(clear_requests))
        .route("/clock", web::get().to(get_clock))
        .route("/clock", web::post().to(advance_clock))
        .default_service(web::to(|| async { error(404, "notFound", "No such control endpoint.") }))
}

fn error(status: u16, code: &str, message: impl Into<String>) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status).json(json!({"error": {"code": code, "message": message.into()}}))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Empties everything, then re-applies the startup seed.
async fn reset(shared: web::Data<Shared>) -> HttpResponse {
    shared.reset_clock();
    lock(&shared.log).clear();
    // The startup seed was validated at start, so re-applying it cannot fail in practice.
    let _ = lock(&shared.faults).set(Vec::new(), Some(shared.config.fault_seed));
    let mut state = lock(&shared.state);
    *state = EmulatorState::new();
    match seeding::apply(&mut state, &shared.config.seed, shared.now()) {
        Ok(tenants) => HttpResponse::Ok().json(json!({ "tenants": tenants })),
        Err(e) => error(500, "seedFailed", e),
    }
}

async fn apply_seed(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let seed: Seed = match parse(&body) {
        Ok(s) => s,
        Err(e) => return error(400, "invalidRequest", e),
    };
    let mut state = lock(&shared.state);
    match seeding::apply(&mut state, &seed, shared.now()) {
        Ok(tenants) => HttpResponse::Ok().json(json!({ "tenants": tenants })),
        Err(e) => error(400, "invalidSeed", e),
    }
}

async fn list_tenants(shared: web::Data<Shared>) -> HttpResponse {
    let state = lock(&shared.state);
    let tenants: Vec<Value> = state.tenants.iter().map(seeding::summary).collect();
    HttpResponse::Ok().json(json!({ "value": tenants }))
}

async fn create_tenant(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let ts: TenantSeed = match parse(&body) {
        Ok(s) => s,
        Err(e) => return error(400, "invalidRequest", e),
    };
    let mut state = lock(&shared.state);
    let existed = ts.id.as_deref().is_some_and(|id| state.tenant(id).is_some());
    if existed {
        return error(409, "conflict", "The tenant already exists; use POST /_emulator/seed to add to it.");
    }
    match seeding::apply(&mut state, &Seed { tenants: vec![ts] }, shared.now()) {
        Ok(mut tenants) => HttpResponse::Created().json(tenants.pop().unwrap_or(Value::Null)),
        Err(e) => error(400, "invalidSeed", e),
    }
}

/// Everything in a tenant, rendered as Graph would (plus members and app credentials'
/// thumbprints), for assertions in tests.
async fn dump_tenant(shared: web::Data<Shared>, path: web::Path<String>) -> HttpResponse {
    let state = lock(&shared.state);
    let Some(t) = state.tenant(&path) else {
        return error(404, "notFound", "No such tenant.");
    };
    let view = LicenseView::compute(t);
    let domains: Vec<Value> = t
        .domains
        .iter()
        .map(|d| {
            let mut m = domains::render(t, d);
            m.insert(
                "federationConfiguration".into(),
                Value::Array(d.federation.iter().map(|f| Value::Object(federation::render(f))).collect()),
            );
            Value::Object(m)
        })
        .collect();
    let apps: Vec<Value> = t
        .apps
        .iter()
        .map(|a| {
            json!({
                "clientId": a.client_id,
                "displayName": a.display_name,
                "permissions": a.roles,
                "hasSecret": a.secret.is_some(),
                "certificateThumbprints": a.certs.iter().map(|c| hex::encode_upper(&c.sha1)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let groups: Vec<Value> = t
        .groups
        .iter()
        .map(|g| {
            let mut m = groups::render(g, &view);
            m.insert("members".into(), json!(g.members));
            Value::Object(m)
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "id": t.id,
        "displayName": t.display_name,
        "domains": domains,
        "apps": apps,
        "skus": t.skus.iter().map(|s| Value::Object(render_sku(t, s, &view))).collect::<Vec<_>>(),
        "users": t.users.iter().map(|u| Value::Object(users::render(u, &view))).collect::<Vec<_>>(),
        "groups": groups,
    }))
}

/// Runs `add` on an existing tenant and answers 201 with the tenant summary.
fn with_tenant<T: DeserializeOwned>(
    shared: &Shared,
    tenant: &str,
    body: &[u8],
    add: impl FnOnce(&mut super::state::Tenant, T, chrono::DateTime<chrono::Utc>) -> Result<Value, String>,
) -> HttpResponse {
    let item: T = match parse(body) {
        Ok(i) => i,
        Err(e) => return error(400, "invalidRequest", e),
    };
    let now = shared.now();
    let mut state = lock(&shared.state);
    let Some(t) = state.tenant_mut(tenant) else {
        return error(404, "notFound", "No such tenant.");
    };
    match add(t, item, now) {
        Ok(created) => HttpResponse::Created().json(created),
        Err(e) => error(400, "invalidSeed", e),
    }
}

async fn add_app(shared: web::Data<Shared>, path: web::Path<String>, body: web::Bytes) -> HttpResponse {
    with_tenant(&shared, &path, &body, |t, a: AppSeed, _| {
        seeding::add_app(t, &a).map(|id| json!({ "clientId": id, "permissions": a.permissions }))
    })
}

async fn add_domain(shared: web::Data<Shared>, path: web::Path<String>, body: web::Bytes) -> HttpResponse {
    with_tenant(&shared, &path, &body, |t, d: DomainSeed, _| {
        seeding::add_domain(t, &d)?;
        let i = t.domain_index(&d.name).ok_or("domain vanished")?;
        Ok(Value::Object(domains::render(t, &t.domains[i])))
    })
}

async fn add_sku(shared: web::Data<Shared>, path: web::Path<String>, body: web::Bytes) -> HttpResponse {
    with_tenant(&shared, &path, &body, |t, s: SkuSeed, _| {
        let id = seeding::add_sku(t, &s)?;
        let view = LicenseView::compute(t);
        let sku = t.sku(id).ok_or("SKU vanished")?;
        Ok(Value::Object(render_sku(t, sku, &view)))
    })
}

async fn add_user(shared: web::Data<Shared>, path: web::Path<String>, body: web::Bytes) -> HttpResponse {
    with_tenant(&shared, &path, &body, |t, u: Value, now| {
        let id = seeding::add_user(t, &u, now, &mut seeding::Names::of(t))?;
        let view = LicenseView::compute(t);
        let i = t.user_index(&id).ok_or("user vanished")?;
        Ok(Value::Object(users::render(&t.users[i], &view)))
    })
}

async fn add_group(shared: web::Data<Shared>, path: web::Path<String>, body: web::Bytes) -> HttpResponse {
    with_tenant(&shared, &path, &body, |t, g: Value, now| {
        let id = seeding::add_group(t, &g, now, &mut seeding::Names::of(t))?;
        let view = LicenseView::compute(t);
        let i = t.group_index(&id).ok_or("group vanished")?;
        Ok(Value::Object(groups::render(&t.groups[i], &view)))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultsBody {
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    rules: Vec<FaultRule>,
}

fn faults_json(shared: &Shared) -> Value {
    let faults = lock(&shared.faults);
    json!({ "seed": faults.seed(), "rules": faults.rules() })
}

async fn get_faults(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(faults_json(&shared))
}

async fn set_faults(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let b: FaultsBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return error(400, "invalidRequest", e),
    };
    if let Err(e) = lock(&shared.faults).set(b.rules, b.seed) {
        return error(400, "invalidFault", e);
    }
    HttpResponse::Ok().json(faults_json(&shared))
}

async fn clear_faults(shared: web::Data<Shared>) -> HttpResponse {
    let mut faults = lock(&shared.faults);
    let seed = faults.seed();
    let _ = faults.set(Vec::new(), Some(seed));
    HttpResponse::NoContent().finish()
}

/// `GET /_emulator/requests[?since=SEQ]`: entries after a sequence number, oldest first.
async fn get_requests(shared: web::Data<Shared>, req: actix_web::HttpRequest) -> HttpResponse {
    let since = match odata::pairs(req.query_string()) {
        Ok(pairs) => pairs.iter().rev().find(|(k, _)| k == "since").map(|(_, v)| v.parse::<u64>()),
        Err(_) => None,
    };
    let since = match since {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return error(400, "invalidRequest", "since must be a sequence number"),
    };
    let entries = lock(&shared.log).since(since);
    HttpResponse::Ok().json(json!({ "value": entries }))
}

async fn clear_requests(shared: web::Data<Shared>) -> HttpResponse {
    lock(&shared.log).clear();
    HttpResponse::NoContent().finish()
}

fn clock_json(shared: &Shared) -> Value {
    json!({
        "now": shared.now().to_rfc3339(),
        "offsetSeconds": shared.clock_offset_ms() / 1000,
    })
}

async fn get_clock(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(clock_json(&shared))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AdvanceBody {
    advance_seconds: i64,
}

async fn advance_clock(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let b: AdvanceBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return error(400, "invalidRequest", e),
    };
    // A century either way is plenty for expiry tests and keeps date arithmetic in range.
    const LIMIT: i64 = 100 * 366 * 86_400;
    if !(-LIMIT..=LIMIT).contains(&b.advance_seconds) {
        return error(400, "invalidRequest", "advanceSeconds must be within ±100 years");
    }
    shared.advance_clock(b.advance_seconds);
    HttpResponse::Ok().json(clock_json(&shared))
}
