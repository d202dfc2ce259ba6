use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, code, spawn_app};

both_backends!(one_upn_fifty_racers, concurrent_commands_on_one_user_lose_nothing, connections_outlive_refused_and_abandoned_statements);

/// 50 parallel CreateUser with one UPN: exactly one user exists afterwards.
async fn one_upn_fifty_racers(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let origins_before = origins(&app, &tenant).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = app.clone();
        let admin = admin.clone();
        // Different spellings of the same UPN.
        let upn = if i % 2 == 0 { "race@contoso.com" } else { "RACE@Contoso.com" };
        tasks.push(tokio::spawn(async move {
            app.gql(
                &admin,
                "mutation($u: String!) { createUser(input: { userPrincipalName: $u, displayName: \"Racer\" }) { id } }",
                json!({ "u": upn }),
            )
            .await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let body = task.await.unwrap();
        if body.get("errors").is_none() {
            created += 1;
        } else {
            assert_eq!(code(&body), "CONFLICT", "{body:#}");
        }
    }
    assert_eq!(created, 1);
    // The 49 that lost the UPN changed nothing, so left no origin behind either.
    assert_eq!(origins(&app, &tenant).await, origins_before + 1);
    let data = app.ok(&admin, "{ users(first: 100) { edges { node { userPrincipalName } } } }", json!({})).await;
    assert_eq!(data["users"]["edges"].as_array().unwrap().len(), 1);
}

/// Many writers on one aggregate while others write to theirs: every command that succeeded is
/// in the result, none is lost, a racer that lost records nothing, and the bystanders (whose
/// events share the racers' statements under group commit) all commit.
async fn concurrent_commands_on_one_user_lose_nothing(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let user = app.create_user(&admin, "busy@contoso.com").await;
    app.ok(&admin, "mutation($u: ID!) { setUsageLocation(id: $u, usageLocation: \"US\") { id } }", json!({ "u": user })).await;
    let mut bystanders = Vec::new();
    for i in 0..10 {
        let other = app.create_user(&admin, &format!("bystander{i}@contoso.com")).await;
        app.ok(&admin, "mutation($u: ID!) { setUsageLocation(id: $u, usageLocation: \"US\") { id } }", json!({ "u": other })).await;
        bystanders.push(other);
    }
    let origins_before = origins(&app, &tenant).await;
    let grant = "mutation($u: ID!, $s: String!) { grantLicense(id: $u, skuId: $s) { id } }";
    let mut tasks = Vec::new();
    for i in 0..30 {
        let app = app.clone();
        let admin = admin.clone();
        // Every third writer is a bystander on a user of its own.
        let target = if i % 3 == 0 { bystanders[i / 3].clone() } else { user.clone() };
        let sku = uuid::Uuid::new_v4().to_string();
        tasks.push(tokio::spawn(async move {
            let body = app.gql(&admin, grant, json!({ "u": target, "s": sku })).await;
            (target, sku, body)
        }));
    }
    let mut granted = Vec::new();
    for task in tasks {
        let (target, sku, body) = task.await.unwrap();
        if body.get("errors").is_none() {
            granted.push((target, sku));
        } else {
            assert!(target == user, "a bystander's command failed: {body:#}");
            assert_eq!(code(&body), "CONFLICT", "{body:#}");
        }
    }
    assert!(granted.iter().any(|(target, _)| *target == user), "some racer won");
    assert_eq!(granted.iter().filter(|(target, _)| *target != user).count(), bystanders.len());
    for target in std::iter::once(&user).chain(&bystanders) {
        let mut expected: Vec<&str> = granted.iter().filter(|(t, _)| t == target).map(|(_, sku)| sku.as_str()).collect();
        expected.sort();
        let data = app.ok(&admin, "query($u: ID!) { user(id: $u) { licenses } }", json!({ "u": target })).await;
        let mut licenses: Vec<&str> = data["user"]["licenses"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        licenses.sort();
        assert_eq!(licenses, expected);
    }
    // One origin per request that changed something; none for a racer that lost in the end.
    assert_eq!(origins(&app, &tenant).await, origins_before + granted.len() as i64);
}

async fn origins(app: &TestApp, tenant: &str) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM request_origins WHERE tenant_id = $1", tessera::args![tenant.to_owned()]).await
}

/// Single statements reuse their connections without the pool's release check (`db/quiet.rs`):
/// one the database refused, or one abandoned halfway (its future dropped), must leave nothing
/// behind that a later statement would read as its own answer.
async fn connections_outlive_refused_and_abandoned_statements(backend: Backend) {
    #[derive(sqlx::FromRow)]
    struct Number {
        n: i64,
    }
    let app = spawn_app(backend).await;
    let db = app.app.db().clone();
    let insert = "INSERT INTO projection_checkpoints (name) VALUES ('connections-test')";
    db.execute_one(insert, &[]).await.unwrap();
    assert!(db.execute_one(insert, &[]).await.is_err(), "the second insert breaks the key");
    let slow = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000000) SELECT COUNT(*) AS n FROM c";
    for _ in 0..3 {
        let abandoned = tokio::time::timeout(std::time::Duration::from_millis(20), db.read_optional::<Number>(slow, &[])).await;
        assert!(abandoned.is_err(), "the slow statement was cut short");
    }
    let mut tasks = Vec::new();
    for i in 0..24_i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..5_i64 {
                let want = i * 100 + j;
                let got: Number = db.read_optional("SELECT CAST($1 AS BIGINT) AS n", tessera::args![want]).await.unwrap().unwrap();
                assert_eq!(got.n, want);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Closing while statements run does not hang on the connections they use.
    let running: Vec<_> = (0..6)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.read_optional::<Number>(slow, &[]).await.map(|_| ()) })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    tokio::time::timeout(std::time::Duration::from_secs(30), db.close()).await.expect("the pools closed");
    for task in running {
        let _ = task.await.unwrap();
    }
}
