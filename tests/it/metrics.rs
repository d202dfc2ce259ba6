use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(metrics_show_projection_lag_and_commands);

/// GET /metrics answers in Prometheus text format, without a key, with the projection-lag
/// histogram (fine buckets around 1–100 ms) and command durations, and no tenant ids.
async fn metrics_show_projection_lag_and_commands(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Metrics").await;
    app.verified_domain(&admin, "metrics.example.com").await;
    app.create_user(&admin, "adele@metrics.example.com").await;

    let response = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let body = response.text().await.unwrap();
    assert!(body.contains("# TYPE tessera_projection_lag_seconds histogram"), "{body}");
    for projection in ["users", "tenants", "domains"] {
        assert!(body.contains(&format!("tessera_projection_lag_seconds_bucket{{projection=\"{projection}\",le=\"0.01\"}}")), "{body}");
    }
    assert!(body.contains("tessera_projection_lag_seconds_count{projection=\"users\"}"), "{body}");
    assert!(body.contains("tessera_projected_events_total{projection=\"users\"}"), "{body}");
    assert!(body.contains("tessera_command_duration_seconds_bucket{aggregate=\"User\",outcome=\"ok\""), "{body}");
    assert!(!body.contains(&tenant), "metrics must not carry tenant ids");
}
