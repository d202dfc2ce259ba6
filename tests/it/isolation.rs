//! A key of tenant A can neither read nor change anything of tenant B: one case per query and
//! mutation of the admin API.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, code, spawn_app};

both_backends!(tenants_cannot_see_or_touch_each_other);

async fn tenants_cannot_see_or_touch_each_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, a) = app.tenant_with_admin("Tenant A").await;
    let (b_tenant, b) = app.tenant_with_admin("Tenant B").await;
    app.verified_domain(&b, "b.com").await;
    let b_user = app.create_user(&b, "bob@b.com").await;
    let sku = "6fd2c87f-b296-42f0-b197-1e91e994b900";
    app.ok(
        &b,
        "mutation($u: ID!, $s: String!) { setUsageLocation(id: $u, usageLocation: \"US\") { id } grantLicense(id: $u, skuId: $s) { id } }",
        json!({ "u": b_user, "s": sku }),
    )
    .await;
    let b_group = app.ok(&b, "mutation { createGroup(displayName: \"B group\") { id } }", json!({})).await["createGroup"]["id"].clone();
    app.ok(&b, "mutation($g: ID!, $u: ID!) { addGroupMember(groupId: $g, userId: $u) { id } }", json!({ "g": b_group, "u": b_user })).await;
    let b_key = app.ok(&b, "mutation { createApiKey(name: \"b auditor\", role: AUDITOR) { apiKey { id } } }", json!({})).await["createApiKey"]["apiKey"]["id"].clone();
    let a_group = app.ok(&a, "mutation { createGroup(displayName: \"A group\") { id } }", json!({})).await["createGroup"]["id"].clone();
    let vars = json!({ "t": b_tenant, "u": b_user, "g": b_group, "k": b_key, "ag": a_group, "s": sku });

    // Reads: naming B is forbidden; B's objects are invisible from A's scope.
    let forbidden_reads = [
        "query($t: ID!) { tenant(tenantId: $t) { id } }",
        "query($t: ID!) { domains(tenantId: $t) { name } }",
        "query($t: ID!) { domain(name: \"b.com\", tenantId: $t) { name } }",
        "query($t: ID!) { users(tenantId: $t) { edges { cursor } } }",
        "query($t: ID!, $u: ID!) { user(id: $u, tenantId: $t) { id } }",
        "query($t: ID!) { userByUpn(userPrincipalName: \"bob@b.com\", tenantId: $t) { id } }",
        "query($t: ID!) { groups(tenantId: $t) { id } }",
        "query($t: ID!, $g: ID!) { group(id: $g, tenantId: $t) { id } }",
        "query($t: ID!) { apiKeys(tenantId: $t) { id } }",
        "{ tenants { id } }",
    ];
    for query in forbidden_reads {
        assert_eq!(code(&app.gql(&a, query, vars.clone()).await), "FORBIDDEN", "{query}");
    }
    let invisible: [(&str, &str); 6] = [
        ("{ domain(name: \"b.com\") { name } }", "domain"),
        ("query($u: ID!) { user(id: $u) { id } }", "user"),
        ("{ userByUpn(userPrincipalName: \"bob@b.com\") { id } }", "userByUpn"),
        ("query($g: ID!) { group(id: $g) { id } }", "group"),
        ("{ users { edges { node { id } } } }", "users"),
        ("{ groups { id members { id } } }", "groups"),
    ];
    for (query, field) in invisible {
        let data = app.ok(&a, query, vars.clone()).await;
        let shown = data[field].to_string();
        assert!(
            !shown.contains(b_user.as_str()) && !shown.contains("b.com") && !shown.contains(b_group.as_str().unwrap()),
            "{query}: {shown}"
        );
    }
    let keys = app.ok(&a, "{ apiKeys { id } }", json!({})).await.to_string();
    assert!(!keys.contains(b_key.as_str().unwrap()));

    // Writes: naming B is forbidden; B's objects are not found from A's scope.
    let forbidden_writes = [
        "mutation($t: ID!) { renameTenant(name: \"x\", tenantId: $t) { id } }",
        "mutation($t: ID!) { setDefaultUsageLocation(usageLocation: \"US\", tenantId: $t) { id } }",
        "mutation($t: ID!, $s: String!) { setDefaultLicenses(skuIds: [$s], tenantId: $t) { id } }",
        "mutation($t: ID!) { setDeprovisionAction(action: DELETE, tenantId: $t) { id } }",
        "mutation($t: ID!) { setMfaPolicy(policy: OFF, tenantId: $t) { id } }",
        "mutation($t: ID!) { addDomain(name: \"x.com\", tenantId: $t) { name } }",
        "mutation($t: ID!) { createUser(input: { userPrincipalName: \"eve@b.com\", displayName: \"Eve\" }, tenantId: $t) { id } }",
        "mutation($t: ID!) { createGroup(displayName: \"x\", tenantId: $t) { id } }",
        "mutation($t: ID!) { createApiKey(name: \"x\", role: ADMIN, tenantId: $t) { secret } }",
        "mutation($t: ID!) { suspendTenant(tenantId: $t) { id } }",
        "mutation($t: ID!) { reactivateTenant(tenantId: $t) { id } }",
    ];
    for query in forbidden_writes {
        assert_eq!(code(&app.gql(&a, query, vars.clone()).await), "FORBIDDEN", "{query}");
    }
    let not_found_writes = [
        "mutation { verifyDomain(name: \"b.com\") { name } }",
        "mutation { federateDomain(name: \"b.com\") { name } }",
        "mutation { defederateDomain(name: \"b.com\") { name } }",
        "mutation { removeDomain(name: \"b.com\") }",
        "mutation($u: ID!) { updateUserProfile(id: $u, input: { displayName: \"x\" }) { id } }",
        "mutation($u: ID!) { setPassword(id: $u, password: \"long enough\") { id } }",
        "mutation($u: ID!) { suspendUser(id: $u) { id } }",
        "mutation($u: ID!) { reactivateUser(id: $u) { id } }",
        "mutation($u: ID!) { deleteUser(id: $u) }",
        "mutation($u: ID!) { assignUser(id: $u) { id } }",
        "mutation($u: ID!) { unassignUser(id: $u) { id } }",
        "mutation($u: ID!) { setUsageLocation(id: $u, usageLocation: \"DE\") { id } }",
        "mutation($u: ID!, $s: String!) { grantLicense(id: $u, skuId: $s) { id } }",
        "mutation($u: ID!, $s: String!) { revokeLicense(id: $u, skuId: $s) { id } }",
        "mutation($g: ID!) { renameGroup(id: $g, displayName: \"x\") { id } }",
        "mutation($g: ID!, $u: ID!) { addGroupMember(groupId: $g, userId: $u) { id } }",
        "mutation($ag: ID!, $u: ID!) { addGroupMember(groupId: $ag, userId: $u) { id } }",
        "mutation($g: ID!, $u: ID!) { removeGroupMember(groupId: $g, userId: $u) { id } }",
        "mutation($g: ID!) { deleteGroup(id: $g) }",
        "mutation($k: ID!) { revokeApiKey(id: $k) { id } }",
    ];
    for query in not_found_writes {
        assert_eq!(code(&app.gql(&a, query, vars.clone()).await), "NOT_FOUND", "{query}");
    }

    // B is exactly as it was.
    let data = app
        .ok(&b, "query($u: ID!) { tenant { name mfaPolicy } user(id: $u) { displayName state licenses groups { id } } apiKeys { revoked } domains { name verified federation } }", json!({ "u": b_user }))
        .await;
    let expected: Value = json!({
        "tenant": { "name": "Tenant B", "mfaPolicy": "OPTIONAL" },
        "user": { "displayName": "Test User", "state": "ACTIVE", "licenses": [sku], "groups": [{ "id": b_group }] },
        "apiKeys": [{ "revoked": false }, { "revoked": false }],
        "domains": [{ "name": "b.com", "verified": true, "federation": "MANAGED" }],
    });
    assert_eq!(data, expected);
}
