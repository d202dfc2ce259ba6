use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, code, spawn_app};

both_backends!(groups_and_membership);

async fn groups_and_membership(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let alex = app.create_user(&admin, "alex@contoso.com").await;
    let data = app
        .ok(&admin, "mutation { createGroup(displayName: \"Sales\", description: \"EMEA\") { id displayName description } }", json!({}))
        .await;
    let group = data["createGroup"]["id"].as_str().unwrap().to_owned();
    assert_eq!(data["createGroup"]["description"], "EMEA");

    let data = app
        .ok(
            &admin,
            "mutation($g: ID!, $u: ID!) { addGroupMember(groupId: $g, userId: $u) { members { userPrincipalName } } renameGroup(id: $g, displayName: \"Sales EMEA\") { displayName } }",
            json!({ "g": group, "u": alex }),
        )
        .await;
    assert_eq!(data["addGroupMember"]["members"][0]["userPrincipalName"], "alex@contoso.com");
    assert_eq!(data["renameGroup"]["displayName"], "Sales EMEA");
    let data = app.ok(&admin, "query($u: ID!) { user(id: $u) { groups { displayName } } }", json!({ "u": alex })).await;
    assert_eq!(data["user"]["groups"][0]["displayName"], "Sales EMEA");

    let body = app
        .gql(
            &admin,
            "mutation($g: ID!, $u: ID!) { addGroupMember(groupId: $g, userId: $u) { id } }",
            json!({ "g": group, "u": uuid::Uuid::new_v4() }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND");

    let data = app
        .ok(
            &admin,
            "mutation($g: ID!, $u: ID!) { removeGroupMember(groupId: $g, userId: $u) { members { id } } }",
            json!({ "g": group, "u": alex }),
        )
        .await;
    assert_eq!(data["removeGroupMember"]["members"], json!([]));
    app.ok(&admin, "mutation($g: ID!, $u: ID!) { addGroupMember(groupId: $g, userId: $u) { id } }", json!({ "g": group, "u": alex })).await;
    // A deleted user leaves its groups.
    app.ok(&admin, "mutation($u: ID!) { deleteUser(id: $u) }", json!({ "u": alex })).await;
    let data = app.ok(&admin, "query($g: ID!) { group(id: $g) { members { id } } }", json!({ "g": group })).await;
    assert_eq!(data["group"]["members"], json!([]));

    app.ok(&admin, "mutation($g: ID!) { deleteGroup(id: $g) }", json!({ "g": group })).await;
    let data = app.ok(&admin, "{ groups { id } }", json!({})).await;
    assert_eq!(data["groups"], json!([]));
}
