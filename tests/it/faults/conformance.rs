//! The request-log checker (`helpers::conformance`) itself: it accepts what Microsoft documents
//! and names each way a request can be off the contract. Every emulator of the suite runs its
//! log through it when its test ends (`helpers::graph::Emulator`'s `Drop`), and the fault tests
//! here check theirs explicitly.

use serde_json::{Value, json};

use crate::helpers::conformance::reference;

fn entry(method: &str, path: &str, query: &str, body: Value) -> Value {
    json!({"method": method, "path": path, "query": query, "body": body})
}

fn errors(method: &str, path: &str, query: &str, body: Value) -> Vec<String> {
    reference().check(&entry(method, path, query, body))
}

fn create_user() -> Value {
    json!({"accountEnabled": true, "displayName": "Ann", "mailNickname": "ann", "userPrincipalName": "ann@contoso.com",
           "onPremisesImmutableId": "AAECAwQFBgcICQoLDA0ODw==", "usageLocation": "US",
           "passwordProfile": {"password": "[redacted]", "forceChangePasswordNextSignIn": false}})
}

#[test]
fn documented_requests_pass() {
    let ok: Vec<Value> = vec![
        entry("POST", "/v1.0/users", "", create_user()),
        entry("GET", "/v1.0/users", "%24filter=onPremisesImmutableId+eq+%27AAECAw%3D%3D%27&%24select=id%2CuserPrincipalName", Value::Null),
        entry("GET", "/v1.0/users/ann%40contoso.com", "$select=id,assignedLicenses", Value::Null),
        entry("PATCH", "/v1.0/users/1b4e28ba-2fa1-11d2-883f-0016d3cca427", "", json!({"accountEnabled": false, "givenName": null})),
        entry(
            "POST",
            "/v1.0/users/1b4e28ba-2fa1-11d2-883f-0016d3cca427/assignLicense",
            "",
            json!({"addLicenses": [{"skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900", "disabledPlans": []}], "removeLicenses": []}),
        ),
        entry("GET", "/v1.0/groups", "$filter=mailNickname eq 'tessera-1'&$select=id,displayName", Value::Null),
        entry("POST", "/v1.0/groups/g1/members/$ref", "", json!({"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/u1"})),
        entry("DELETE", "/v1.0/groups/g1/members/u1/$ref", "", Value::Null),
        entry(
            "POST",
            "/v1.0/domains/contoso.com/federationConfiguration",
            "",
            json!({"issuerUri": "https://x/contoso.com", "preferredAuthenticationProtocol": "wsFed",
                   "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp", "promptLoginBehavior": "nativeSupport",
                   "signingCertificate": "MIIB", "nextSigningCertificate": null}),
        ),
        entry(
            "POST",
            "/v1.0/$batch",
            "",
            json!({"requests": [{"id": "1", "method": "PATCH", "url": "/users/u1", "headers": {"Content-Type": "application/json"},
                                 "body": {"accountEnabled": true}},
                                {"id": "2", "method": "GET", "url": "/users?$select=id", "dependsOn": ["1"]}]}),
        ),
        entry(
            "POST",
            "/0a0b0c0d-1111-2222-3333-444455556666/oauth2/v2.0/token",
            "",
            json!({"grant_type": "client_credentials", "client_id": "c", "scope": "00000003-0000-0000-c000-000000000000/.default",
                   "client_secret": "[redacted]"}),
        ),
    ];
    for e in &ok {
        assert_eq!(reference().check(e), Vec::<String>::new(), "{e}");
    }
}

#[test]
fn each_kind_of_deviation_is_named() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        (errors("GET", "/v1.0/users/u1/memberOf", "", Value::Null), "no operation"),
        (errors("PUT", "/v1.0/users/u1", "", json!({})), "not a documented method"),
        (errors("PATCH", "/v1.0/users/u1", "", json!({"immutableId": "x"})), "has no property immutableId"),
        (errors("PATCH", "/v1.0/users/u1", "", json!({"accountEnabled": "false"})), "not a valid Edm.Boolean"),
        (errors("PATCH", "/v1.0/users/u1", "", json!({"AccountEnabled": false})), "has no property AccountEnabled"),
        (errors("PATCH", "/v1.0/users/u1", "", json!({"businessPhones": [null]})), "Nullable=false"),
        (errors("POST", "/v1.0/users", "", json!({"displayName": "Ann"})), "required property userPrincipalName is missing"),
        (errors("POST", "/v1.0/users/u1/assignLicense", "", json!({"addLicenses": [{"skuId": "E3"}]})), "not a valid Edm.Guid"),
        (errors("POST", "/v1.0/users/u1/assignLicense", "", json!({"addLicenses": []})), "removeLicenses (Nullable=false) is missing"),
        (
            errors("POST", "/v1.0/domains/d/federationConfiguration", "", json!({"preferredAuthenticationProtocol": "wsfed"})),
            "not a member of microsoft.graph.authenticationProtocol",
        ),
        (errors("GET", "/v1.0/users", "$select=id,immutableId", Value::Null), "$select: microsoft.graph.user has no property immutableId"),
        (errors("GET", "/v1.0/users", "$filter=upn eq 'a'", Value::Null), "$filter: microsoft.graph.user has no property upn"),
        (errors("GET", "/v1.0/users", "$skip=10", Value::Null), "unknown query option $skip"),
        (errors("DELETE", "/v1.0/users/u1", "", json!({"a": 1})), "a body on an operation that takes none"),
        (errors("POST", "/v1.0/groups/g/members/$ref", "", json!({"id": "u1"})), "a reference has no property id"),
        (
            errors(
                "POST",
                "/v1.0/$batch",
                "",
                json!({"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}]}),
            ),
            "must be relative",
        ),
        (errors("POST", "/v1.0/$batch", "", json!({"requests": [{"id": "1", "method": "GET"}]})), "$batch item lacks url"),
        (
            errors(
                "POST",
                "/v1.0/$batch",
                "",
                json!({"requests": (0..21).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"})).collect::<Vec<_>>()}),
            ),
            "holds 21 requests",
        ),
        (
            errors(
                "POST",
                "/t/oauth2/v2.0/token",
                "",
                json!({"grant_type": "password", "client_id": "c", "scope": "https://graph.microsoft.com/.default", "client_secret": "s"}),
            ),
            "grant_type must be client_credentials",
        ),
        (
            errors(
                "POST",
                "/t/oauth2/v2.0/token",
                "",
                json!({"grant_type": "client_credentials", "client_id": "c", "client_secret": "s", "resource": "x"}),
            ),
            "required token parameter scope is missing",
        ),
        (errors("GET", "/beta/users", "", Value::Null), "not a Graph v1.0"),
    ];
    for (found, expected) in cases {
        assert!(found.iter().any(|e| e.contains(expected)), "expected {expected:?} in {found:?}");
    }
}
