use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, code, spawn_app};

both_backends!(one_upn_fifty_racers, concurrent_commands_on_one_user_lose_nothing);

/// 50 parallel CreateUser with one UPN: exactly one user exists afterwards.
async fn one_upn_fifty_racers(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
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
    let data = app.ok(&admin, "{ users(first: 100) { edges { node { userPrincipalName } } } }", json!({})).await;
    assert_eq!(data["users"]["edges"].as_array().unwrap().len(), 1);
}

/// Many writers on one aggregate: every command that succeeded is in the result, none is lost.
async fn concurrent_commands_on_one_user_lose_nothing(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let user = app.create_user(&admin, "busy@contoso.com").await;
    app.ok(&admin, "mutation($u: ID!) { setUsageLocation(id: $u, usageLocation: \"US\") { id } }", json!({ "u": user })).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let app = app.clone();
        let admin = admin.clone();
        let user = user.clone();
        let sku = uuid::Uuid::new_v4().to_string();
        tasks.push(tokio::spawn(async move {
            let body = app
                .gql(&admin, "mutation($u: ID!, $s: String!) { grantLicense(id: $u, skuId: $s) { id } }", json!({ "u": user, "s": sku }))
                .await;
            (sku, body)
        }));
    }
    let mut granted = Vec::new();
    for task in tasks {
        let (sku, body) = task.await.unwrap();
        if body.get("errors").is_none() {
            granted.push(sku);
        } else {
            assert_eq!(code(&body), "CONFLICT", "{body:#}");
        }
    }
    assert!(!granted.is_empty());
    granted.sort();
    let data = app.ok(&admin, "query($u: ID!) { user(id: $u) { licenses } }", json!({ "u": user })).await;
    let mut licenses: Vec<String> = data["user"]["licenses"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    licenses.sort();
    assert_eq!(licenses, granted);
}
