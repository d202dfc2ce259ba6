//! actix-web wiring: the server, the correlation-id middleware, and the adapters from HTTP
//! to the transport-free Graph core and token endpoint.
//!
//! Every request to `/v1.0` and the token endpoint goes: read body → fault rules → (Graph:
//! bearer check → dispatch or `$batch`) → request log → response. Bodies are read by hand
//! so that an oversized or broken body still gets a Graph-shaped answer.

use std::io;
use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, Service as _};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage as _, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use futures::{FutureExt as _, StreamExt as _};
use serde_json::{Map, Value, json};

use super::EmulatorConfig;
use super::batch::{self, JSON_CONTENT_TYPE};
use super::errors::{GraphError, GraphResponse, RequestIds, finish};
use super::faults::Outcome;
use super::log::{LogEntry, body_json, redact};
use super::request::Call;
use super::state::{Shared, lock};
use super::token::{self, AadError, TokenRequest};
use super::{auth, conn, control, odata, router, seeding};

/// Largest Graph request body accepted (Graph's own limit is a few MB).
const BODY_LIMIT: usize = 4 * 1024 * 1024;

pub(crate) fn serve(listener: TcpListener, config: EmulatorConfig) -> io::Result<Server> {
    let base = match &config.public_base_url {
        Some(b) => b.trim_end_matches('/').to_owned(),
        None => {
            let addr = listener.local_addr()?;
            let host = if addr.ip().is_unspecified() {
                "127.0.0.1".to_owned()
            } else if addr.is_ipv6() {
                format!("[{}]", addr.ip())
            } else {
                addr.ip().to_string()
            };
            format!("http://{host}:{}", addr.port())
        }
    };
    let workers = config.workers.max(1);
    let shared = Shared::new(config, base);
    {
        let mut state = lock(&shared.state);
        seeding::apply(&mut state, &shared.config.seed, shared.now())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("seed: {e}")))?;
    }
    let shared = web::Data::new(shared);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .wrap_fn(|req, srv| {
                let client = req.headers().get("client-request-id").and_then(|v| v.to_str().ok());
                let ids = RequestIds::new(client);
                req.extensions_mut().insert(ids.clone());
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    let headers = res.headers_mut();
                    for (name, value) in [("request-id", &ids.request_id), ("client-request-id", &ids.client_request_id)] {
                        if let Ok(v) = HeaderValue::from_str(value) {
                            headers.insert(HeaderName::from_static(name), v);
                        }
                    }
                    Ok(res)
                }
            })
            .service(control::scope())
            .service(web::scope("/v1.0").default_service(web::to(graph)))
            .route("/{tenant}/oauth2/v2.0/token", web::post().to(token_endpoint))
            .route("/{tenant}/v2.0/.well-known/openid-configuration", web::get().to(openid_configuration))
            .default_service(web::to(not_found))
    })
    .workers(workers)
    // A saturated test machine can be slow to deliver a request head; Graph would not answer
    // that with 408, so the emulator waits.
    .client_request_timeout(std::time::Duration::ZERO)
    .disable_signals()
    .shutdown_timeout(5)
    .on_connect(conn::remember_socket)
    .listen(listener)?
    .run();
    Ok(server)
}

fn ids_of(req: &HttpRequest) -> RequestIds {
    req.extensions().get::<RequestIds>().cloned().unwrap_or_else(|| RequestIds::new(None))
}

async fn read_body(mut payload: web::Payload) -> Result<web::Bytes, GraphError> {
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| GraphError::odata("The request body could not be read."))?;
        if buf.len() + chunk.len() > BODY_LIMIT {
            return Err(GraphError::new(413, "Request_EntityTooLarge", "The request body is too large."));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn new_entry(req: &HttpRequest, ids: &RequestIds, shared: &Shared) -> LogEntry {
    LogEntry {
        seq: 0,
        time: shared.now(),
        method: req.method().as_str().to_owned(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        body: Value::Null,
        status: None,
        duration_ms: 0,
        request_id: ids.request_id.clone(),
        client_request_id: ids.client_request_id.clone(),
        tenant_id: None,
        client_id: None,
        fault: None,
        batch_request_id: None,
        batch_item_id: None,
    }
}

fn record(shared: &Shared, mut entry: LogEntry, status: Option<u16>, started: Instant) {
    entry.status = status;
    entry.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    lock(&shared.log).push(entry);
}

fn to_http(r: GraphResponse) -> HttpResponse {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut b = HttpResponse::build(status);
    for (k, v) in &r.headers {
        b.insert_header((k.as_str(), v.as_str()));
    }
    match r.body {
        Some(body) => b.content_type(JSON_CONTENT_TYPE).body(body.to_string()),
        None => b.finish(),
    }
}

/// Applies delay faults and reports the failure outcome, if any.
async fn faults(shared: &Shared, method: &str, path: &str) -> Option<Outcome> {
    let decision = lock(&shared.faults).decide(method, path);
    if decision.delay_ms > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(decision.delay_ms)).await;
    }
    decision.outcome
}

/// Runs a handler so that a bug becomes a Graph-shaped 500 instead of a reset connection.
async fn guarded(ids: RequestIds, handler: impl Future<Output = HttpResponse>) -> HttpResponse {
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            let error = GraphError::new(500, "InternalServerError", "The emulator failed while handling the request.");
            to_http(error.into_response(&ids, Utc::now()))
        }
    }
}

/// Everything under `/v1.0`.
async fn graph(req: HttpRequest, payload: web::Payload, shared: web::Data<Shared>) -> HttpResponse {
    guarded(ids_of(&req), graph_inner(req, payload, shared)).await
}

async fn graph_inner(req: HttpRequest, payload: web::Payload, shared: web::Data<Shared>) -> HttpResponse {
    let started = Instant::now();
    let ids = ids_of(&req);
    let mut entry = new_entry(&req, &ids, &shared);
    let body = match read_body(payload).await {
        Ok(b) => b,
        Err(e) => {
            let r = e.into_response(&ids, shared.now());
            record(&shared, entry, Some(r.status), started);
            return to_http(r);
        }
    };
    entry.body = body_json(&body);
    let outcome = faults(&shared, &entry.method, &entry.path).await;
    entry.fault = outcome.map(|o| o.name().to_owned());
    // A lost answer lets the request run first; every other fault answers instead of it.
    let lost_answer = outcome == Some(Outcome::LostAnswer);
    if let Some(outcome) = outcome.filter(|_| !lost_answer) {
        let Some(error) = outcome.graph_error() else {
            record(&shared, entry, None, started);
            return conn::drop_connection(&req);
        };
        let r = error.into_response(&ids, shared.now());
        record(&shared, entry, Some(r.status), started);
        return to_http(r);
    }
    let headers: Vec<(String, String)> =
        req.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    let path = entry.path.strip_prefix("/v1.0").unwrap_or(&entry.path).to_owned();
    let now = shared.now();
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok());
    let principal = auth::authenticate(&lock(&shared.state), authorization, now);
    let response = match principal {
        Err(e) => e.into_response(&ids, now),
        Ok(p) => {
            entry.tenant_id = Some(p.tenant_id.clone());
            entry.client_id = Some(p.client_id.clone());
            if router::is_batch(&entry.method, &path) {
                finish(batch::run(&shared, &p, &ids, &body), &ids, now)
            } else {
                let call = Call {
                    method: &entry.method,
                    path: &path,
                    query: &entry.query,
                    headers: &headers,
                    body: &body,
                    base: &shared.base_url,
                    now,
                };
                let result = router::dispatch(&mut lock(&shared.state), &p, &call);
                finish(result, &ids, now)
            }
        }
    };
    // The log keeps the status the request came to, so a lost answer's effect stays visible.
    record(&shared, entry, Some(response.status), started);
    if lost_answer {
        return conn::drop_connection(&req);
    }
    to_http(response)
}

fn aad_response(error: &AadError, ids: &RequestIds, shared: &Shared) -> HttpResponse {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    HttpResponse::build(status).insert_header(("Cache-Control", "no-store, no-cache")).json(error.body(ids, shared.now()))
}

/// `client_id:client_secret` from `Authorization: Basic` (each form-encoded, RFC 6749 §2.3.1).
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((router::percent_decode(id), router::percent_decode(secret)))
}

/// `POST /{tenant}/oauth2/v2.0/token`.
async fn token_endpoint(req: HttpRequest, tenant: web::Path<String>, payload: web::Payload, shared: web::Data<Shared>) -> HttpResponse {
    guarded(ids_of(&req), token_inner(req, tenant, payload, shared)).await
}

async fn token_inner(req: HttpRequest, tenant: web::Path<String>, payload: web::Payload, shared: web::Data<Shared>) -> HttpResponse {
    let started = Instant::now();
    let ids = ids_of(&req);
    let mut entry = new_entry(&req, &ids, &shared);
    let body = read_body(payload).await.unwrap_or_default();
    let form = odata::pairs(&String::from_utf8_lossy(&body)).unwrap_or_default();
    let logged: Map<String, Value> = form.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
    entry.body = redact(Value::Object(logged));
    if let Some(outcome) = faults(&shared, &entry.method, &entry.path).await {
        entry.fault = Some(outcome.name().to_owned());
        let Some(error) = outcome.graph_error() else {
            record(&shared, entry, None, started);
            return conn::drop_connection(&req);
        };
        let mut response = aad_response(&AadError::transient(error.status), &ids, &shared);
        if let Some(secs) = error.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(HeaderName::from_static("retry-after"), v);
        }
        record(&shared, entry, Some(error.status), started);
        return response;
    }
    let request = TokenRequest {
        tenant_segment: &tenant,
        form: &form,
        basic: basic_credentials(&req),
        base: &shared.base_url,
        now: shared.now(),
        lifetime_secs: shared.config.token_lifetime_secs,
    };
    let result = token::issue(&lock(&shared.state), &request);
    match result {
        Ok(issued) => {
            entry.tenant_id = Some(issued.tenant_id);
            entry.client_id = Some(issued.client_id);
            record(&shared, entry, Some(200), started);
            HttpResponse::Ok().insert_header(("Cache-Control", "no-store, no-cache")).json(issued.body)
        }
        Err(e) => {
            record(&shared, entry, Some(e.status), started);
            aad_response(&e, &ids, &shared)
        }
    }
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`, which MSAL reads first.
async fn openid_configuration(req: HttpRequest, tenant: web::Path<String>, shared: web::Data<Shared>) -> HttpResponse {
    let ids = ids_of(&req);
    let tenant_id = lock(&shared.state).tenant_by_segment(&tenant).map(|t| t.id.clone());
    let Some(tid) = tenant_id else {
        return aad_response(&AadError::tenant_not_found(&tenant), &ids, &shared);
    };
    let base = &shared.base_url;
    HttpResponse::Ok().json(json!({
        "issuer": format!("{base}/{tid}/v2.0"),
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    }))
}

async fn not_found(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let ids = ids_of(&req);
    let error = GraphError::new(404, "NotFound", format!("The emulator serves Graph under /v1.0 only; '{}' is not routed.", req.path()));
    to_http(error.into_response(&ids, shared.now()))
}
