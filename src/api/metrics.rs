use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;

/// GET /metrics: Prometheus text format (projection lag, command durations). Unauthenticated like
/// the health probes; it carries no tenant ids or personal data.
pub async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(handle.render())
}
