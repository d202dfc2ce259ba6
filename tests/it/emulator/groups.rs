//! Groups and membership through members/$ref.

use serde_json::{Value, json};

use super::support::*;

fn group_body(nick: &str) -> Value {
    json!({"displayName": format!("Group {nick}"), "mailEnabled": false, "mailNickname": nick, "securityEnabled": true, "groupTypes": []})
}

fn member_ref(id: &str) -> Value {
    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")})
}

#[tokio::test]
async fn group_crud_and_rules() {
    let emu = start().await;
    let r = emu.graph("POST", "/groups", Some(group_body("staff"))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["securityEnabled"], true);
    assert!(r.body["securityIdentifier"].as_str().unwrap().starts_with("S-1-12-1-"));
    assert!(r.body.get("assignedLicenses").is_none(), "not in the default set");

    let r = emu.graph("PATCH", &format!("/groups/{id}"), Some(json!({"description": "All staff"}))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = emu.graph("GET", &format!("/groups/{id}?$select=description,displayName"), None).await;
    assert_eq!(r.body["description"], "All staff");
    let r = emu.graph("GET", "/groups?$filter=displayName%20eq%20'group%20STAFF'", None).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);

    for missing in ["displayName", "mailEnabled", "mailNickname", "securityEnabled"] {
        let mut body = group_body("x");
        body.as_object_mut().unwrap().remove(missing);
        let r = emu.graph("POST", "/groups", Some(body)).await;
        assert_eq!(r.message(), format!("Property {missing} value is required but is empty or missing."));
    }
    let r = emu.graph("POST", "/groups", Some(group_body("bad nick"))).await;
    assert_eq!(r.message(), "Invalid value specified for property 'mailNickname' of resource 'Group'.");

    assert_eq!(emu.graph("DELETE", &format!("/groups/{id}"), None).await.status, 204);
    assert_eq!(emu.graph("GET", &format!("/groups/{id}"), None).await.status, 404);
}

#[tokio::test]
async fn members_add_list_remove() {
    let emu = start().await;
    let token = emu.token().await;
    let ann = emu.create_user(&token, "ann@contoso.com", json!({})).await.body["id"].as_str().unwrap().to_owned();
    let group = emu.graph("POST", "/groups", Some(group_body("team"))).await.body["id"].as_str().unwrap().to_owned();
    let nested = emu.graph("POST", "/groups", Some(group_body("nested"))).await.body["id"].as_str().unwrap().to_owned();

    let path = format!("/groups/{group}/members/$ref");
    let r = emu.graph("POST", &path, Some(member_ref(&ann))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(emu.graph("POST", &path, Some(member_ref(&nested))).await.status, 204);
    let r = emu.graph("POST", &path, Some(member_ref(&ann))).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "Request_BadRequest"));
    assert_eq!(r.message(), "One or more added object references already exist for the following modified properties: 'members'.");
    let ghost = "00000000-0000-0000-0000-0000000000ff";
    let r = emu.graph("POST", &path, Some(member_ref(ghost))).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "Request_ResourceNotFound"));

    let r = emu.graph("GET", &format!("/groups/{group}/members"), None).await;
    let members = r.body["value"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["@odata.type"], "#microsoft.graph.user");
    assert_eq!(members[0]["userPrincipalName"], "ann@contoso.com");
    assert_eq!(members[1]["@odata.type"], "#microsoft.graph.group");
    let r = emu.graph("GET", &format!("/groups/{group}/members?$select=id&$top=1"), None).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let next = r.body["@odata.nextLink"].as_str().unwrap().to_owned();
    let r = emu.graph("GET", &next, None).await;
    assert_eq!(r.body["value"][0]["id"], nested.as_str());

    let member = format!("/groups/{group}/members/{ann}/$ref");
    assert_eq!(emu.graph("DELETE", &member, None).await.status, 204);
    assert_eq!(emu.graph("DELETE", &member, None).await.status, 404);

    // PATCH with members@odata.bind adds several at once.
    let bind = json!({"members@odata.bind": [format!("https://graph.microsoft.com/v1.0/directoryObjects/{ann}")]});
    assert_eq!(emu.graph("PATCH", &format!("/groups/{group}"), Some(bind.clone())).await.status, 204);
    assert_eq!(emu.graph("PATCH", &format!("/groups/{group}"), Some(bind)).await.status, 400);
    // Deleting a user removes it from its groups.
    emu.graph("DELETE", &format!("/users/{ann}"), None).await;
    let r = emu.graph("GET", &format!("/groups/{group}/members"), None).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
}
