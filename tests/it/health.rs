use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(probes_and_correlation_ids);

async fn probes_and_correlation_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    let live = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200);
    let ready = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["migrations"], true);
    assert_eq!(body["checks"]["projections"], true);

    // A caller's correlation id comes back; a made-up one is added otherwise.
    let response = app.client.get(format!("{}/healthz", app.address)).header("x-correlation-id", "abc-123").send().await.unwrap();
    assert_eq!(response.headers()["x-correlation-id"], "abc-123");
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&request_id).is_ok());
    let response = app.client.get(format!("{}/healthz", app.address)).header("x-correlation-id", "bad id; drop").send().await.unwrap();
    assert_ne!(response.headers()["x-correlation-id"], "bad id; drop");

    let graphiql = app.client.get(format!("{}/graphql", app.address)).send().await.unwrap();
    assert_eq!(graphiql.status().as_u16(), 200);
    assert!(graphiql.text().await.unwrap().contains("graphiql"));
}
