//! Two ids on every request: a fresh request id (`X-Request-Id`), and a correlation id taken
//! from `X-Correlation-Id` when the caller sends a sane one (so a chain of calls shares it), made
//! up otherwise. Both go on the response and the log span; the correlation id also goes into
//! every event written and every error returned.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use tracing::Instrument;

pub const HEADER: &str = "x-correlation-id";
pub const REQUEST_HEADER: &str = "x-request-id";

#[derive(Clone, Debug)]
pub struct CorrelationId(pub String);

impl CorrelationId {
    pub fn of(req: &HttpRequest) -> String {
        req.extensions().get::<CorrelationId>().map(|c| c.0.clone()).unwrap_or_default()
    }
}

fn acceptable(value: &str) -> bool {
    (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

pub async fn middleware(req: ServiceRequest, next: Next<impl MessageBody>) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    req.extensions_mut().insert(CorrelationId(id.clone()));
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("request", method = %req.method(), path = %req.path(), request_id = %request_id, correlation_id = %id);
    let started = std::time::Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request"));
    for (name, value) in [(HEADER, &id), (REQUEST_HEADER, &request_id)] {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(HeaderName::from_static(name), value);
        }
    }
    Ok(response)
}
