//! Bad input of every kind gets a typed error: never a panic, never a 500.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, code, spawn_app};

both_backends!(bad_input_gets_typed_errors, transport_errors_are_graphql_shaped);

async fn bad_input_gets_typed_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let user = app.create_user(&admin, "ok@contoso.com").await;
    let long = "x".repeat(300);
    let deep = format!("{{ tenant {{ {}id{} }} }}", "groups { members { ".repeat(8), " } }".repeat(8));
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        ("IDN domain", "mutation($d: String!) { addDomain(name: $d) { name } }", json!({ "d": "bücher.de" }), "VALIDATION"),
        ("trailing dot", "mutation($d: String!) { addDomain(name: $d) { name } }", json!({ "d": "contoso.org." }), "VALIDATION"),
        ("HTML in domain", "mutation($d: String!) { addDomain(name: $d) { name } }", json!({ "d": "<b>x</b>.com" }), "VALIDATION"),
        (
            "SQL in domain",
            "mutation($d: String!) { addDomain(name: $d) { name } }",
            json!({ "d": "x.com'; DROP TABLE events;--" }),
            "VALIDATION",
        ),
        ("300-character tenant name", "mutation($n: String!) { renameTenant(name: $n) { name } }", json!({ "n": long }), "VALIDATION"),
        (
            "300-character display name",
            "mutation($n: String!) { createUser(input: { userPrincipalName: \"a@contoso.com\", displayName: $n }) { id } }",
            json!({ "n": long }),
            "VALIDATION",
        ),
        (
            "UPN in an unverified domain",
            "mutation { createUser(input: { userPrincipalName: \"a@unverified.com\", displayName: \"A\" }) { id } }",
            json!({}),
            "PRECONDITION_FAILED",
        ),
        (
            "malformed UPN",
            "mutation { createUser(input: { userPrincipalName: \"no-at-sign\", displayName: \"A\" }) { id } }",
            json!({}),
            "VALIDATION",
        ),
        ("short password", "mutation($u: ID!) { setPassword(id: $u, password: \"short\") { id } }", json!({ "u": user }), "VALIDATION"),
        (
            "bad usage location",
            "mutation($u: ID!) { setUsageLocation(id: $u, usageLocation: \"USA\") { id } }",
            json!({ "u": user }),
            "VALIDATION",
        ),
        ("bad SKU id", "mutation($u: ID!) { grantLicense(id: $u, skuId: \"E5\") { id } }", json!({ "u": user }), "VALIDATION"),
        ("malformed id", "{ user(id: \"1 OR 1=1\") { id } }", json!({}), "VALIDATION"),
        ("unknown user", "mutation($u: ID!) { assignUser(id: $u) { id } }", json!({ "u": uuid::Uuid::new_v4() }), "NOT_FOUND"),
        (
            "unknown group",
            "mutation($g: ID!) { renameGroup(id: $g, displayName: \"x\") { id } }",
            json!({ "g": uuid::Uuid::new_v4() }),
            "NOT_FOUND",
        ),
        ("unknown domain", "mutation { verifyDomain(name: \"nowhere.com\") { name } }", json!({}), "NOT_FOUND"),
        ("unknown API key", "mutation($k: ID!) { revokeApiKey(id: $k) { id } }", json!({ "k": uuid::Uuid::new_v4() }), "NOT_FOUND"),
        ("syntax error", "{ tenant { name ", json!({}), "GRAPHQL_PARSE_FAILED"),
        ("unknown field", "{ tenant { shoeSize } }", json!({}), "GRAPHQL_VALIDATION_FAILED"),
        ("wrong variable type", "query($n: Boolean!) { user(id: $n) { id } }", json!({ "n": true }), "GRAPHQL_VALIDATION_FAILED"),
        ("unknown enum value", "mutation { setMfaPolicy(policy: SOMETIMES) { id } }", json!({}), "GRAPHQL_VALIDATION_FAILED"),
        (
            "tenant argument of another tenant",
            "query($t: ID!) { tenant(tenantId: $t) { id } }",
            json!({ "t": uuid::Uuid::new_v4() }),
            "FORBIDDEN",
        ),
        ("too deep", deep.as_str(), json!({}), "GRAPHQL_VALIDATION_FAILED"),
    ];
    for (what, query, variables, expected) in cases {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&admin)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500, "{what}: status {}", response.status());
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), expected, "{what}: {body:#}");
        assert!(body["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: a message");
    }
    // Nothing accepted earlier was lost along the way.
    let data = app.ok(&admin, "query($u: ID!) { user(id: $u) { userPrincipalName } }", json!({ "u": user })).await;
    assert_eq!(data["user"]["userPrincipalName"], "ok@contoso.com");
}

async fn transport_errors_are_graphql_shaped(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = format!("{}/graphql", app.address);
    let cases: Vec<(&str, Option<&str>, &str, u16, &str)> = vec![
        ("no key", None, "{\"query\":\"{ tenants { id } }\"}", 401, "UNAUTHENTICATED"),
        ("unknown key", Some("tsk_unknown"), "{\"query\":\"{ tenants { id } }\"}", 401, "UNAUTHENTICATED"),
        ("not a key", Some("hunter2"), "{\"query\":\"{ tenants { id } }\"}", 401, "UNAUTHENTICATED"),
        // The key is checked before the body: a bad key with a bad body is still UNAUTHENTICATED.
        ("bad key and bad body", Some("tsk_unknown"), "{{{", 401, "UNAUTHENTICATED"),
        ("malformed JSON", Some(&app.operator_key), "{{{", 400, "GRAPHQL_PARSE_FAILED"),
        ("not a GraphQL request", Some(&app.operator_key), "[1,2,3]", 400, "GRAPHQL_PARSE_FAILED"),
    ];
    for (what, key, body, status, expected) in cases {
        let mut request = app.client.post(&url).header("content-type", "application/json").body(body.to_owned());
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), expected, "{what}");
        assert!(body["errors"][0]["extensions"]["correlationId"].is_string(), "{what}");
    }
}
