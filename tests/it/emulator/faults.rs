//! Fault injection: throttling, outages, slowness, dropped connections, seeded rates.

use std::time::Instant;

use serde_json::{Value, json};

use super::support::*;

async fn set_faults(emu: &Emu, body: Value) {
    let r = emu.control("PUT", "/faults", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn throttle_then_recover() {
    let emu = start().await;
    let token = emu.token().await;
    set_faults(
        &emu,
        json!({"rules": [{"kind": "throttle", "method": "GET", "pathPrefix": "/v1.0/users", "times": 1, "retryAfterSeconds": 3}]}),
    )
    .await;
    let r = emu.call(Some(&token), "GET", "/users", None, &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), "3");
    assert_eq!(r.code(), "TooManyRequests");
    assert!(!r.header("request-id").is_empty());
    let r = emu.call(Some(&token), "GET", "/users", None, &[]).await;
    assert_eq!(r.status, 200);
    let faults = emu.control("GET", "/faults", None).await;
    assert_eq!(faults.body["rules"][0]["hits"], 1);
}

#[tokio::test]
async fn unavailable_delay_and_token_endpoint_faults() {
    let emu = start().await;
    let token = emu.token().await;
    set_faults(
        &emu,
        json!({"rules": [
            {"kind": "unavailable", "method": "POST", "times": 1, "retryAfterSeconds": 2},
            {"kind": "delay", "pathPrefix": "/v1.0/domains", "delayMs": 300}
        ]}),
    )
    .await;
    let r = emu.create_user(&token, "x@contoso.com", json!({})).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), "2");
    let started = Instant::now();
    let r = emu.call(Some(&token), "GET", "/domains", None, &[]).await;
    assert_eq!(r.status, 200);
    assert!(started.elapsed().as_millis() >= 300);

    set_faults(&emu, json!({"rules": [{"kind": "throttle", "pathPrefix": "/", "method": "POST", "times": 1}]})).await;
    let r = emu.http.post(emu.token_url(TENANT)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn dropped_connections_get_no_answer() {
    let emu = start().await;
    let token = emu.token().await;
    set_faults(&emu, json!({"rules": [{"kind": "drop", "pathPrefix": "/v1.0/users", "times": 1}]})).await;
    let result = emu.http.get(format!("{}/v1.0/users", emu.base)).bearer_auth(&token).send().await;
    assert!(result.is_err(), "expected a transport error, got {result:?}");
    let r = emu.call(Some(&token), "GET", "/users", None, &[]).await;
    assert_eq!(r.status, 200);
    let log = emu.control("GET", "/requests", None).await;
    let dropped = log.body["value"].as_array().unwrap().iter().find(|e| e["fault"] == "drop").cloned().unwrap();
    assert_eq!(dropped["status"], Value::Null);
}

/// The statuses a run of 40 requests sees under a 30% throttle with a given seed.
async fn pattern(seed: u64) -> Vec<u16> {
    let emu = start().await;
    let token = emu.token().await;
    set_faults(&emu, json!({"seed": seed, "rules": [{"kind": "throttle", "rate": 0.3, "pathPrefix": "/v1.0/"}]})).await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(emu.call(Some(&token), "GET", "/domains", None, &[]).await.status.as_u16());
    }
    out
}

#[tokio::test]
async fn rates_are_deterministic_for_a_seed() {
    let a = pattern(42).await;
    let b = pattern(42).await;
    assert_eq!(a, b);
    let throttled = a.iter().filter(|s| **s == 429).count();
    assert!((4..=24).contains(&throttled), "{throttled} of 40");
    assert_ne!(a, pattern(7).await);
}

#[tokio::test]
async fn invalid_fault_rules_are_rejected() {
    let emu = start().await;
    for body in [
        json!({"rules": [{"kind": "throttle", "rate": 1.5}]}),
        json!({"rules": [{"kind": "delay"}]}),
        json!({"rules": [{"kind": "explode"}]}),
    ] {
        assert_eq!(emu.control("PUT", "/faults", Some(body)).await.status, 400);
    }
    assert_eq!(emu.control("DELETE", "/faults", None).await.status, 204);
}
