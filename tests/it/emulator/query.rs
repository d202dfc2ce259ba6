//! OData query options on /users: paging with $skiptoken, $filter, $select, $top, $count.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::support::*;

async fn seeded(n: usize) -> Emu {
    let emu = start().await;
    for i in 0..n {
        let r = emu
            .control(
                "POST",
                &format!("/tenants/{TENANT}/users"),
                Some(json!({
                    "userPrincipalName": format!("user{i:02}@contoso.com"),
                    "displayName": if i % 2 == 0 { format!("Even {i}") } else { format!("Odd {i}") },
                    "mail": format!("user{i:02}@contoso.com"),
                    "onPremisesImmutableId": format!("anchor-{i}"),
                    "accountEnabled": i % 3 != 0,
                })),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    emu
}

fn ids(r: &Reply) -> Vec<String> {
    r.body["value"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn paging_follows_next_links_with_skiptoken() {
    let emu = seeded(25).await;
    let token = emu.token().await;
    let mut url = "/users?$top=10&$select=id,userPrincipalName".to_owned();
    let mut pages = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let r = emu.call(Some(&token), "GET", &url, None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for id in ids(&r) {
            assert!(seen.insert(id));
        }
        for u in r.body["value"].as_array().unwrap() {
            assert_eq!(u.as_object().unwrap().len(), 2, "{u}");
        }
        pages.push(r.body["value"].as_array().unwrap().len());
        match r.body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&format!("{}/v1.0/users?", emu.base)), "{next}");
                assert!(next.contains("$skiptoken=") && next.contains("$top=10") && next.contains("$select=id,userPrincipalName"));
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, [10, 10, 5]);
    let r = emu.call(Some(&token), "GET", "/users?$skiptoken=bogus", None, &[]).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn filter_on_upn_immutable_id_mail_startswith_and_or() {
    let emu = seeded(12).await;
    let token = emu.token().await;
    let count = |r: &Reply| r.body["value"].as_array().map_or(usize::MAX, Vec::len);
    let cases = [
        ("userPrincipalName eq 'USER03@contoso.com'", 1),
        ("onPremisesImmutableId eq 'anchor-7'", 1),
        ("mail eq 'user11@contoso.com'", 1),
        ("startswith(displayName,'Even')", 6),
        ("startswith(displayName,'Odd') and accountEnabled eq true", 4),
        ("userPrincipalName eq 'user01@contoso.com' or mail eq 'user02@contoso.com'", 2),
        ("(startswith(displayName,'Odd') or startswith(displayName,'Even')) and accountEnabled eq false", 4),
        ("userPrincipalName in ('user01@contoso.com','user05@contoso.com','nobody@contoso.com')", 2),
        ("onPremisesImmutableId eq 'missing'", 0),
    ];
    for (filter, expected) in cases {
        let r = emu.call(Some(&token), "GET", &format!("/users?$filter={}", urlencode(filter)), None, &[]).await;
        assert_eq!(r.status, 200, "{filter}: {}", r.body);
        assert_eq!(count(&r), expected, "{filter}");
    }
    // Advanced queries need ConsistencyLevel: eventual.
    let endswith = format!("/users?$filter={}&$count=true", urlencode("endswith(mail,'1@contoso.com')"));
    let r = emu.call(Some(&token), "GET", &endswith, None, &[]).await;
    assert_eq!(r.status, 400);
    let r = emu.call(Some(&token), "GET", &endswith, None, &[("ConsistencyLevel", "eventual")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(count(&r), 2);
    assert_eq!(r.body["@odata.count"], 2);

    let bad = [
        ("/users?$filter=jobTitle%20foo%20'x'", "BadRequest"),
        ("/users?$filter=mobilePhone%20eq%20'1'", "Request_UnsupportedQuery"),
        ("/users?$top=1000", "Request_BadRequest"),
        ("/users?$top=0", "Request_BadRequest"),
        ("/users?$select=nonsense", "BadRequest"),
        ("/users?$skip=5", "Request_BadRequest"),
        ("/users?$orderby=displayName", "BadRequest"),
    ];
    for (url, code) in bad {
        let r = emu.call(Some(&token), "GET", url, None, &[]).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, code), "{url}: {}", r.body);
    }
}

#[tokio::test]
async fn select_on_a_single_user_and_default_set() {
    let emu = seeded(1).await;
    let r = emu.graph("GET", "/users?$top=1", None).await;
    let user = &r.body["value"][0];
    let keys: Vec<&str> = user.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "businessPhones",
            "displayName",
            "givenName",
            "id",
            "jobTitle",
            "mail",
            "mobilePhone",
            "officeLocation",
            "preferredLanguage",
            "surname",
            "userPrincipalName"
        ]
    );
    assert_eq!(user["businessPhones"], json!([]));
    assert_eq!(user["jobTitle"], Value::Null);
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
