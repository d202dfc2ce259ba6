use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, code, spawn_app};

both_backends!(keys_roles_and_revocation);

async fn keys_roles_and_revocation(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;

    // An admin makes an auditor key for its own tenant; the secret is shown once.
    let data = app
        .ok(&admin, "mutation { createApiKey(name: \"audit\", role: AUDITOR) { secret apiKey { id role tenantId revoked } } }", json!({}))
        .await;
    let auditor = data["createApiKey"]["secret"].as_str().unwrap().to_owned();
    let auditor_id = data["createApiKey"]["apiKey"]["id"].as_str().unwrap().to_owned();
    assert!(auditor.starts_with("tsk_") && auditor.len() >= 47, "256-bit key");
    assert_eq!(data["createApiKey"]["apiKey"]["tenantId"], tenant.as_str());

    // Lists never carry secrets.
    let body = app.gql(&admin, "{ apiKeys { id name role revoked } }", json!({})).await;
    assert_eq!(body["data"]["apiKeys"].as_array().unwrap().len(), 2);
    assert!(!body.to_string().contains(&auditor));
    let data = app.ok(&auditor, "{ me { role } tenant { name } }", json!({})).await;
    assert_eq!(data["me"]["role"], "AUDITOR");
    assert_eq!(data["tenant"]["name"], "Contoso");

    // Auditors read but never write; admins cannot mint operator keys.
    let body = app.gql(&auditor, "mutation { addDomain(name: \"contoso.com\") { name } }", json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN");
    let body = app.gql(&admin, "mutation { createApiKey(name: \"x\", role: OPERATOR) { secret } }", json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN");

    app.ok(&admin, "mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }", json!({ "id": auditor_id })).await;
    let body = app.gql(&auditor, "{ tenant { name } }", json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");

    // Operators list operator keys.
    let data = app.ok(&app.operator_key, "{ apiKeys { role } }", json!({})).await;
    assert!(data["apiKeys"].as_array().unwrap().iter().all(|k| k["role"] == "OPERATOR"));
}
