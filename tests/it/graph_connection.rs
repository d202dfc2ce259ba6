//! Connecting a tenant to Microsoft 365 (the Graph emulator): client secret or generated
//! certificate, testConnection, verifyCompatibility, and secrets never shown.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::graph::{CLIENT, ENTRA_TENANT, Emulator, LIMITED_CLIENT, SECRET};
use crate::helpers::{Backend, code, spawn_app};

both_backends!(connects_with_a_client_secret_and_tests_it, connects_with_a_generated_certificate, verifies_domain_compatibility);

const TEST: &str = "mutation { testConnection { succeeded grantedPermissions findings { reason message permission }
    error { status code message requestId clientRequestId } } }";

fn reasons(findings: &Value) -> Vec<String> {
    findings.as_array().unwrap().iter().map(|f| f["reason"].as_str().unwrap().to_owned()).collect()
}

async fn connects_with_a_client_secret_and_tests_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;

    // Not connected yet.
    let data = app.ok(&admin, "{ microsoft365Connection { clientId } }", json!({})).await;
    assert!(data["microsoft365Connection"].is_null());
    let body = app.gql(&admin, TEST, json!({})).await;
    assert_eq!(code(&body), "PRECONDITION_FAILED");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "MICROSOFT365_NOT_CONNECTED");

    // Bad input is a typed error, before anything is stored.
    let bad = [
        json!({"entraTenantId": "contoso", "clientId": CLIENT, "clientSecret": "x"}),
        json!({"entraTenantId": ENTRA_TENANT, "clientId": CLIENT}),
        json!({"entraTenantId": ENTRA_TENANT, "clientId": CLIENT, "clientSecret": "x", "generateCertificate": true}),
        json!({"entraTenantId": ENTRA_TENANT, "clientId": CLIENT, "clientSecret": "x", "graphBaseUrl": "http://graph.example.com"}),
        json!({"entraTenantId": ENTRA_TENANT, "clientId": CLIENT, "clientSecret": "x", "loginBaseUrl": "not a url"}),
    ];
    for input in bad {
        let body = app
            .gql(&admin, "mutation($i: ConnectMicrosoft365Input!) { connectMicrosoft365(input: $i) { clientId } }", json!({"i": input}))
            .await;
        assert_eq!(code(&body), "VALIDATION", "{body}");
    }

    let body = app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    assert!(body.get("errors").is_none(), "{body}");
    let connection = &body["data"]["connectMicrosoft365"];
    assert_eq!(connection["entraTenantId"], ENTRA_TENANT);
    assert_eq!(connection["clientId"], CLIENT);
    assert_eq!(connection["credentialType"], "CLIENT_SECRET");
    assert_eq!(connection["graphBaseUrl"], emu.base.as_str());
    assert!(connection["certificate"].is_null());

    let data = app.ok(&admin, TEST, json!({})).await;
    let test = &data["testConnection"];
    assert_eq!(test["succeeded"], true, "{test}");
    assert_eq!(test["findings"], json!([]), "{test}");
    assert!(test["grantedPermissions"].as_array().unwrap().contains(&json!("User.ReadWrite.All")));
    // The emulator saw a client-credentials grant with our secret, then a Graph call.
    let log = emu.requests().await;
    let token = log.iter().find(|r| r["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token")).expect("token request");
    assert_eq!(token["body"]["grant_type"], "client_credentials");
    assert_eq!(token["body"]["client_id"], CLIENT);
    assert_eq!(token["status"], 200);
    assert!(log.iter().any(|r| r["path"] == "/v1.0/domains" && r["status"] == 200));

    // The recorded outcome is in the connection view.
    let data = app
        .ok(&admin, "{ microsoft365Connection { lastTest { succeeded grantedPermissions findings { reason } testedAt } } }", json!({}))
        .await;
    assert_eq!(data["microsoft365Connection"]["lastTest"]["succeeded"], true);

    // A wrong secret: the token endpoint's error, recorded, not a failure of the mutation.
    app.connect_emulator(&admin, &emu, CLIENT, "wrong-secret").await;
    let data = app.ok(&admin, TEST, json!({})).await;
    let test = &data["testConnection"];
    assert_eq!(test["succeeded"], false);
    assert_eq!(test["error"]["code"], "invalid_client");
    assert_eq!(test["error"]["status"], 401);
    assert!(test["error"]["message"].as_str().unwrap().starts_with("AADSTS7000215"), "{test}");
    assert!(!test["error"]["requestId"].as_str().unwrap_or_default().is_empty());
    assert_eq!(reasons(&test["findings"]), ["CONNECTION_FAILED"]);

    // An app registration without the write permissions: each missing one named.
    app.connect_emulator(&admin, &emu, LIMITED_CLIENT, SECRET).await;
    let data = app.ok(&admin, TEST, json!({})).await;
    let test = &data["testConnection"];
    assert_eq!(test["succeeded"], true);
    let missing: Vec<&str> = test["findings"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|f| assert_eq!(f["reason"], "INSUFFICIENT_PERMISSIONS"))
        .map(|f| f["permission"].as_str().unwrap())
        .collect();
    assert_eq!(
        missing,
        [
            "Domain-InternalFederation.ReadWrite.All",
            "User.ReadWrite.All",
            "LicenseAssignment.ReadWrite.All",
            "Group.ReadWrite.All",
            "LicenseAssignment.Read.All"
        ]
    );

    // The secret is never returned: not by the connection, not in the audit trail.
    for query in [
        "{ microsoft365Connection { entraTenantId clientId credentialType loginBaseUrl graphBaseUrl lastTest { succeeded } } }",
        "{ auditEvents(first: 100) { nodes { eventType payload typedPayload { __typename } } } }",
    ] {
        let body = app.gql(&admin, query, json!({})).await;
        let text = body.to_string();
        assert!(body.get("errors").is_none(), "{body}");
        assert!(!text.contains(SECRET) && !text.contains("wrong-secret"), "a secret leaked: {text}");
    }
    let body = app.gql(&admin, "{ auditEvents(first: 100) { nodes { eventType payload } } }", json!({})).await;
    let connected: Vec<&Value> =
        body["data"]["auditEvents"]["nodes"].as_array().unwrap().iter().filter(|e| e["eventType"] == "Microsoft365Connected").collect();
    assert_eq!(connected.len(), 3);
    for event in connected {
        assert_eq!(event["payload"]["Microsoft365Connected"]["credential"]["client_secret"]["sealed_client_secret"], "<redacted>");
    }
    // Another tenant's admin sees nothing of it.
    let (_, other) = app.tenant_with_admin("Fabrikam").await;
    let data = app.ok(&other, "{ microsoft365Connection { clientId } }", json!({})).await;
    assert!(data["microsoft365Connection"].is_null());
}

async fn connects_with_a_generated_certificate(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    let cert_client = "c1c1c1c1-0000-4000-8000-0000000000ce";

    let body = app.connect_emulator_with_certificate(&admin, &emu, cert_client).await;
    assert!(body.get("errors").is_none(), "{body}");
    let connection = &body["data"]["connectMicrosoft365"];
    assert_eq!(connection["credentialType"], "CERTIFICATE");
    let pem = connection["certificate"]["pem"].as_str().unwrap().to_owned();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(!body.to_string().contains("PRIVATE KEY"));
    assert_eq!(connection["certificate"]["sha1Thumbprint"].as_str().unwrap().len(), 40);

    // Before the admin uploads the certificate, Entra does not know the key.
    let data = app.ok(&admin, TEST, json!({})).await;
    assert_eq!(data["testConnection"]["succeeded"], false);
    assert_eq!(data["testConnection"]["error"]["code"], "unauthorized_client");

    // The admin uploads it to the app registration; the assertion is accepted.
    emu.add_app(json!({"clientId": cert_client, "certificatePem": pem, "permissions": crate::helpers::graph::ALL_PERMISSIONS})).await;
    let data = app.ok(&admin, TEST, json!({})).await;
    assert_eq!(data["testConnection"]["succeeded"], true, "{data}");
    let log = emu.requests().await;
    let token = log.iter().rev().find(|r| r["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token")).unwrap();
    assert_eq!(token["status"], 200);
    assert_eq!(token["body"]["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert!(token["body"].get("client_secret").is_none());

    // The certificate stays downloadable from the connection.
    let data = app.ok(&admin, "{ microsoft365Connection { certificate { pem notAfter } } }", json!({})).await;
    assert_eq!(data["microsoft365Connection"]["certificate"]["pem"], pem.as_str());
}

async fn verifies_domain_compatibility(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    let verify = "mutation($d: String!) { verifyCompatibility(domain: $d) { domain compatible findings { reason message permission } } }";

    let cases = [
        ("contoso.com", vec![]),
        ("contoso.onmicrosoft.com", vec!["DOMAIN_IS_ONMICROSOFT"]),
        ("notverified.com", vec!["DOMAIN_NOT_VERIFIED_IN_MICROSOFT365"]),
        ("default.com", vec!["DOMAIN_IS_DEFAULT"]),
        ("federated.com", vec!["ALREADY_FEDERATED"]),
        ("missing.com", vec!["DOMAIN_NOT_IN_MICROSOFT365"]),
    ];
    for (domain, expected) in &cases {
        let data = app.ok(&admin, verify, json!({"d": domain})).await;
        let report = &data["verifyCompatibility"];
        assert_eq!(reasons(&report["findings"]), *expected, "{domain}: {report}");
        assert_eq!(report["compatible"], expected.is_empty());
    }
    // *.onmicrosoft.com is refused before any call to Microsoft.
    assert!(!emu.requests().await.iter().any(|r| r["path"].as_str().unwrap().contains("onmicrosoft")));

    let body = app.gql(&admin, verify, json!({"d": "not a domain"})).await;
    assert_eq!(code(&body), "VALIDATION");

    // Every check is recorded, and the last one per domain is shown.
    let data = app.ok(&admin, "{ microsoft365Connection { compatibility { domain compatible findings { reason } } } }", json!({})).await;
    let shown = data["microsoft365Connection"]["compatibility"].as_array().unwrap();
    assert_eq!(shown.len(), cases.len());
    assert!(shown.iter().any(|c| c["domain"] == "contoso.com" && c["compatible"] == true));

    // Without the federation permission the domain is not ready either, and the finding names it.
    app.connect_emulator(&admin, &emu, LIMITED_CLIENT, SECRET).await;
    let data = app.ok(&admin, verify, json!({"d": "contoso.com"})).await;
    let findings = &data["verifyCompatibility"]["findings"];
    assert_eq!(reasons(findings), ["INSUFFICIENT_PERMISSIONS"]);
    assert_eq!(findings[0]["permission"], "Domain-InternalFederation.ReadWrite.All");
    let body = app.gql(&admin, "{ auditEvents(first: 100) { nodes { eventType } } }", json!({})).await;
    let recorded =
        body["data"]["auditEvents"]["nodes"].as_array().unwrap().iter().filter(|e| e["eventType"] == "CompatibilityVerified").count();
    assert_eq!(recorded, cases.len() + 1);
}
