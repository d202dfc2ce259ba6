//! Delta queries on users and groups.

use serde_json::{Value, json};

use super::support::*;

async fn round(emu: &Emu, url: &str) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut url = url.to_owned();
    loop {
        let r = emu.graph("GET", &url, None).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        items.extend(r.body["value"].as_array().unwrap().iter().cloned());
        if let Some(next) = r.body["@odata.nextLink"].as_str() {
            url = next.to_owned();
        } else {
            return (items, r.body["@odata.deltaLink"].as_str().unwrap().to_owned());
        }
    }
}

#[tokio::test]
async fn users_delta_reports_changes_and_removals() {
    let emu = start().await;
    let token = emu.token().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(emu.create_user(&token, &format!("d{i}@contoso.com"), json!({})).await.body["id"].as_str().unwrap().to_owned());
    }
    let r = emu.call(Some(&token), "GET", "/users/delta()?$select=id,userPrincipalName", None, &[("Prefer", "odata.maxpagesize=2")]).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);
    assert!(r.body["@odata.nextLink"].is_string());

    let (first, delta_link) = round(&emu, "/users/delta?$select=id,userPrincipalName").await;
    assert_eq!(first.len(), 5);
    let (none, delta_link) = round(&emu, &delta_link).await;
    assert!(none.is_empty());

    emu.graph("PATCH", &format!("/users/{}", ids[1]), Some(json!({"jobTitle": "Changed"}))).await;
    emu.graph("DELETE", &format!("/users/{}", ids[2]), None).await;
    let (changes, _) = round(&emu, &delta_link).await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0]["id"], ids[1].as_str());
    assert_eq!(changes[1]["id"], ids[2].as_str());
    assert_eq!(changes[1]["@removed"]["reason"], "deleted");
}

#[tokio::test]
async fn groups_delta_has_a_delta_link() {
    let emu = start().await;
    emu.graph("POST", "/groups", Some(json!({"displayName": "D", "mailEnabled": false, "mailNickname": "d", "securityEnabled": true})))
        .await;
    let (items, link) = round(&emu, "/groups/delta").await;
    assert_eq!(items.len(), 1);
    assert!(link.contains("$deltatoken="));
}
