//! Domains and their internalDomainFederation.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::support::*;

fn federation_body(issuer: &str) -> Value {
    let (_, cert) = certificate();
    json!({
        "@odata.type": "#microsoft.graph.internalDomainFederation",
        "displayName": "Tessera",
        "issuerUri": issuer,
        "metadataExchangeUri": "https://idp.example/mex",
        "signingCertificate": STANDARD.encode(cert.to_der().unwrap()),
        "passiveSignInUri": "https://idp.example/wsfed",
        "preferredAuthenticationProtocol": "wsFed",
        "activeSignInUri": "https://idp.example/active",
        "signOutUri": "https://idp.example/signout",
        "promptLoginBehavior": "nativeSupport",
        "isSignedAuthenticationRequestRequired": false,
        "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
    })
}

#[tokio::test]
async fn list_get_and_update_domains() {
    let emu = start().await;
    let r = emu.graph("GET", "/domains", None).await;
    let names: Vec<&str> = r.body["value"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(names, ["contoso.onmicrosoft.com", "contoso.com", "fabrikam.com", "federated.example"]);
    let r = emu.graph("GET", "/domains/contoso.onmicrosoft.com", None).await;
    assert_eq!(r.body["isInitial"], true);
    assert_eq!(r.body["isDefault"], true);
    assert_eq!(r.body["authenticationType"], "Managed");
    assert_eq!(emu.graph("GET", "/domains/nope.example", None).await.status, 404);

    let r = emu.graph("PATCH", "/domains/contoso.com", Some(json!({"isDefault": true}))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(emu.graph("GET", "/domains/contoso.onmicrosoft.com", None).await.body["isDefault"], false);
    let r = emu.graph("PATCH", "/domains/fabrikam.com", Some(json!({"isDefault": true}))).await;
    assert_eq!(r.status, 400, "unverified");
    let r = emu.graph("PATCH", "/domains/federated.example", Some(json!({"isDefault": true}))).await;
    assert_eq!(r.status, 400, "federated cannot be default");
    let r = emu.graph("PATCH", "/domains/contoso.com", Some(json!({"authenticationType": "Federated"}))).await;
    assert_eq!(r.message(), "Property 'authenticationType' is read-only and cannot be set.");
}

#[tokio::test]
async fn federation_rules_and_lifecycle() {
    let emu = start().await;
    let body = federation_body("https://tessera.example/contoso.com");
    for (domain, needle) in [("contoso.onmicrosoft.com", "onmicrosoft.com"), ("fabrikam.com", "not verified")] {
        let r = emu.graph("POST", &format!("/domains/{domain}/federationConfiguration"), Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "Request_BadRequest"), "{domain}");
        assert!(r.message().contains(needle), "{}", r.message());
    }
    emu.graph("PATCH", "/domains/contoso.com", Some(json!({"isDefault": true}))).await;
    let r = emu.graph("POST", "/domains/contoso.com/federationConfiguration", Some(body.clone())).await;
    assert_eq!(r.message(), "Federating to the 'Default' domain is not allowed.");
    emu.graph("PATCH", "/domains/contoso.onmicrosoft.com", Some(json!({"isDefault": true}))).await;
    assert_eq!(emu.graph("POST", "/domains/nope.example/federationConfiguration", Some(body.clone())).await.status, 404);

    let mut bad = body.clone();
    bad["signingCertificate"] = json!("bm90IGEgY2VydA==");
    let r = emu.graph("POST", "/domains/contoso.com/federationConfiguration", Some(bad)).await;
    assert_eq!(r.message(), "Invalid value specified for property 'signingCertificate' of resource 'InternalDomainFederation'.");
    let mut bad = body.clone();
    bad["federatedIdpMfaBehavior"] = json!("sometimes");
    assert_eq!(emu.graph("POST", "/domains/contoso.com/federationConfiguration", Some(bad)).await.status, 400);

    let r = emu.graph("POST", "/domains/contoso.com/federationConfiguration", Some(body.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["@odata.type"], "#microsoft.graph.internalDomainFederation");
    assert_eq!(r.body["issuerUri"], "https://tessera.example/contoso.com");
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(emu.graph("GET", "/domains/contoso.com", None).await.body["authenticationType"], "Federated");
    let r = emu.graph("POST", "/domains/contoso.com/federationConfiguration", Some(body.clone())).await;
    assert_eq!(r.status, 409);

    let r = emu.graph("GET", "/domains/contoso.com/federationConfiguration", None).await;
    assert_eq!(r.body["value"][0]["id"], id.as_str());
    let one = format!("/domains/contoso.com/federationConfiguration/{id}");
    let r = emu.graph("PATCH", &one, Some(json!({"federatedIdpMfaBehavior": "enforceMfaByFederatedIdp"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = emu.graph("GET", &one, None).await;
    assert_eq!(r.body["federatedIdpMfaBehavior"], "enforceMfaByFederatedIdp");
    assert_eq!(r.body["displayName"], "Tessera");

    // Users of a federated domain need their ImmutableID.
    let token = emu.token().await;
    let r = emu.create_user(&token, "fed@contoso.com", json!({})).await;
    assert_eq!(r.status, 400);
    // A federated domain cannot become the default.
    assert_eq!(emu.graph("PATCH", "/domains/contoso.com", Some(json!({"isDefault": true}))).await.status, 400);

    assert_eq!(emu.graph("DELETE", &one, None).await.status, 204);
    assert_eq!(emu.graph("GET", "/domains/contoso.com", None).await.body["authenticationType"], "Managed");
    assert_eq!(emu.graph("GET", &one, None).await.status, 404);
}

#[tokio::test]
async fn issuer_must_differ_between_federated_domains() {
    let emu = start().await;
    emu.control("POST", &format!("/tenants/{TENANT}/domains"), Some(json!({"name": "second.example"}))).await;
    let body = federation_body("https://tessera.example/shared");
    assert_eq!(emu.graph("POST", "/domains/contoso.com/federationConfiguration", Some(body.clone())).await.status, 201);
    let r = emu.graph("POST", "/domains/second.example/federationConfiguration", Some(body)).await;
    assert_eq!(r.message(), "Another object with the same value for property issuerUri already exists.");
}
