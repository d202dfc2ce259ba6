use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::app::Tessera;

/// GET /healthz: the process is up and serving.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness bound, from configuration.
#[derive(Clone, Copy)]
pub struct ReadinessBound {
    pub max_projection_lag_seconds: i64,
}

/// GET /readyz: the database answers, every migration is applied, and the projections are
/// caught up within the configured bound. 503 with the failing checks otherwise.
pub async fn readyz(app: web::Data<Arc<Tessera>>, bound: web::Data<ReadinessBound>) -> HttpResponse {
    let db = app.db();
    let database = db.ping().await.is_ok();
    let migrations = database && db.migrations_applied().await.unwrap_or(false);
    let stale = if migrations { crate::read::health::stale_events(db, bound.max_projection_lag_seconds).await.ok() } else { None };
    let projections = stale == Some(0);
    let body = json!({
        "status": if projections { "ready" } else { "not ready" },
        "checks": { "database": database, "migrations": migrations, "projections": projections },
        "unprojectedEventsOlderThanBound": stale,
    });
    if projections { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}
