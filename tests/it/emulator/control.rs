//! The control API: seeding, request log, reset, tenant dump.

use serde_json::{Value, json};

use super::support::*;

#[tokio::test]
async fn request_log_records_and_clears() {
    let emu = start().await;
    let token = emu.token().await;
    emu.create_user(&token, "log@contoso.com", json!({})).await;
    emu.call(Some(&token), "GET", "/users?$top=5", None, &[("client-request-id", "trace-9")]).await;
    let r = emu.control("GET", "/requests", None).await;
    let entries = r.body["value"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let token_entry = &entries[0];
    assert_eq!(token_entry["path"], format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(token_entry["body"]["client_secret"], "[redacted]");
    assert_eq!(token_entry["status"], 200);
    let create = &entries[1];
    assert_eq!(create["method"], "POST");
    assert_eq!(create["path"], "/v1.0/users");
    assert_eq!(create["status"], 201);
    assert_eq!(create["body"]["userPrincipalName"], "log@contoso.com");
    assert_eq!(create["body"]["passwordProfile"]["password"], "[redacted]");
    assert_eq!(create["tenantId"], TENANT);
    assert_eq!(create["clientId"], CLIENT);
    assert!(create["time"].is_string());
    let list = &entries[2];
    assert_eq!(list["query"], "$top=5");
    assert_eq!(list["clientRequestId"], "trace-9");
    let since = list["seq"].as_u64().unwrap() - 1;
    let r = emu.control("GET", &format!("/requests?since={since}"), None).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);

    assert_eq!(emu.control("DELETE", "/requests", None).await.status, 204);
    assert_eq!(emu.control("GET", "/requests", None).await.body["value"], json!([]));
}

#[tokio::test]
async fn seeding_through_the_control_api() {
    let emu = start_with(json!({}), 0).await;
    let r = emu.control("POST", "/tenants", Some(json!({"displayName": "Woodgrove", "initialDomain": "woodgrove.onmicrosoft.com"}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tenant = r.body["id"].as_str().unwrap().to_owned();
    let app = emu
        .control("POST", &format!("/tenants/{tenant}/apps"), Some(json!({"clientSecret": "s", "permissions": ["User.ReadWrite.All"]})))
        .await;
    assert_eq!(app.status, 201);
    let client = app.body["clientId"].as_str().unwrap().to_owned();
    let r = emu.control("POST", &format!("/tenants/{tenant}/domains"), Some(json!({"name": "woodgrove.com", "isVerified": true}))).await;
    assert_eq!(r.body["id"], "woodgrove.com");
    let r = emu
        .control(
            "POST",
            &format!("/tenants/{tenant}/skus"),
            Some(json!({"skuPartNumber": "SPE_E3", "prepaidUnits": {"enabled": 5}, "consumedUnits": 2})),
        )
        .await;
    assert_eq!(r.body["consumedUnits"], 2);
    let sku = r.body["skuId"].as_str().unwrap().to_owned();
    let r = emu
        .control(
            "POST",
            &format!("/tenants/{tenant}/users"),
            Some(json!({"userPrincipalName": "old@woodgrove.com", "displayName": "Old", "assignedLicenses": [{"skuId": sku}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let user = r.body["id"].as_str().unwrap().to_owned();
    let r = emu
        .control("POST", &format!("/tenants/{tenant}/groups"), Some(json!({"displayName": "Old group", "members": ["old@woodgrove.com"]})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Bad seeds are refused.
    let r = emu.control("POST", &format!("/tenants/{tenant}/users"), Some(json!({"userPrincipalName": "old@woodgrove.com"}))).await;
    assert_eq!(r.status, 400);
    let r =
        emu.control("POST", &format!("/tenants/{tenant}/users"), Some(json!({"userPrincipalName": "x@woodgrove.com", "bogus": 1}))).await;
    assert_eq!(r.status, 400);

    let token_reply = emu
        .token_request(
            "woodgrove.com",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client),
                ("client_secret", "s"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    let token = token_reply.body["access_token"].as_str().unwrap().to_owned();
    let r = emu.call(Some(&token), "GET", &format!("/users/{user}?$select=assignedLicenses"), None, &[]).await;
    assert_eq!(r.body["assignedLicenses"][0]["skuId"], sku.as_str());

    let dump = emu.control("GET", &format!("/tenants/{tenant}"), None).await;
    assert_eq!(dump.body["users"][0]["userPrincipalName"], "old@woodgrove.com");
    assert_eq!(dump.body["groups"][0]["members"], json!([user]));
    assert_eq!(dump.body["skus"][0]["consumedUnits"], 3);
    assert_eq!(dump.body["apps"][0]["hasSecret"], true);
    assert!(dump.body["apps"][0].get("clientSecret").is_none());
}

#[tokio::test]
async fn reset_restores_the_startup_seed_and_invalidates_tokens() {
    let emu = start().await;
    let token = emu.token().await;
    emu.create_user(&token, "gone@contoso.com", json!({})).await;
    emu.control("PUT", "/faults", Some(json!({"rules": [{"kind": "delay", "delayMs": 1}]}))).await;
    let r = emu.control("POST", "/reset", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["tenants"][0]["id"], TENANT);
    assert_eq!(emu.call(Some(&token), "GET", "/users", None, &[]).await.status, 401);
    let r = emu.graph("GET", "/users/gone@contoso.com", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(emu.control("GET", "/faults", None).await.body["rules"], json!([]));
    let r = emu.control("GET", "/requests", None).await;
    let entries = r.body["value"].as_array().unwrap();
    assert!(entries.iter().all(|e| e["path"] != "/v1.0/users" || e["method"] != "POST"), "log cleared");
    let r: Value = emu.control("GET", "/nope", None).await.body;
    assert_eq!(r["error"]["code"], "notFound");
}
