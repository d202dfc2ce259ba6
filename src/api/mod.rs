//! HTTP: the GraphQL admin API, health probes, and the middleware around them.

pub mod audit;
pub mod error;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod request_id;
pub mod signin;

use actix_web::web;

/// Bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .route("/graphql", web::post().to(graphql::graphql_post))
        .route("/graphql", web::get().guard(actix_web::guard::Header("upgrade", "websocket")).to(graphql::graphql_ws))
        .route("/graphql", web::get().to(graphql::graphiql))
        .route("/audit/export", web::get().to(audit::export))
        .route("/audit/{tenant}/public-key.pem", web::get().to(audit::public_key))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::metrics))
        .configure(signin::routes);
}
