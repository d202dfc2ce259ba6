//! The audit trail: complete event metadata, the per-tenant hash chain with signed checkpoints,
//! tampering directly in SQL caught by `audit verify`, and the offline-verifiable export.

use std::process::Command;

use serde_json::{Value, json};
use tessera::db::{Backend as DbBackend, Db};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(
    events_carry_request_metadata_and_origins_live_beside_them,
    an_untouched_chain_verifies,
    a_changed_event_is_caught,
    a_deleted_event_is_caught,
    an_inserted_event_is_caught,
    reordered_events_are_caught,
    a_rewritten_chain_is_caught_by_the_signed_checkpoints,
    an_export_verifies_offline_and_catches_edits,
);

#[derive(sqlx::FromRow)]
struct Pos {
    position: i64,
}

/// A tenant with a domain and three users: (app, tenant id, admin key, the tenant's positions).
async fn populated(backend: Backend) -> (TestApp, String, String, Vec<i64>) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    for i in 0..3 {
        app.create_user(&admin, &format!("u{i}@contoso.com")).await;
    }
    let positions = positions(app.app.db(), &tenant).await;
    assert!(positions.len() >= 8, "{positions:?}");
    (app, tenant, admin, positions)
}

async fn positions(db: &Db, tenant: &str) -> Vec<i64> {
    let mut tx = db.begin_system().await.unwrap();
    let rows: Vec<Pos> =
        tx.fetch_all("SELECT position FROM events WHERE tenant_id = $1 ORDER BY position", tessera::args![tenant]).await.unwrap();
    tx.commit().await.unwrap();
    rows.into_iter().map(|r| r.position).collect()
}

async fn sql(db: &Db, statements: &[String]) {
    let mut tx = db.begin_system().await.unwrap();
    for statement in statements {
        tx.execute(statement, &[]).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn verify(app: &TestApp, tenant: &str) -> tessera::audit::Report {
    tessera::audit::verify_db(app.app.db(), tenant).await.unwrap()
}

fn first_bad(report: &tessera::audit::Report) -> i64 {
    report.failure.as_ref().unwrap_or_else(|| panic!("tampering went unnoticed: {report:?}")).position
}

async fn events_carry_request_metadata_and_origins_live_beside_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&admin)
        .header("User-Agent", "audit-test/1.0")
        .header("X-Correlation-Id", "corr-audit-1")
        .json(&json!({ "query": "mutation { addDomain(name: \"contoso.com\") { name } }" }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());

    #[derive(sqlx::FromRow)]
    struct Meta {
        metadata: String,
        event_version: String,
    }
    let mut tx = app.app.db().begin_system().await.unwrap();
    let meta: Meta = tx
        .fetch_optional(
            "SELECT CAST(metadata AS TEXT) AS metadata, event_version FROM events WHERE aggregate_type = 'Domain' ORDER BY position LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .expect("the domain event");
    let metadata: Value = serde_json::from_str(&meta.metadata).unwrap();
    assert_eq!(metadata["tenant_id"], tenant.as_str());
    assert_eq!(metadata["correlation_id"], "corr-audit-1");
    assert_eq!(metadata["actor_role"], "ADMIN");
    assert!(metadata["actor"].as_str().unwrap().starts_with("api-key:"));
    let request_id = metadata["request_id"].as_str().expect("a request id").to_owned();
    assert_eq!(metadata["causation_id"], format!("request:{request_id}").as_str());
    assert!(!meta.event_version.is_empty());
    // IP and user agent are personal data: never in the (forever, hash-chained) event…
    assert!(metadata.get("client_ip").is_none() && !meta.metadata.contains("audit-test"));

    // …but beside it, joinable by request id and purgeable.
    #[derive(sqlx::FromRow)]
    struct Origin {
        client_ip: Option<String>,
        user_agent: Option<String>,
    }
    let origin: Origin = tx
        .fetch_optional(
            "SELECT client_ip, user_agent FROM request_origins WHERE tenant_id = $1 AND request_id = $2",
            tessera::args![tenant.clone(), request_id],
        )
        .await
        .unwrap()
        .expect("the request's origin");
    tx.commit().await.unwrap();
    assert_eq!(origin.client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(origin.user_agent.as_deref(), Some("audit-test/1.0"));

    // Purged on retention with the real CLI; the history still verifies.
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["audit", "purge-origins", "--older-than-days", "0"])
        .env("DATABASE_URL", &app.database_url)
        .env("TESSERA_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut tx = app.app.db().begin_system().await.unwrap();
    let left: Option<Origin> = tx.fetch_optional("SELECT client_ip, user_agent FROM request_origins", &[]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(left.is_none());
    assert!(verify(&app, &tenant).await.ok());
}

async fn an_untouched_chain_verifies(backend: Backend) {
    let (app, tenant, _, positions) = populated(backend).await;
    let report = verify(&app, &tenant).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events as usize, positions.len());
    assert!(report.checkpoints >= 2, "signed every 3 events in tests: {report:?}");
    // The platform chain (operator keys) verifies too.
    assert!(verify(&app, "").await.ok());
    // The periodic signer signs every head that grew since its last checkpoint, once.
    let crypto = tessera::crypto::Crypto::new(tessera::crypto::MasterKeyRing::parse(crate::helpers::app_master_key()).unwrap());
    if report.last_signed_seq < report.last_seq {
        assert!(tessera::audit::sign_unsigned_heads(app.app.db(), &crypto).await.unwrap() >= 1);
    }
    let signed = verify(&app, &tenant).await;
    assert!(signed.ok() && signed.last_signed_seq == signed.last_seq, "{signed:?}");
    assert_eq!(tessera::audit::sign_unsigned_heads(app.app.db(), &crypto).await.unwrap(), 0);

    // The real CLI, against the database.
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["audit", "verify", "--tenant", &tenant])
        .env("DATABASE_URL", &app.database_url)
        .env("TESSERA_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("OK"));
}

async fn a_changed_event_is_caught(backend: Backend) {
    let (app, tenant, _, positions) = populated(backend).await;
    let target = positions[positions.len() - 2];
    let statement = format!("UPDATE events SET payload = '{{\"forged\": true}}' WHERE position = {target}");
    sql(app.app.db(), &[statement]).await;
    assert_eq!(first_bad(&verify(&app, &tenant).await), target);

    // The CLI names it and fails.
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["audit", "verify", "--tenant", &tenant])
        .env("DATABASE_URL", &app.database_url)
        .env("TESSERA_LOG", "warn")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("first bad position {target}")));
}

async fn a_deleted_event_is_caught(backend: Backend) {
    let (app, tenant, _, positions) = populated(backend).await;
    let target = positions[3];
    sql(app.app.db(), &[format!("DELETE FROM events WHERE position = {target}")]).await;
    assert_eq!(first_bad(&verify(&app, &tenant).await), target);
}

async fn an_inserted_event_is_caught(backend: Backend) {
    let (app, tenant, _, _) = populated(backend).await;
    let metadata = json!({ "tenant_id": tenant, "actor": "api-key:forged", "correlation_id": "x", "occurred_at": "2020-01-01T00:00:00Z" });
    // Back-dated below every reader's checkpoint, as a forger would.
    let statements = match app.app.db().backend() {
        DbBackend::Postgres => vec![format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, position, txid)
             OVERRIDING SYSTEM VALUE VALUES ('user', '{tenant}/forged', 1, 'UserDeleted', '1', '{{}}', '{metadata}', 0, '3'::xid8)"
        )],
        DbBackend::Sqlite => vec![
            format!(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                 VALUES ('user', '{tenant}/forged', 1, 'UserDeleted', '1', '{{}}', '{metadata}')"
            ),
            format!("UPDATE events SET position = 0 WHERE aggregate_id = '{tenant}/forged'"),
        ],
    };
    sql(app.app.db(), &statements).await;
    assert_eq!(first_bad(&verify(&app, &tenant).await), 0);
}

async fn reordered_events_are_caught(backend: Backend) {
    let (app, tenant, _, positions) = populated(backend).await;
    let (a, b) = (positions[2], positions[4]);
    if app.app.db().backend() == DbBackend::Postgres {
        // The table's owner can lift the identity guard first.
        sql(app.app.db(), &["ALTER TABLE events ALTER COLUMN position SET GENERATED BY DEFAULT".to_owned()]).await;
    }
    sql(
        app.app.db(),
        &[
            format!("UPDATE events SET position = -5 WHERE position = {a}"),
            format!("UPDATE events SET position = {a} WHERE position = {b}"),
            format!("UPDATE events SET position = {b} WHERE position = -5"),
        ],
    )
    .await;
    assert_eq!(first_bad(&verify(&app, &tenant).await), a);
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    seq: i64,
    position: i64,
}

async fn a_rewritten_chain_is_caught_by_the_signed_checkpoints(backend: Backend) {
    let (app, tenant, _, positions) = populated(backend).await;
    let db = app.app.db();
    let target = positions[2];
    let statement = format!("UPDATE events SET payload = '{{\"forged\": true}}' WHERE position = {target}");
    sql(db, &[statement]).await;
    // The forger re-computes every link after the change (they cannot sign).
    let mut tx = db.begin_system().await.unwrap();
    let links: Vec<LinkRow> = tx
        .fetch_all("SELECT seq, position FROM audit_chain WHERE tenant_id = $1 ORDER BY seq", tessera::args![tenant.clone()])
        .await
        .unwrap();
    let events = tessera::eventstore::read_after(&mut tx, db.backend(), Default::default(), 10_000).await.unwrap();
    let mut prev = [0u8; 32];
    for link in links {
        let event = events.iter().find(|e| e.position == link.position).unwrap();
        prev = tessera::audit::link_hash(&prev, event);
        tx.execute(
            "UPDATE audit_chain SET hash = $1 WHERE tenant_id = $2 AND seq = $3",
            tessera::args![hex::encode(prev), tenant.clone(), link.seq],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let report = verify(&app, &tenant).await;
    let failure = report.failure.clone().expect("caught");
    assert!(failure.reason.contains("rewritten"), "{failure:?}");
    assert!(failure.position >= target);
}

async fn an_export_verifies_offline_and_catches_edits(backend: Backend) {
    let (app, tenant, _, positions) = populated(backend).await;
    let auditor = app.key_for(&tenant, "AUDITOR").await;
    let dir = tempfile::tempdir().unwrap();

    // The public key, over HTTP (no key needed) and GraphQL.
    let pem = app.client.get(format!("{}/audit/{tenant}/public-key.pem", app.address)).send().await.unwrap().text().await.unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    let data = app.ok(&auditor, "{ auditPublicKey { keyId publicKeyPem } }", json!({})).await;
    assert_eq!(data["auditPublicKey"]["publicKeyPem"], pem.as_str());
    let key_file = dir.path().join("key.pem");
    std::fs::write(&key_file, &pem).unwrap();

    // The export, over HTTP with the auditor key; needs a key.
    let unauthenticated = app.client.get(format!("{}/audit/export", app.address)).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let body = app.client.get(format!("{}/audit/export", app.address)).bearer_auth(&auditor).send().await.unwrap().text().await.unwrap();
    let report = tessera::audit::verify_file(body.as_bytes(), &pem).unwrap();
    assert!(report.ok(), "{report:?}");
    // The auditor key's own creation is chained too.
    assert!(report.events as usize > positions.len());
    assert_eq!(report.last_signed_seq, report.last_seq, "an export is signed up to its end");

    // Edits of the file are caught.
    // (UPNs are sealed in the export; the domain's name is not personal, so it is in clear.)
    let changed = body.replacen("contoso.com", "evil.example", 1);
    assert_ne!(changed, body);
    assert!(!tessera::audit::verify_file(changed.as_bytes(), &pem).unwrap().ok());
    let mut lines: Vec<&str> = body.lines().collect();
    lines.remove(3);
    assert!(!tessera::audit::verify_file(lines.join("\n").as_bytes(), &pem).unwrap().ok());
    let truncated: Vec<&str> = body.lines().take(5).collect();
    assert!(!tessera::audit::verify_file(truncated.join("\n").as_bytes(), &pem).unwrap().ok());
    // Another tenant's key does not verify it.
    let (other, _) = app.tenant_with_admin("Fabrikam").await;
    let other_pem = app.client.get(format!("{}/audit/{other}/public-key.pem", app.address)).send().await.unwrap().text().await.unwrap();
    assert!(!tessera::audit::verify_file(body.as_bytes(), &other_pem).unwrap().ok());

    // The CLI: export to a file, verify it offline (no database), and fail on an edited copy.
    let file = dir.path().join("export.ndjson");
    let output = crate::helpers::process::tessera_cli(
        &app.database_url,
        &["audit", "export", "--tenant", &tenant, "--output", file.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let verify_cli = |path: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["audit", "verify", path.to_str().unwrap(), "--public-key", key_file.to_str().unwrap()])
            .env("DATABASE_URL", "postgres://nowhere.invalid/none")
            .env("TESSERA_LOG", "warn")
            .output()
            .unwrap()
    };
    let ok = verify_cli(&file);
    assert!(ok.status.success(), "{}{}", String::from_utf8_lossy(&ok.stdout), String::from_utf8_lossy(&ok.stderr));
    let edited = dir.path().join("edited.ndjson");
    std::fs::write(&edited, std::fs::read_to_string(&file).unwrap().replacen("contoso.com", "evil.example", 1)).unwrap();
    let bad = verify_cli(&edited);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).contains("first bad position"));

    // A time range: nothing before `since`.
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let empty = app
        .client
        .get(format!("{}/audit/export", app.address))
        .query(&[("since", future.as_str())])
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let report = tessera::audit::verify_file(empty.as_bytes(), &pem).unwrap();
    assert!(report.ok() && report.events == 0, "{report:?}");
}

/// Two instances on one PostgreSQL take turns projecting the chain: what one remembers of the
/// chain heads from its own last batch is dropped once the other has moved the checkpoint on,
/// so the chain stays one unbroken line over every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_extend_one_chain() {
    let app = spawn_app(Backend::Postgres).await;
    let second = app.second_instance().await;

    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let create = "mutation($u: String!) { createUser(input: { userPrincipalName: $u, displayName: \"Chained\" }) { id } }";
    for i in 0..24 {
        // Alternating instances, some at once: each projector finds the other's batches between its own.
        let address = if i % 2 == 0 { &app.address } else { &second.address };
        let requests = (0..(1 + i % 3)).map(|j| {
            let body = json!({ "query": create, "variables": { "u": format!("u{i}-{j}@contoso.com") } });
            app.client.post(format!("{address}/graphql")).bearer_auth(&admin).json(&body).send()
        });
        for response in futures::future::join_all(requests).await {
            let body: Value = response.unwrap().json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
        }
    }
    let events = positions(app.app.db(), &tenant).await.len() as u64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let report = loop {
        let report = verify(&app, &tenant).await;
        if report.events == events || std::time::Instant::now() > deadline {
            break report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(report.ok(), "{:?}", report.failure);
    assert_eq!((report.events, report.last_seq), (events, events as i64), "every event linked once");
}
