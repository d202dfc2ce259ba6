use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, code, spawn_app};

both_backends!(tenant_lifecycle_and_settings, suspended_tenant_refuses_changes);

async fn tenant_lifecycle_and_settings(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;

    let data = app.ok(&admin, "{ tenant { id name status mfaPolicy deprovisionAction defaultLicenses } }", json!({})).await;
    assert_eq!(data["tenant"]["id"], tenant.as_str());
    assert_eq!(data["tenant"]["status"], "ACTIVE");
    assert_eq!(data["tenant"]["mfaPolicy"], "OPTIONAL");
    assert_eq!(data["tenant"]["deprovisionAction"], "BLOCK_SIGN_IN");

    let sku = "6fd2c87f-b296-42f0-b197-1e91e994b900";
    let data = app
        .ok(
            &admin,
            "mutation($s: [String!]!) {
                renameTenant(name: \"Contoso Ltd\") { name }
                setDefaultUsageLocation(usageLocation: \"de\") { defaultUsageLocation }
                setDefaultLicenses(skuIds: $s) { defaultLicenses }
                setDeprovisionAction(action: DELETE) { deprovisionAction }
                setMfaPolicy(policy: REQUIRED) { mfaPolicy }
            }",
            json!({ "s": [sku, sku] }),
        )
        .await;
    assert_eq!(data["renameTenant"]["name"], "Contoso Ltd");
    assert_eq!(data["setDefaultUsageLocation"]["defaultUsageLocation"], "DE");
    assert_eq!(data["setDefaultLicenses"]["defaultLicenses"], json!([sku]));
    assert_eq!(data["setDeprovisionAction"]["deprovisionAction"], "DELETE");
    assert_eq!(data["setMfaPolicy"]["mfaPolicy"], "REQUIRED");

    // A query right after the mutations sees every effect.
    let data = app.ok(&app.operator_key, "{ tenants { id name mfaPolicy } }", json!({})).await;
    let listed = data["tenants"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "Contoso Ltd");

    // Only operators create and suspend tenants.
    let body = app.gql(&admin, "mutation { createTenant(name: \"Other\") { id } }", json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN");
    let body = app.gql(&admin, "mutation($t: ID!) { suspendTenant(tenantId: $t) { id } }", json!({ "t": tenant })).await;
    assert_eq!(code(&body), "FORBIDDEN");
}

async fn suspended_tenant_refuses_changes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Fabrikam").await;
    let data = app.ok(&app.operator_key, "mutation($t: ID!) { suspendTenant(tenantId: $t) { status } }", json!({ "t": tenant })).await;
    assert_eq!(data["suspendTenant"]["status"], "SUSPENDED");

    let body = app.gql(&admin, "mutation { addDomain(name: \"fabrikam.com\") { name } }", json!({})).await;
    assert_eq!(code(&body), "PRECONDITION_FAILED");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "TENANT_SUSPENDED");

    app.ok(&app.operator_key, "mutation($t: ID!) { reactivateTenant(tenantId: $t) { status } }", json!({ "t": tenant })).await;
    app.ok(&admin, "mutation { addDomain(name: \"fabrikam.com\") { name } }", json!({})).await;
}
