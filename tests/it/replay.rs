//! `tessera replay` and upcasting of old payload shapes.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(replay_matches_the_live_read_models_and_reports_drift, an_old_payload_shape_is_read_as_the_current_one);

pub fn replay(database_url: &str) -> std::process::Output {
    crate::helpers::process::tessera_cli(database_url, &["replay"])
}

async fn replay_matches_the_live_read_models_and_reports_drift(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.seed_directory(&admin, 3).await;
    let output = replay(&app.database_url);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("OK: the replayed read models equal the live ones"), "{stdout}");
    assert!(stdout.contains("users: 3 rows") && !stdout.contains("NOT COMPARED"), "{stdout}");

    // A read model that drifted from the events is reported, row by row.
    let mut tx = app.app.db().begin_system().await.unwrap();
    tx.execute("UPDATE users SET display_name = 'Drifted' WHERE upn = 'u1@contoso.com'", &[]).await.unwrap();
    tx.execute("DELETE FROM group_members WHERE user_id IN (SELECT user_id FROM users WHERE upn = 'u2@contoso.com')", &[]).await.unwrap();
    tx.commit().await.unwrap();
    let output = replay(&app.database_url);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("DIFFERENCE in users:") && stdout.contains("Drifted"), "{stdout}");
    assert!(stdout.contains("DIFFERENCE in group_members:"), "{stdout}");
}

async fn an_old_payload_shape_is_read_as_the_current_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    // A GroupCreated in its pre-1.0 shape (`display_name`), as an old release wrote it.
    let group = uuid::Uuid::now_v7().to_string();
    let payload = json!({ "GroupCreated": { "tenant_id": tenant, "group_id": group, "display_name": "Legacy", "description": null } });
    let metadata = json!({ "tenant_id": tenant, "actor": "system:old-release", "correlation_id": "old", "occurred_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true) });
    let json = if app.app.db().backend() == tessera::db::Backend::Postgres { "::json" } else { "" };
    let mut tx = app.app.db().begin_system().await.unwrap();
    tx.execute(
        &format!("INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES ('Group', $1, 1, 'GroupCreated', '0.9', $2{json}, $3{json})"),
        tessera::args![format!("{tenant}/{group}"), payload.to_string(), metadata.to_string()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // The projection reads it (after its poll), and the aggregate loads it to decide a command.
    let mut found = serde_json::Value::Null;
    for _ in 0..50 {
        found = app.ok(&admin, "query($g: ID!) { group(id: $g) { displayName } }", json!({ "g": group })).await["group"].clone();
        if !found.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found["displayName"], "Legacy");
    let data =
        app.ok(&admin, "mutation($g: ID!) { renameGroup(id: $g, displayName: \"Renamed\") { displayName } }", json!({ "g": group })).await;
    assert_eq!(data["renameGroup"]["displayName"], "Renamed");
    // The chain covers the stored bytes, not the upcast.
    assert!(tessera::audit::verify_db(app.app.db(), &tenant).await.unwrap().ok());
}
