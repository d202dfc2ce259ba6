//! Users: authentication and permissions, CRUD, and the directory's create rules.

use serde_json::{Value, json};

use super::support::*;

fn assert_graph_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.code(), code, "{}", r.body);
    let inner = &r.body["error"]["innerError"];
    assert!(inner["date"].is_string() && !inner["date"].as_str().unwrap().ends_with('Z'));
    assert_eq!(inner["request-id"].as_str(), Some(r.header("request-id")));
    assert_eq!(inner["client-request-id"].as_str(), Some(r.header("client-request-id")));
}

#[tokio::test]
async fn graph_requires_a_valid_unexpired_bearer_token_of_the_emulator() {
    let emu = start().await;
    let r = emu.call(None, "GET", "/users", None, &[]).await;
    assert_graph_error(&r, 401, "InvalidAuthenticationToken");
    assert_eq!(r.message(), "Access token is empty.");
    assert!(!r.header("www-authenticate").is_empty());

    let r = emu.call(Some("garbage"), "GET", "/users", None, &[("client-request-id", "abc-123")]).await;
    assert_graph_error(&r, 401, "InvalidAuthenticationToken");
    assert_eq!(r.header("client-request-id"), "abc-123");

    // A well-formed token signed by someone else.
    let token = emu.token().await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = b64url(b"forged-signature-bytes-forged-signature");
    let r = emu.call(Some(&parts.join(".")), "GET", "/users", None, &[]).await;
    assert_graph_error(&r, 401, "InvalidAuthenticationToken");

    let r = emu.call(Some(&token), "GET", "/users", None, &[]).await;
    assert_eq!(r.status, 200);
    // An hour later the token has expired.
    emu.control("POST", "/clock", Some(json!({"advanceSeconds": 3600}))).await;
    let r = emu.call(Some(&token), "GET", "/users", None, &[]).await;
    assert_graph_error(&r, 401, "InvalidAuthenticationToken");
    assert!(r.message().contains("expired"), "{}", r.message());
}

#[tokio::test]
async fn an_app_without_the_permission_gets_403() {
    let emu = start().await;
    let reader = emu.token_for(READER).await;
    let r = emu.call(Some(&reader), "GET", "/users", None, &[]).await;
    assert_eq!(r.status, 200);
    let r = emu.create_user(&reader, "ann@contoso.com", json!({})).await;
    assert_graph_error(&r, 403, "Authorization_RequestDenied");
    assert_eq!(r.message(), "Insufficient privileges to complete the operation.");
    let r = emu.call(Some(&reader), "GET", "/domains", None, &[]).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn create_get_update_delete_a_user() {
    let emu = start().await;
    let token = emu.token().await;
    let r = emu
        .create_user(&token, "ann@contoso.com", json!({"usageLocation": "DE", "onPremisesImmutableId": "AAECAwQFBgcICQoLDA0ODw=="}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["userPrincipalName"], "ann@contoso.com");
    // The default property set only; never the password.
    assert!(r.body.get("accountEnabled").is_none());
    assert!(r.body.get("passwordProfile").is_none());
    assert!(r.body["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#users/$entity"));

    for key in [id.as_str(), "ann@contoso.com", "ANN%40contoso.com"] {
        let r = emu.graph("GET", &format!("/users/{key}"), None).await;
        assert_eq!(r.status, 200, "{key}");
        assert_eq!(r.body["id"], id.as_str());
    }
    let r =
        emu.graph("GET", &format!("/users/{id}?$select=accountEnabled,usageLocation,onPremisesImmutableId,passwordProfile"), None).await;
    assert_eq!(
        r.body.as_object().unwrap().keys().filter(|k| !k.starts_with('@')).cloned().collect::<Vec<_>>(),
        ["accountEnabled", "id", "onPremisesImmutableId", "passwordProfile", "usageLocation"]
    );
    assert_eq!(r.body["accountEnabled"], true);
    assert_eq!(r.body["passwordProfile"], Value::Null);

    let r =
        emu.graph("PATCH", &format!("/users/{id}"), Some(json!({"accountEnabled": false, "jobTitle": "Auditor", "givenName": null}))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = emu.graph("GET", &format!("/users/{id}?$select=accountEnabled,jobTitle,givenName"), None).await;
    assert_eq!(r.body["accountEnabled"], false);
    assert_eq!(r.body["jobTitle"], "Auditor");

    let r = emu.graph("DELETE", &format!("/users/{id}"), None).await;
    assert_eq!(r.status, 204);
    let r = emu.graph("GET", &format!("/users/{id}"), None).await;
    assert_graph_error(&r, 404, "Request_ResourceNotFound");
    assert_eq!(r.message(), format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."));
    let r = emu.graph("DELETE", &format!("/users/{id}"), None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn duplicate_upn_is_rejected_like_graph_does() {
    let emu = start().await;
    let token = emu.token().await;
    assert_eq!(emu.create_user(&token, "bob@contoso.com", json!({})).await.status, 201);
    let r = emu.create_user(&token, "BOB@Contoso.com", json!({})).await;
    assert_graph_error(&r, 400, "Request_BadRequest");
    assert_eq!(r.message(), "Another object with the same value for property userPrincipalName already exists.");
    assert_eq!(r.body["error"]["details"][0]["target"], "userPrincipalName");
    assert_eq!(r.body["error"]["details"][0]["code"], "ObjectConflict");
    // Renaming another user onto the UPN conflicts too.
    let other = emu.create_user(&token, "carl@contoso.com", json!({})).await;
    let r = emu
        .graph("PATCH", &format!("/users/{}", other.body["id"].as_str().unwrap()), Some(json!({"userPrincipalName": "bob@contoso.com"})))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "Request_BadRequest");
}

#[tokio::test]
async fn create_rules_required_properties_domains_password() {
    let emu = start().await;
    let token = emu.token().await;
    for missing in ["accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"] {
        let mut body = user_body("dan@contoso.com");
        body.as_object_mut().unwrap().remove(missing);
        let r = emu.call(Some(&token), "POST", "/users", Some(body), &[]).await;
        assert_graph_error(&r, 400, "Request_BadRequest");
        assert_eq!(r.message(), format!("Property {missing} value is required but is empty or missing."));
    }
    let domain_msg = "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.";
    for upn in ["dan@fabrikam.com", "dan@unknown.example"] {
        let r = emu.create_user(&token, upn, json!({})).await;
        assert_eq!((r.status.as_u16(), r.message()), (400, domain_msg), "{upn}");
    }
    let r = emu.create_user(&token, "bad alias@contoso.com", json!({})).await;
    assert_eq!(r.message(), "Invalid value specified for property 'userPrincipalName' of resource 'User'.");
    // A federated domain needs the ImmutableID.
    let r = emu.create_user(&token, "dan@federated.example", json!({})).await;
    assert_eq!(r.message(), "Property onPremisesImmutableId value is required but is empty or missing.");
    let r = emu.create_user(&token, "dan@federated.example", json!({"onPremisesImmutableId": "ZGFu"})).await;
    assert_eq!(r.status, 201);
    let r = emu.create_user(&token, "dan2@federated.example", json!({"onPremisesImmutableId": "ZGFu"})).await;
    assert_eq!(r.message(), "Another object with the same value for property onPremisesImmutableId already exists.");

    let r = emu.create_user(&token, "eve@contoso.com", json!({"passwordProfile": {"password": "password"}})).await;
    assert_eq!(
        r.message(),
        "The specified password does not comply with password complexity requirements. Please provide a different password."
    );
    let r = emu.create_user(&token, "eve@contoso.com", json!({"immutableId": "x"})).await;
    assert_eq!((r.status.as_u16(), r.message()), (400, "Invalid property 'immutableId'."));
    let r = emu.create_user(&token, "eve@contoso.com", json!({"accountEnabled": "yes"})).await;
    assert_eq!(r.message(), "Invalid value specified for property 'accountEnabled' of resource 'User'.");
    let r = emu.create_user(&token, "eve@contoso.com", json!({"assignedLicenses": []})).await;
    assert_eq!(r.message(), "Property 'assignedLicenses' is read-only and cannot be set.");
    let r = emu.create_user(&token, "eve@contoso.com", json!({"usageLocation": "Germany"})).await;
    assert_eq!(r.status, 400);

    let r = emu
        .http
        .post(format!("{}/v1.0/users", emu.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BadRequest");
}

#[tokio::test]
async fn unknown_paths_and_methods_get_graph_errors() {
    let emu = start().await;
    let r = emu.graph("GET", "/users/x/memberOf", None).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "BadRequest"));
    assert_eq!(r.message(), "Resource not found for the segment 'memberOf'.");
    let r = emu.graph("PUT", "/users", Some(json!({}))).await;
    assert_eq!((r.status.as_u16(), r.code()), (405, "Request_BadRequest"));
    let r = emu.graph("GET", "/nothing", None).await;
    assert_eq!(r.message(), "Resource not found for the segment 'nothing'.");
    let r = emu.call(None, "GET", &format!("{}/beta/users", emu.base), None, &[]).await;
    assert_eq!(r.status, 404);
    assert!(!r.header("request-id").is_empty());
}
