//! Bad input gets a Graph-shaped 4xx, never a 5xx or a dropped connection; tenants never
//! see each other's objects.

use serde_json::json;
use tessera::emulator::routes;

use super::support::*;

#[tokio::test]
async fn garbage_bodies_and_queries_on_every_route_get_4xx() {
    let emu = start().await;
    let token = emu.token().await;
    let deep = format!("{}1{}", "[".repeat(500), "]".repeat(500));
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{".to_vec(),
        b"\"text\"".to_vec(),
        b"{\"userPrincipalName\": 5, \"members@odata.bind\": 7, \"requests\": {}}".to_vec(),
        b"{\"requests\": [{\"id\": 1}]}".to_vec(),
        deep.into_bytes(),
        vec![0xff, 0xfe, 0x00],
    ];
    let queries = ["", "?$filter=(((", "?$top=abc", "?$select=", "?%zz=1", "?$skiptoken=%00", "?$count=maybe"];
    for route in routes() {
        let path = route
            .path
            .replace("{domain-id}", "contoso.com")
            .replace("{subscribedSku-id}", "nope")
            .split('/')
            .map(|s| if s.starts_with('{') { "00000000-0000-0000-0000-000000000000" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for body in &bodies {
            for query in queries {
                let url = format!("{}/v1.0{path}{query}", emu.base);
                let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
                let r = emu
                    .http
                    .request(method, &url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{} {url}: {e}", route.method));
                let status = r.status().as_u16();
                assert!(status < 500, "{} {url} {:?}: {status}", route.method, String::from_utf8_lossy(body));
                if status >= 400 {
                    let v: serde_json::Value = r.json().await.unwrap();
                    assert!(v["error"]["code"].is_string(), "{} {url}: {v}", route.method);
                }
            }
        }
    }
}

#[tokio::test]
async fn a_token_only_reaches_its_own_tenant() {
    const OTHER: &str = "22222222-2222-3333-4444-555555555555";
    const OTHER_APP: &str = "dddddddd-bbbb-cccc-dddd-eeeeeeeeeeee";
    let mut seed = default_seed();
    seed["tenants"].as_array_mut().unwrap().push(json!({
        "id": OTHER,
        "initialDomain": "other.onmicrosoft.com",
        "apps": [{"clientId": OTHER_APP, "clientSecret": SECRET, "permissions": ["User.ReadWrite.All"]}],
        "users": [{"userPrincipalName": "someone@other.onmicrosoft.com"}]
    }));
    let emu = start_with(seed, 0).await;
    let mine = emu.create_user(&emu.token().await, "mine@contoso.com", json!({})).await;
    let mine = mine.body["id"].as_str().unwrap().to_owned();
    // The other tenant's app cannot get a token for this tenant, nor see its users.
    let r = emu
        .token_request(
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", OTHER_APP),
                ("client_secret", SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(r.body["error_codes"], json!([700_016]));
    let r = emu
        .token_request(
            OTHER,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", OTHER_APP),
                ("client_secret", SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    let other_token = r.body["access_token"].as_str().unwrap().to_owned();
    let r = emu.call(Some(&other_token), "GET", &format!("/users/{mine}"), None, &[]).await;
    assert_eq!(r.status, 404);
    let r = emu.call(Some(&other_token), "GET", "/users", None, &[]).await;
    let upns: Vec<&str> = r.body["value"].as_array().unwrap().iter().map(|u| u["userPrincipalName"].as_str().unwrap()).collect();
    assert_eq!(upns, ["someone@other.onmicrosoft.com"]);
    // The UPN must use the token tenant's verified domains.
    let r = emu.create_user(&other_token, "x@contoso.com", json!({})).await;
    assert_eq!(r.status, 400);
}
