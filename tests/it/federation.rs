//! Federation through Graph (the emulator): automatic, with preview; failures leave the domain
//! managed with Graph's reason and remove what a failed attempt left; manual mode with the
//! PowerShell and confirmManualFederation.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::graph::{CLIENT, Emulator, SECRET};
use crate::helpers::{Backend, TestApp, code, spawn_app};

both_backends!(
    federates_and_defederates_through_graph,
    a_refused_or_partial_federation_leaves_the_domain_managed,
    manual_federation_is_recorded_once_graph_shows_it,
    a_signing_key_rollover_reaches_microsoft365_before_the_key_signs,
);

const DOMAIN_FIELDS: &str = "name federation federatedIssuerUri federationError { reason error { status code message requestId } }
    federationPreview { requests { method url body } affectedUsers }";

async fn federate(app: &TestApp, key: &str, domain: &str, preview: bool) -> Value {
    let query = format!("mutation($d: String!, $p: Boolean!) {{ federateDomain(name: $d, preview: $p) {{ {DOMAIN_FIELDS} }} }}");
    app.ok(key, &query, json!({"d": domain, "p": preview})).await["federateDomain"].clone()
}

async fn defederate(app: &TestApp, key: &str, domain: &str, preview: bool) -> Value {
    let query = format!("mutation($d: String!, $p: Boolean!) {{ defederateDomain(name: $d, preview: $p) {{ {DOMAIN_FIELDS} }} }}");
    app.ok(key, &query, json!({"d": domain, "p": preview})).await["defederateDomain"].clone()
}

async fn issuer(app: &TestApp, key: &str, domain: &str) -> String {
    let data = app.ok(key, "query($d: String!) { tenant { issuerUri(domain: $d) passiveSignInUri } }", json!({"d": domain})).await;
    data["tenant"]["issuerUri"].as_str().unwrap().to_owned()
}

/// The base64 DER of the tenant's active signing certificate.
async fn active_certificate(app: &TestApp, key: &str) -> String {
    let data = app.ok(key, "{ tenant { signingKeys { status certificate } } }", json!({})).await;
    let keys = data["tenant"]["signingKeys"].as_array().unwrap();
    let pem = keys.iter().find(|k| k["status"] == "ACTIVE").unwrap()["certificate"].as_str().unwrap();
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn federation_posts(log: &[Value]) -> Vec<&Value> {
    log.iter().filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with("/federationConfiguration")).collect()
}

async fn federates_and_defederates_through_graph(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    app.create_user(&admin, "ann@contoso.com").await;
    let issuer = issuer(&app, &admin, "contoso.com").await;

    // Preview: the exact request, nothing sent, nothing recorded.
    let domain = federate(&app, &admin, "contoso.com", true).await;
    assert_eq!(domain["federation"], "MANAGED");
    let request = &domain["federationPreview"]["requests"][0];
    assert_eq!(request["method"], "POST");
    assert_eq!(request["url"], format!("{}/v1.0/domains/contoso.com/federationConfiguration", emu.base));
    let body = &request["body"];
    assert_eq!(body["issuerUri"], issuer.as_str());
    assert_eq!(body["preferredAuthenticationProtocol"], "wsFed");
    assert_eq!(body["federatedIdpMfaBehavior"], "acceptIfMfaDoneByFederatedIdp");
    assert_eq!(body["promptLoginBehavior"], "nativeSupport");
    assert!(body["passiveSignInUri"].as_str().unwrap().starts_with("http"));
    assert!(body["metadataExchangeUri"].as_str().unwrap().ends_with("/FederationMetadata/2007-06/FederationMetadata.xml"));
    assert!(body["signingCertificate"].as_str().unwrap().len() > 500);
    assert!(federation_posts(&emu.requests().await).is_empty());

    // Federated through Graph.
    let domain = federate(&app, &admin, "contoso.com", false).await;
    assert_eq!(domain["federation"], "FEDERATED", "{domain}");
    assert_eq!(domain["federatedIssuerUri"], issuer.as_str());
    assert!(domain["federationError"].is_null());
    let there = emu.domain("contoso.com").await;
    assert_eq!(there["authenticationType"], "Federated");
    let config = &there["federationConfiguration"][0];
    assert_eq!(config["issuerUri"], issuer.as_str());
    assert_eq!(config["signingCertificate"], body["signingCertificate"]);
    assert_eq!(config["federatedIdpMfaBehavior"], "acceptIfMfaDoneByFederatedIdp");
    let posts = emu.requests().await;
    let posts = federation_posts(&posts);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["status"], 201);
    // Federating again is refused before any call.
    let body = app.gql(&admin, "mutation { federateDomain(name: \"contoso.com\") { name } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "ALREADY_FEDERATED");

    // Defederation preview: the exact DELETE and who is affected.
    let domain = defederate(&app, &admin, "contoso.com", true).await;
    assert_eq!(domain["federation"], "FEDERATED");
    let preview = &domain["federationPreview"];
    assert_eq!(preview["affectedUsers"], json!(["ann@contoso.com"]));
    assert_eq!(preview["requests"][0]["method"], "DELETE");
    assert_eq!(
        preview["requests"][0]["url"],
        format!("{}/v1.0/domains/contoso.com/federationConfiguration/{}", emu.base, config["id"].as_str().unwrap())
    );
    assert_eq!(emu.domain("contoso.com").await["authenticationType"], "Federated");

    let domain = defederate(&app, &admin, "contoso.com", false).await;
    assert_eq!(domain["federation"], "MANAGED", "{domain}");
    assert!(domain["federatedIssuerUri"].is_null());
    let there = emu.domain("contoso.com").await;
    assert_eq!(there["authenticationType"], "Managed");
    assert_eq!(there["federationConfiguration"], json!([]));

    // Each outcome is an event.
    let body =
        app.gql(&admin, "{ auditEvents(first: 100, filter: { aggregateType: \"Domain\" }) { nodes { eventType } } }", json!({})).await;
    let kinds: Vec<&str> =
        body["data"]["auditEvents"]["nodes"].as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    for kind in ["DomainFederationRequested", "DomainFederated", "DomainDefederationRequested", "DomainDefederated"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
}

async fn a_refused_or_partial_federation_leaves_the_domain_managed(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;

    // Microsoft 365's default domain: Graph refuses; the domain stays managed with the reason.
    app.verified_domain(&admin, "default.com").await;
    let domain = federate(&app, &admin, "default.com", false).await;
    assert_eq!(domain["federation"], "MANAGED", "{domain}");
    let error = &domain["federationError"];
    assert_eq!(error["error"]["status"], 400);
    assert_eq!(error["error"]["code"], "Request_BadRequest");
    assert!(error["error"]["message"].as_str().unwrap().contains("Default"), "{error}");
    assert!(!error["error"]["requestId"].as_str().unwrap_or_default().is_empty());
    assert!(error["reason"].as_str().unwrap().starts_with("Microsoft Graph did not federate the domain"), "{error}");

    // Graph unavailable: nothing arrived, so nothing to undo.
    app.verified_domain(&admin, "contoso.com").await;
    emu.faults(
        json!([{"kind": "unavailable", "method": "POST", "pathPrefix": "/v1.0/domains/contoso.com/federationConfiguration", "times": 1}]),
    )
    .await;
    let domain = federate(&app, &admin, "contoso.com", false).await;
    assert_eq!(domain["federation"], "MANAGED");
    assert_eq!(domain["federationError"]["error"]["status"], 503);
    assert_eq!(emu.domain("contoso.com").await["authenticationType"], "Managed");

    // A partial configuration with Tessera's issuer (an earlier half-finished attempt, with an
    // old certificate): Graph answers Conflict, Tessera removes it and the domain stays managed.
    let mut stale = federate(&app, &admin, "contoso.com", true).await["federationPreview"]["requests"][0]["body"].clone();
    let (_, other) = app.tenant_with_admin("Other").await;
    stale["signingCertificate"] = Value::String(active_certificate(&app, &other).await);
    stale["passiveSignInUri"] = json!("https://half.example/wsfed");
    let (status, _) = emu.graph("POST", "/domains/contoso.com/federationConfiguration", Some(stale)).await;
    assert_eq!(status, 201);
    let domain = federate(&app, &admin, "contoso.com", false).await;
    assert_eq!(domain["federation"], "MANAGED", "{domain}");
    assert!(domain["federationError"]["reason"].as_str().unwrap().ends_with("the partial configuration was removed"), "{domain}");
    let there = emu.domain("contoso.com").await;
    assert_eq!(there["authenticationType"], "Managed");
    assert_eq!(there["federationConfiguration"], json!([]));

    // And the next attempt succeeds.
    let domain = federate(&app, &admin, "contoso.com", false).await;
    assert_eq!(domain["federation"], "FEDERATED");
    assert!(domain["federationError"].is_null());
}

async fn manual_federation_is_recorded_once_graph_shows_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let issuer = issuer(&app, &admin, "contoso.com").await;

    let script =
        "query($a: FederationAction!, $f: PowerShellFlavor!) { federationScript(domain: \"contoso.com\", action: $a, flavor: $f) }";
    let graph_ps =
        app.ok(&admin, script, json!({"a": "FEDERATE", "f": "GRAPH_POWERSHELL"})).await["federationScript"].as_str().unwrap().to_owned();
    assert!(graph_ps.contains("New-MgDomainFederationConfiguration -DomainId 'contoso.com'"), "{graph_ps}");
    assert!(graph_ps.contains(&format!("-IssuerUri '{issuer}'")));
    assert!(graph_ps.contains("-PreferredAuthenticationProtocol 'wsFed'"));
    assert!(graph_ps.contains("-FederatedIdpMfaBehavior 'acceptIfMfaDoneByFederatedIdp'"));
    let msol = app.ok(&admin, script, json!({"a": "FEDERATE", "f": "MSONLINE"})).await["federationScript"].as_str().unwrap().to_owned();
    assert!(msol.contains("Set-MsolDomainAuthentication -DomainName 'contoso.com' -Authentication Federated"), "{msol}");
    assert!(msol.contains("-SupportsMfa $true"));
    let back =
        app.ok(&admin, script, json!({"a": "DEFEDERATE", "f": "GRAPH_POWERSHELL"})).await["federationScript"].as_str().unwrap().to_owned();
    assert!(back.contains("Remove-MgDomainFederationConfiguration -DomainId 'contoso.com'"), "{back}");
    let back = app.ok(&admin, script, json!({"a": "DEFEDERATE", "f": "MSONLINE"})).await["federationScript"].as_str().unwrap().to_owned();
    assert!(back.contains("-Authentication Managed"));
    let body = app.gql(&admin, "{ federationScript(domain: \"contoso.onmicrosoft.com\", action: FEDERATE) }", json!({})).await;
    assert_eq!(code(&body), "NOT_FOUND");

    // Without a connection federation waits for the admin.
    let domain = federate(&app, &admin, "contoso.com", false).await;
    assert_eq!(domain["federation"], "FEDERATION_REQUESTED");
    let body = app.gql(&admin, "mutation { confirmManualFederation(name: \"contoso.com\") { federation } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "MICROSOFT365_NOT_CONNECTED");
    app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    // Not yet run: nothing is recorded.
    let body = app.gql(&admin, "mutation { confirmManualFederation(name: \"contoso.com\") { federation } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "FEDERATION_NOT_CONFIRMED", "{body}");

    // The admin runs the script: what New-MgDomainFederationConfiguration sends.
    let data = app.ok(&admin, "{ tenant { passiveSignInUri } }", json!({})).await;
    let body = json!({"@odata.type": "#microsoft.graph.internalDomainFederation", "displayName": "Tessera",
        "issuerUri": issuer, "passiveSignInUri": data["tenant"]["passiveSignInUri"],
        "signingCertificate": active_certificate(&app, &admin).await, "preferredAuthenticationProtocol": "wsFed"});
    let (status, _) = emu.graph("POST", "/domains/contoso.com/federationConfiguration", Some(body)).await;
    assert_eq!(status, 201);
    let data =
        app.ok(&admin, "mutation { confirmManualFederation(name: \"contoso.com\") { federation federatedIssuerUri } }", json!({})).await;
    assert_eq!(data["confirmManualFederation"]["federation"], "FEDERATED");
    assert_eq!(data["confirmManualFederation"]["federatedIssuerUri"], issuer.as_str());
}

/// Waits until `count` UPDATE_FEDERATION tasks exist and all succeeded.
async fn federation_updates(app: &TestApp, key: &str, count: usize) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let tasks: Vec<Value> = app.tasks(key).await.into_iter().filter(|t| t["kind"] == "UPDATE_FEDERATION").collect();
        if tasks.len() == count && tasks.iter().all(|t| t["status"] == "SUCCEEDED") {
            return tasks;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "{tasks:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn certificate_with_status(app: &TestApp, key: &str, status: &str) -> String {
    let data = app.ok(key, "{ tenant { signingKeys { status certificate } } }", json!({})).await;
    let keys = data["tenant"]["signingKeys"].as_array().unwrap();
    keys.iter().find(|k| k["status"] == status).unwrap()["certificate"].as_str().unwrap().to_owned()
}

async fn a_signing_key_rollover_reaches_microsoft365_before_the_key_signs(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    assert_eq!(federate(&app, &admin, "contoso.com", false).await["federation"], "FEDERATED");
    let old = certificate_with_status(&app, &admin, "ACTIVE").await;

    // The next key is published to Microsoft 365 first…
    app.ok(&admin, "mutation { generateNextSigningKey { id } }", json!({})).await;
    let tasks = federation_updates(&app, &admin, 1).await;
    assert_eq!(tasks[0]["target"], "domain:contoso.com");
    let next = certificate_with_status(&app, &admin, "NEXT").await;
    let config = emu.domain("contoso.com").await["federationConfiguration"][0].clone();
    assert_eq!(config["signingCertificate"], old.as_str());
    assert_eq!(config["nextSigningCertificate"], next.as_str());

    // …then, once it signs, it is the signing certificate.
    app.ok(&admin, "mutation { activateNextSigningKey { id } }", json!({})).await;
    federation_updates(&app, &admin, 2).await;
    let config = emu.domain("contoso.com").await["federationConfiguration"][0].clone();
    assert_eq!(config["signingCertificate"], next.as_str());
    assert!(config["nextSigningCertificate"].is_null(), "{config}");
    let patches = emu.requests().await.into_iter().filter(|r| r["method"] == "PATCH" && r["status"] == 200).count();
    assert_eq!(patches, 2);
    // Federated domains and rollover tasks fold to the same rows.
    app.assert_replay_matches().await;
}
