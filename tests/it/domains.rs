use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, code, spawn_app};

both_backends!(verification_by_dns_txt_record, federation_rules, a_domain_is_verified_by_one_tenant_only);

async fn verification_by_dns_txt_record(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    let data = app.ok(&admin, "mutation { addDomain(name: \"Contoso.COM\") { name verified verificationRecord } }", json!({})).await;
    assert_eq!(data["addDomain"]["name"], "contoso.com");
    assert_eq!(data["addDomain"]["verified"], false);
    let record = data["addDomain"]["verificationRecord"].as_str().unwrap().to_owned();
    assert!(record.starts_with("tessera-verification="));

    // Nothing published yet, then a wrong record: both refused, with the reason.
    let body = app.gql(&admin, "mutation { verifyDomain(name: \"contoso.com\") { verified } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "DOMAIN_VERIFICATION_FAILED");
    app.dns.add_txt("contoso.com", "tessera-verification=somebody-else").await;
    let body = app.gql(&admin, "mutation { verifyDomain(name: \"contoso.com\") { verified } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "DOMAIN_VERIFICATION_FAILED");

    app.dns.add_txt("contoso.com", &record).await;
    let data = app.ok(&admin, "mutation { verifyDomain(name: \"contoso.com\") { verified verifiedAt } }", json!({})).await;
    assert_eq!(data["verifyDomain"]["verified"], true);
    assert!(data["verifyDomain"]["verifiedAt"].is_string());

    let body = app.gql(&admin, "mutation { addDomain(name: \"contoso.com\") { name } }", json!({})).await;
    assert_eq!(code(&body), "CONFLICT");

    let data = app.ok(&admin, "mutation { removeDomain(name: \"contoso.com\") } ", json!({})).await;
    assert_eq!(data["removeDomain"], "contoso.com");
    let data = app.ok(&admin, "{ domains { name } }", json!({})).await;
    assert_eq!(data["domains"], json!([]));
}

async fn federation_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.ok(&admin, "mutation { addDomain(name: \"unverified.com\") { name } }", json!({})).await;
    let body = app.gql(&admin, "mutation { federateDomain(name: \"unverified.com\") { federation } }", json!({})).await;
    assert_eq!(code(&body), "PRECONDITION_FAILED");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "DOMAIN_NOT_VERIFIED");

    app.verified_domain(&admin, "contoso.onmicrosoft.com").await;
    let body = app.gql(&admin, "mutation { federateDomain(name: \"contoso.onmicrosoft.com\") { federation } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "DOMAIN_IS_ONMICROSOFT");

    app.verified_domain(&admin, "contoso.com").await;
    let data = app.ok(&admin, "mutation { federateDomain(name: \"contoso.com\") { federation } }", json!({})).await;
    assert_eq!(data["federateDomain"]["federation"], "FEDERATION_REQUESTED");
    let body = app.gql(&admin, "mutation { removeDomain(name: \"contoso.com\") }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "DOMAIN_FEDERATED");
    let data = app.ok(&admin, "mutation { defederateDomain(name: \"contoso.com\") { federation } }", json!({})).await;
    assert_eq!(data["defederateDomain"]["federation"], "DEFEDERATION_REQUESTED");
    let body = app.gql(&admin, "mutation { defederateDomain(name: \"unverified.com\") { federation } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "DOMAIN_NOT_FEDERATED");
}

async fn a_domain_is_verified_by_one_tenant_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, first) = app.tenant_with_admin("First").await;
    let (_, second) = app.tenant_with_admin("Second").await;
    app.verified_domain(&first, "shared.com").await;
    let data = app.ok(&second, "mutation { addDomain(name: \"shared.com\") { verificationRecord } }", json!({})).await;
    app.dns.add_txt("shared.com", data["addDomain"]["verificationRecord"].as_str().unwrap()).await;
    let body = app.gql(&second, "mutation { verifyDomain(name: \"shared.com\") { verified } }", json!({})).await;
    assert_eq!(code(&body), "CONFLICT");
}
