//! JSON batching.

use serde_json::{Value, json};

use super::support::*;

fn by_id<'a>(r: &'a Reply, id: &str) -> &'a Value {
    r.body["responses"].as_array().unwrap().iter().find(|x| x["id"] == id).unwrap()
}

#[tokio::test]
async fn batch_runs_items_with_depends_on_and_424() {
    let emu = start().await;
    let json_headers = json!({"Content-Type": "application/json"});
    let r = emu
        .graph(
            "POST",
            "/$batch",
            Some(json!({"requests": [
                {"id": "2", "method": "GET", "url": "/users/batch@contoso.com?$select=id,accountEnabled", "dependsOn": ["1"]},
                {"id": "1", "method": "POST", "url": "/users", "headers": json_headers, "body": user_body("batch@contoso.com")},
                {"id": "3", "method": "POST", "url": "/users", "headers": json_headers, "body": user_body("batch@nowhere.example")},
                {"id": "4", "method": "GET", "url": "users", "dependsOn": ["3"]},
                {"id": "5", "method": "GET", "url": "/domains/contoso.com"},
                {"id": "6", "method": "PUT", "url": "/users"}
            ]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["responses"].as_array().unwrap().len(), 6);
    let created = by_id(&r, "1");
    assert_eq!(created["status"], 201);
    assert!(created["headers"]["Content-Type"].as_str().unwrap().starts_with("application/json"));
    assert_eq!(created["body"]["userPrincipalName"], "batch@contoso.com");
    let read = by_id(&r, "2");
    assert_eq!(read["status"], 200);
    assert_eq!(read["body"]["accountEnabled"], true);
    let failed = by_id(&r, "3");
    assert_eq!(failed["status"], 400);
    assert_eq!(failed["body"]["error"]["code"], "Request_BadRequest");
    assert!(failed["body"]["error"]["innerError"]["request-id"].is_string());
    assert_eq!(by_id(&r, "4")["status"], 424);
    assert_eq!(by_id(&r, "5")["status"], 200);
    assert_eq!(by_id(&r, "6")["status"], 405);

    // The request log shows the items, tied to the batch.
    let log = emu.control("GET", "/requests", None).await;
    let items: Vec<&Value> = log.body["value"].as_array().unwrap().iter().filter(|e| e["batchItemId"].is_string()).collect();
    assert_eq!(items.len(), 6);
    assert!(items.iter().all(|e| e["batchRequestId"] == items[0]["batchRequestId"]));
    let post = items.iter().find(|e| e["batchItemId"] == "1").unwrap();
    assert_eq!(post["body"]["passwordProfile"]["password"], "[redacted]");
}

#[tokio::test]
async fn malformed_batches_fail_as_a_whole() {
    let emu = start().await;
    let get = |id: &str| json!({"id": id, "method": "GET", "url": "/domains"});
    let too_many: Vec<Value> = (0..21).map(|i| get(&i.to_string())).collect();
    let cases = [
        json!({"requests": too_many}),
        json!({"requests": [get("a"), get("A")]}),
        json!({"requests": [{"id": "1", "method": "POST", "url": "/users", "body": {"x": 1}}]}),
        json!({"requests": [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["9"]}]}),
        json!({"requests": [
            {"id": "1", "method": "GET", "url": "/users", "dependsOn": ["2"]},
            {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1"]}
        ]}),
        json!({"requests": []}),
        json!({"nope": true}),
    ];
    for body in cases {
        let r = emu.graph("POST", "/$batch", Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "BadRequest"), "{body}: {}", r.body);
    }
    let twenty: Vec<Value> = (0..20).map(|i| get(&i.to_string())).collect();
    let r = emu.graph("POST", "/$batch", Some(json!({"requests": twenty}))).await;
    assert_eq!(r.status, 200);
    // Unauthenticated batches get 401 as a whole.
    let r = emu.call(None, "POST", "/$batch", Some(json!({"requests": [get("1")]})), &[]).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn batch_items_are_checked_for_permissions_and_throttled_individually() {
    let emu = start().await;
    let reader = emu.token_for(READER).await;
    let r = emu
        .call(
            Some(&reader),
            "POST",
            "/$batch",
            Some(json!({"requests": [
                {"id": "1", "method": "GET", "url": "/users"},
                {"id": "2", "method": "GET", "url": "/domains"}
            ]})),
            &[],
        )
        .await;
    assert_eq!(by_id(&r, "1")["status"], 200);
    assert_eq!(by_id(&r, "2")["status"], 403);
    assert_eq!(by_id(&r, "2")["body"]["error"]["code"], "Authorization_RequestDenied");

    emu.control("PUT", "/faults", Some(json!({"rules": [{"kind": "throttle", "pathPrefix": "/v1.0/domains", "retryAfterSeconds": 7}]})))
        .await;
    let r = emu
        .graph(
            "POST",
            "/$batch",
            Some(json!({"requests": [
                {"id": "1", "method": "GET", "url": "/users"},
                {"id": "2", "method": "GET", "url": "/domains"}
            ]})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(by_id(&r, "1")["status"], 200);
    assert_eq!(by_id(&r, "2")["status"], 429);
    assert_eq!(by_id(&r, "2")["headers"]["Retry-After"], "7");
}
