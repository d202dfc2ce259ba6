//! `asOf` on tenant, domain, user and group queries, and `history(userId)`.

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(past_states_and_a_readable_history);

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

async fn past_states_and_a_readable_history(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    let before_user = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.verified_domain(&admin, "contoso.com").await;
    let user = app.create_user(&admin, "adele@contoso.com").await;
    let group = app.ok(&admin, "mutation { createGroup(displayName: \"Sales\") { id } }", json!({})).await["createGroup"]["id"].clone();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let then = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.ok(
        &admin,
        "mutation($u: ID!, $g: ID!, $s: String!) { setUsageLocation(id: $u, usageLocation: \"US\") { id } grantLicense(id: $u, skuId: $s) { id } addGroupMember(groupId: $g, userId: $u) { id } renameTenant(name: \"Contoso Ltd\") { id } }",
        json!({ "u": user, "g": group, "s": E3 }),
    )
    .await;
    let auditor = app.key_for(&tenant, "AUDITOR").await;

    let query = "query($u: ID!, $g: ID!, $at: DateTime) {
        tenant(asOf: $at) { name domains { name verified } }
        user(id: $u, asOf: $at) { userPrincipalName usageLocation licenses groups { displayName } }
        group(id: $g, asOf: $at) { displayName members { userPrincipalName } }
        domain(name: \"contoso.com\", asOf: $at) { verified }
    }";
    let now = app.ok(&auditor, query, json!({ "u": user, "g": group })).await;
    assert_eq!(now["tenant"]["name"], "Contoso Ltd");
    assert_eq!(now["user"]["licenses"], json!([E3]));
    assert_eq!(now["user"]["groups"], json!([{ "displayName": "Sales" }]));
    assert_eq!(now["group"]["members"], json!([{ "userPrincipalName": "adele@contoso.com" }]));

    let past = app.ok(&auditor, query, json!({ "u": user, "g": group, "at": then.to_rfc3339() })).await;
    assert_eq!(past["tenant"]["name"], "Contoso");
    assert_eq!(past["tenant"]["domains"], json!([{ "name": "contoso.com", "verified": true }]));
    assert_eq!(past["user"]["userPrincipalName"], "adele@contoso.com");
    assert!(past["user"]["usageLocation"].is_null());
    assert_eq!(past["user"]["licenses"], json!([]));
    assert_eq!(past["user"]["groups"], json!([]));
    assert_eq!(past["group"]["members"], json!([]));

    let earlier = app.ok(&auditor, query, json!({ "u": user, "g": group, "at": before_user.to_rfc3339() })).await;
    assert_eq!(earlier["tenant"]["name"], "Contoso");
    assert!(earlier["user"].is_null() && earlier["group"].is_null() && earlier["domain"].is_null());

    // The live read models are untouched by time travel.
    assert_eq!(app.ok(&auditor, query, json!({ "u": user, "g": group })).await, now);

    let data = app.ok(&auditor, "query($u: ID!) { history(userId: $u) { eventType actor text } }", json!({ "u": user })).await;
    let lines: Vec<&str> = data["history"].as_array().unwrap().iter().map(|e| e["text"].as_str().unwrap()).collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[0].starts_with("created as adele@contoso.com (ImmutableID "), "{lines:#?}");
    assert!(lines[1].starts_with("usage location set to US by admin key 'ADMIN key' at "), "{lines:#?}");
    assert!(lines[2].starts_with("license ENTERPRISEPACK granted by admin key 'ADMIN key' at "), "{lines:#?}");
    assert!(lines[3].starts_with("added to group 'Sales' by admin key 'ADMIN key' at "), "{lines:#?}");

    // Another tenant's key cannot read this user's history.
    let (_, other) = app.tenant_with_admin("Fabrikam").await;
    let data = app.ok(&other, "query($u: ID!) { history(userId: $u) { text } }", json!({ "u": user })).await;
    assert_eq!(data["history"], json!([]));
}
