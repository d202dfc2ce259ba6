//! The auditor API: `auditEvents` with filters and paging, `auditEvent`, read-only auditors,
//! tenant isolation.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(auditors_page_and_filter_the_history);

const EVENTS: &str = "query($f: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $f, first: $first, after: $after) {
    edges { cursor node { position aggregateType aggregateId sequence eventType eventVersion occurredAt actor actorRole
                          correlationId causationId requestId payload chainHash } }
    pageInfo { hasNextPage endCursor }
  }
}";

async fn auditors_page_and_filter_the_history(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let before = chrono::Utc::now();
    let user = app.create_user(&admin, "adele@contoso.com").await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&admin)
        .header("X-Correlation-Id", "grant-1")
        .json(
            &json!({ "query": "mutation($u: ID!) { setUsageLocation(id: $u, usageLocation: \"US\") { id } }", "variables": { "u": user } }),
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let auditor = app.key_for(&tenant, "AUDITOR").await;

    // Everything, a page at a time, in position order, each event chained.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app.ok(&auditor, EVENTS, json!({ "first": 3, "after": after })).await;
        let page = &data["auditEvents"];
        for edge in page["edges"].as_array().unwrap() {
            assert!(edge["node"]["chainHash"].as_str().is_some_and(|h| h.len() == 64), "{edge}");
            seen.push(edge["node"]["position"].as_i64().unwrap());
        }
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert!(seen.len() >= 8 && seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");

    // Filters.
    let data = app.ok(&auditor, EVENTS, json!({ "f": { "aggregateType": "User", "eventTypes": ["UserCreated"] } })).await;
    let edges = data["auditEvents"]["edges"].as_array().unwrap().clone();
    assert_eq!(edges.len(), 1);
    let created = &edges[0]["node"];
    assert_eq!(created["aggregateId"], format!("{tenant}/{user}").as_str());
    assert_eq!(created["actorRole"], "ADMIN");
    assert!(created["payload"].to_string().contains("adele@contoso.com"));
    assert!(created["causationId"].as_str().unwrap().starts_with("request:"));

    let data = app.ok(&auditor, EVENTS, json!({ "f": { "correlationId": "grant-1" } })).await;
    let edges = data["auditEvents"]["edges"].as_array().unwrap().clone();
    assert_eq!(edges.len(), 1, "{edges:?}");
    assert_eq!(edges[0]["node"]["eventType"], "UsageLocationSet");
    let actor = edges[0]["node"]["actor"].as_str().unwrap().to_owned();
    let data = app.ok(&auditor, EVENTS, json!({ "f": { "actor": actor, "aggregateId": format!("{tenant}/{user}") } })).await;
    assert_eq!(data["auditEvents"]["edges"].as_array().unwrap().len(), 2);
    let data = app.ok(&auditor, EVENTS, json!({ "f": { "from": before.to_rfc3339(), "aggregateType": "User" } })).await;
    assert_eq!(data["auditEvents"]["edges"].as_array().unwrap().len(), 2);
    let data = app.ok(&auditor, EVENTS, json!({ "f": { "to": before.to_rfc3339(), "aggregateType": "User" } })).await;
    assert_eq!(data["auditEvents"]["edges"].as_array().unwrap().len(), 0);

    // Typed payloads.
    let typed = "query($f: AuditEventFilter) { auditEvents(filter: $f) { edges { node { typedPayload {
        __typename
        ... on UserPayload { event userPrincipalName displayName usageLocation }
        ... on ApiKeyPayload { event name role }
    } } } } }";
    let data = app.ok(&auditor, typed, json!({ "f": { "aggregateId": format!("{tenant}/{user}") } })).await;
    let payloads: Vec<Value> = data["auditEvents"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["typedPayload"].clone()).collect();
    assert_eq!(
        payloads,
        [
            json!({ "__typename": "UserPayload", "event": "UserCreated", "userPrincipalName": "adele@contoso.com", "displayName": "Test User", "usageLocation": null }),
            json!({ "__typename": "UserPayload", "event": "UsageLocationSet", "userPrincipalName": null, "displayName": null, "usageLocation": "US" }),
        ]
    );
    let data = app.ok(&auditor, typed, json!({ "f": { "eventTypes": ["ApiKeyCreated"] } })).await;
    assert_eq!(data["auditEvents"]["edges"][0]["node"]["typedPayload"]["role"], "ADMIN");

    // Secrets' verifiers never leave through the API.
    let data = app.ok(&auditor, EVENTS, json!({ "f": { "eventTypes": ["ApiKeyCreated"] } })).await;
    let created = data["auditEvents"]["edges"].as_array().unwrap().clone();
    assert!(!created.is_empty());
    for edge in created {
        assert_eq!(edge["node"]["payload"]["ApiKeyCreated"]["secret_hash"], "<redacted>", "{edge}");
    }

    // One event by position.
    let position = edges[0]["node"]["position"].as_i64().unwrap();
    let data = app.ok(&auditor, "query($p: Int!) { auditEvent(position: $p) { eventType } }", json!({ "p": position })).await;
    assert_eq!(data["auditEvent"]["eventType"], "UsageLocationSet");

    // Another tenant sees none of it, not even by position; auditors cannot write.
    let (_, other_admin) = app.tenant_with_admin("Fabrikam").await;
    let data = app.ok(&other_admin, "query($p: Int!) { auditEvent(position: $p) { eventType } }", json!({ "p": position })).await;
    assert!(data["auditEvent"].is_null());
    let data = app.ok(&other_admin, EVENTS, json!({ "f": { "correlationId": "grant-1" } })).await;
    assert_eq!(data["auditEvents"]["edges"].as_array().unwrap().len(), 0);
    let body = app.gql(&auditor, "mutation { createGroup(displayName: \"G\") { id } }", json!({})).await;
    assert_eq!(crate::helpers::code(&body), "FORBIDDEN");
    let body = app.gql(&auditor, EVENTS, json!({ "first": 0 })).await;
    assert_eq!(crate::helpers::code(&body), "VALIDATION");
}
