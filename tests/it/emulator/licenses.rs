//! subscribedSkus, assignLicense on users and groups, and seat accounting.

use serde_json::{Value, json};

use super::support::*;

async fn sku(emu: &Emu, sku_id: &str) -> Value {
    let r = emu.graph("GET", "/subscribedSkus", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["value"].as_array().unwrap().iter().find(|s| s["skuId"] == sku_id).cloned().unwrap()
}

fn add(sku: &str) -> Value {
    json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []})
}

#[tokio::test]
async fn direct_assignment_needs_usage_location_and_free_units() {
    let emu = start().await;
    let token = emu.token().await;
    let s = sku(&emu, E3).await;
    assert_eq!(s["skuPartNumber"], "ENTERPRISEPACK");
    assert_eq!(s["prepaidUnits"]["enabled"], 3);
    assert_eq!(s["consumedUnits"], 1);
    assert_eq!(s["id"], format!("{TENANT}_{E3}"));
    let r = emu.graph("GET", &format!("/subscribedSkus/{TENANT}_{E3}"), None).await;
    assert_eq!(r.status, 200);

    let ann = emu.create_user(&token, "ann@contoso.com", json!({})).await.body["id"].as_str().unwrap().to_owned();
    let r = emu.graph("POST", &format!("/users/{ann}/assignLicense"), Some(add(E3))).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "Request_BadRequest"));
    assert_eq!(r.message(), "License assignment cannot be done for user with invalid usage location.");

    emu.graph("PATCH", &format!("/users/{ann}"), Some(json!({"usageLocation": "DE"}))).await;
    let r = emu.graph("POST", "/users/ann@contoso.com/assignLicense", Some(add(E3))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], ann.as_str());
    let r = emu.graph("GET", &format!("/users/{ann}?$select=assignedLicenses,licenseAssignmentStates"), None).await;
    assert_eq!(r.body["assignedLicenses"], json!([{"disabledPlans": [], "skuId": E3}]));
    assert_eq!(r.body["licenseAssignmentStates"][0]["state"], "Active");
    assert_eq!(r.body["licenseAssignmentStates"][0]["assignedByGroup"], Value::Null);
    assert_eq!(sku(&emu, E3).await["consumedUnits"], 2);

    // E5 has one unit: the second user finds none left.
    let bob = emu.create_user(&token, "bob@contoso.com", json!({"usageLocation": "FR"})).await.body["id"].as_str().unwrap().to_owned();
    let carl = emu.create_user(&token, "carl@contoso.com", json!({"usageLocation": "FR"})).await.body["id"].as_str().unwrap().to_owned();
    assert_eq!(emu.graph("POST", &format!("/users/{bob}/assignLicense"), Some(add(E5))).await.status, 200);
    let r = emu.graph("POST", &format!("/users/{carl}/assignLicense"), Some(add(E5))).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "Request_BadRequest"));
    assert_eq!(r.message(), format!("Subscription with SKU {E5} does not have any available licenses."));
    // Removing frees the unit.
    let remove = json!({"addLicenses": [], "removeLicenses": [E5]});
    assert_eq!(emu.graph("POST", &format!("/users/{bob}/assignLicense"), Some(remove.clone())).await.status, 200);
    assert_eq!(emu.graph("POST", &format!("/users/{carl}/assignLicense"), Some(add(E5))).await.status, 200);
    // Deleting the user frees it too.
    assert_eq!(emu.graph("DELETE", &format!("/users/{carl}"), None).await.status, 204);
    assert_eq!(sku(&emu, E5).await["consumedUnits"], 0);

    let r = emu.graph("POST", &format!("/users/{bob}/assignLicense"), Some(remove)).await;
    assert_eq!(r.message(), "User does not have a corresponding license.");
    let r = emu.graph("POST", &format!("/users/{bob}/assignLicense"), Some(add("00000000-0000-0000-0000-000000000001"))).await;
    assert_eq!(r.status, 400);
    let r = emu.graph("POST", &format!("/users/{bob}/assignLicense"), Some(json!({"addLicenses": [{"skuId": E3}]}))).await;
    assert_eq!(r.status, 400, "removeLicenses is required");
    let r = emu
        .graph("POST", &format!("/users/{bob}/assignLicense"), Some(json!({"addLicenses": [{"skuId": "nope"}], "removeLicenses": []})))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "BadRequest"));
}

#[tokio::test]
async fn group_licenses_reach_members_and_report_count_violations() {
    let emu = start().await;
    let token = emu.token().await;
    let mut members = Vec::new();
    for name in ["g1", "g2"] {
        let r = emu.create_user(&token, &format!("{name}@contoso.com"), json!({})).await;
        members.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let r = emu
        .graph(
            "POST",
            "/groups",
            Some(json!({
                "displayName": "Licensed", "mailEnabled": false, "mailNickname": "licensed", "securityEnabled": true,
                "members@odata.bind": members.iter().map(|m| format!("https://graph.microsoft.com/v1.0/directoryObjects/{m}")).collect::<Vec<_>>(),
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let group = r.body["id"].as_str().unwrap().to_owned();
    let r = emu.graph("POST", &format!("/groups/{group}/assignLicense"), Some(add(E5))).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = emu.graph("GET", &format!("/groups/{group}?$select=assignedLicenses,hasMembersWithLicenseErrors"), None).await;
    assert_eq!(r.body["assignedLicenses"][0]["skuId"], E5);
    assert_eq!(r.body["hasMembersWithLicenseErrors"], true);
    let first = emu.graph("GET", &format!("/users/{}?$select=assignedLicenses,licenseAssignmentStates", members[0]), None).await;
    assert_eq!(first.body["assignedLicenses"][0]["skuId"], E5);
    assert_eq!(first.body["licenseAssignmentStates"][0]["assignedByGroup"], group.as_str());
    let second = emu.graph("GET", &format!("/users/{}?$select=assignedLicenses,licenseAssignmentStates", members[1]), None).await;
    assert_eq!(second.body["assignedLicenses"], json!([]));
    assert_eq!(second.body["licenseAssignmentStates"][0]["state"], "Error");
    assert_eq!(second.body["licenseAssignmentStates"][0]["error"], "CountViolation");
    // An inherited license cannot be removed directly.
    let r =
        emu.graph("POST", &format!("/users/{}/assignLicense", members[0]), Some(json!({"addLicenses": [], "removeLicenses": [E5]}))).await;
    assert_eq!(r.message(), "User license is inherited from a group membership and it cannot be removed directly from the user.");
    // Removing the first member hands the seat to the second.
    let r = emu.graph("DELETE", &format!("/groups/{group}/members/{}/$ref", members[0]), None).await;
    assert_eq!(r.status, 204);
    let second = emu.graph("GET", &format!("/users/{}?$select=assignedLicenses", members[1]), None).await;
    assert_eq!(second.body["assignedLicenses"][0]["skuId"], E5);
}
