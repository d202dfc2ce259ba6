use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, code, spawn_app};

both_backends!(user_lifecycle, licenses_need_a_usage_location, listing_filters_and_pages, mutation_answers_are_what_a_query_reads);

const SKU: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

async fn user_lifecycle(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;

    let body = app
        .gql(
            &admin,
            "mutation { createUser(input: { userPrincipalName: \"adele@contoso.com\", displayName: \"Adele\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "PRECONDITION_FAILED");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "DOMAIN_NOT_VERIFIED");

    app.verified_domain(&admin, "contoso.com").await;
    let data = app
        .ok(
            &admin,
            "mutation { createUser(input: { userPrincipalName: \"Adele.Vance@Contoso.com\", displayName: \"Adele Vance\",
                 givenName: \"Adele\", surname: \"Vance\", mail: \"adele@contoso.com\", usageLocation: \"us\", password: \"correct horse\" }) {
                 id userPrincipalName immutableId displayName givenName surname mail state assigned usageLocation passwordSet licenses } }",
            json!({}),
        )
        .await;
    let user = &data["createUser"];
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["userPrincipalName"], "adele.vance@contoso.com");
    assert_eq!(user["usageLocation"], "US");
    assert_eq!(user["state"], "ACTIVE");
    assert_eq!(user["passwordSet"], true);
    let anchor = user["immutableId"].as_str().unwrap();
    assert_eq!(anchor.len(), 24, "base64 of 16 bytes");

    // UPNs are unique per tenant, case-insensitively.
    let body = app
        .gql(
            &admin,
            "mutation { createUser(input: { userPrincipalName: \"ADELE.VANCE@contoso.com\", displayName: \"Dup\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "CONFLICT");

    let data = app
        .ok(
            &admin,
            "mutation($id: ID!, $sku: String!) {
                assignUser(id: $id) { assigned }
                grantLicense(id: $id, skuId: $sku) { licenses }
                updateUserProfile(id: $id, input: { displayName: \"Adele V.\" }) { displayName givenName immutableId }
                suspendUser(id: $id) { state }
            }",
            json!({ "id": id, "sku": SKU }),
        )
        .await;
    assert_eq!(data["assignUser"]["assigned"], true);
    assert_eq!(data["grantLicense"]["licenses"], json!([SKU]));
    assert_eq!(data["updateUserProfile"]["displayName"], "Adele V.");
    assert_eq!(data["updateUserProfile"]["immutableId"], anchor, "the anchor never changes");
    assert_eq!(data["suspendUser"]["state"], "SUSPENDED");

    let data = app.ok(&admin, "{ userByUpn(userPrincipalName: \"ADELE.VANCE@contoso.com\") { id state licenses } }", json!({})).await;
    assert_eq!(data["userByUpn"]["id"], id.as_str());

    let data = app
        .ok(
            &admin,
            "mutation($id: ID!, $sku: String!) { reactivateUser(id: $id) { state } revokeLicense(id: $id, skuId: $sku) { licenses } unassignUser(id: $id) { assigned } }",
            json!({ "id": id, "sku": SKU }),
        )
        .await;
    assert_eq!(data["reactivateUser"]["state"], "ACTIVE");
    assert_eq!(data["revokeLicense"]["licenses"], json!([]));
    assert_eq!(data["unassignUser"]["assigned"], false);

    // Deletion frees the UPN.
    app.ok(&admin, "mutation($id: ID!) { deleteUser(id: $id) }", json!({ "id": id })).await;
    let data = app.ok(&admin, "query($id: ID!) { user(id: $id) { id } }", json!({ "id": id })).await;
    assert!(data["user"].is_null());
    let again = app.create_user(&admin, "adele.vance@contoso.com").await;
    assert_ne!(again, id);
    let body = app.gql(&admin, "mutation($id: ID!) { suspendUser(id: $id) { id } }", json!({ "id": id })).await;
    assert_eq!(code(&body), "NOT_FOUND");
}

async fn licenses_need_a_usage_location(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let id = app.create_user(&admin, "megan@contoso.com").await;
    let body =
        app.gql(&admin, "mutation($id: ID!, $s: String!) { grantLicense(id: $id, skuId: $s) { id } }", json!({ "id": id, "s": SKU })).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "USAGE_LOCATION_REQUIRED");
    let data = app
        .ok(
            &admin,
            "mutation($id: ID!, $s: String!) { setUsageLocation(id: $id, usageLocation: \"GB\") { usageLocation } grantLicense(id: $id, skuId: $s) { licenses } }",
            json!({ "id": id, "s": SKU }),
        )
        .await;
    assert_eq!(data["setUsageLocation"]["usageLocation"], "GB");
    assert_eq!(data["grantLicense"]["licenses"], json!([SKU]));

    // The tenant's default usage location applies to users created afterwards.
    app.ok(&admin, "mutation { setDefaultUsageLocation(usageLocation: \"FR\") { id } }", json!({})).await;
    let data = app
        .ok(
            &admin,
            "mutation { createUser(input: { userPrincipalName: \"lee@contoso.com\", displayName: \"Lee\" }) { usageLocation } }",
            json!({}),
        )
        .await;
    assert_eq!(data["createUser"]["usageLocation"], "FR");
}

async fn listing_filters_and_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    app.verified_domain(&admin, "fabrikam.com").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(app.create_user(&admin, &format!("user{i}@contoso.com")).await);
    }
    let fab = app.create_user(&admin, "pat_100@fabrikam.com").await;
    app.ok(&admin, "mutation($id: ID!) { assignUser(id: $id) { id } }", json!({ "id": ids[2] })).await;

    // Pages of 3 walk every user once, in a stable order.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .ok(
                &admin,
                "query($a: String) { users(first: 3, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
                json!({ "a": after }),
            )
            .await;
        let page = &data["users"];
        for edge in page["edges"].as_array().unwrap() {
            seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let mut expected = ids.clone();
    expected.push(fab.clone());
    assert_eq!(seen, expected);

    let data = app.ok(&admin, "{ users(filter: { domain: \"fabrikam.com\" }) { edges { node { id } } } }", json!({})).await;
    assert_eq!(data["users"]["edges"].as_array().unwrap().len(), 1);
    let data = app.ok(&admin, "{ users(filter: { assigned: true }) { edges { node { id } } } }", json!({})).await;
    assert_eq!(data["users"]["edges"][0]["node"]["id"], ids[2].as_str());
    // LIKE metacharacters in a search are literal.
    let data = app.ok(&admin, "{ users(filter: { search: \"_1\" }) { edges { node { id } } } }", json!({})).await;
    assert_eq!(data["users"]["edges"].as_array().unwrap().len(), 1);
    let data =
        app.ok(&admin, "{ users(filter: { search: \"USER1\", state: ACTIVE }) { edges { node { userPrincipalName } } } }", json!({})).await;
    assert_eq!(data["users"]["edges"][0]["node"]["userPrincipalName"], "user1@contoso.com");
    let body = app.gql(&admin, "{ users(first: 1000) { edges { cursor } } }", json!({})).await;
    assert_eq!(code(&body), "VALIDATION");
    let body = app.gql(&admin, "{ users(after: \"nonsense\") { edges { cursor } } }", json!({})).await;
    assert_eq!(code(&body), "VALIDATION");
}

/// A user mutation answers what the command decided from the write side (no read back), the
/// profile and timestamps from the read model: either way exactly what a query reads next.
async fn mutation_answers_are_what_a_query_reads(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let decided = "id userPrincipalName immutableId state assigned usageLocation passwordSet personalDataForgotten licenses groups { id }";
    let everything = format!("{decided} displayName givenName surname mail createdAt updatedAt");
    let created = app
        .ok(
            &admin,
            "mutation { createUser(input: { userPrincipalName: \"Megan.Bowen@Contoso.com\", displayName: \"Megan Bowen\" }) { id } }",
            json!({}),
        )
        .await;
    let id = created["createUser"]["id"].as_str().unwrap().to_owned();
    let steps = [
        ("assignUser", "(id: $id)", decided.to_owned()),
        ("setUsageLocation", "(id: $id, usageLocation: \"DE\")", decided.to_owned()),
        ("grantLicense", "(id: $id, skuId: $sku)", decided.to_owned()),
        ("suspendUser", "(id: $id)", decided.to_owned()),
        ("setPassword", "(id: $id, password: \"correct horse battery\")", decided.to_owned()),
        ("revokeLicense", "(id: $id, skuId: $sku)", everything.clone()),
        ("reactivateUser", "(id: $id)", "state __typename".to_owned()),
        ("updateUserProfile", "(id: $id, input: { displayName: \"Megan B.\", mail: \"megan@contoso.com\" })", everything.clone()),
        ("unassignUser", "(id: $id)", decided.to_owned()),
        ("assignUser", "(id: $id)", decided.to_owned()),
    ];
    for (mutation, arguments, selection) in steps {
        let declared = if arguments.contains("$sku") { "$id: ID!, $sku: String!" } else { "$id: ID!" };
        let document = format!("mutation({declared}) {{ {mutation}{arguments} {{ {selection} }} }}");
        let variables = if arguments.contains("$sku") { json!({ "id": id, "sku": SKU }) } else { json!({ "id": id }) };
        let answer = app.ok(&admin, &document, variables).await;
        let read = app.ok(&admin, &format!("query($id: ID!) {{ user(id: $id) {{ {selection} }} }}"), json!({ "id": id })).await;
        assert_eq!(answer[mutation], read["user"], "{mutation} answered otherwise than a query reads");
    }
    let last = app.ok(&admin, &format!("query($id: ID!) {{ user(id: $id) {{ {decided} }} }}"), json!({ "id": id })).await;
    assert_eq!(last["user"]["assigned"], true);
    assert_eq!(last["user"]["state"], "ACTIVE");
    assert_eq!(last["user"]["usageLocation"], "DE");
    assert_eq!(last["user"]["passwordSet"], true);
    assert_eq!(last["user"]["licenses"], json!([]));
}
