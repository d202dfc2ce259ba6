//! The token endpoint: secrets, certificate assertions, and Entra's error answers.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use openssl::hash::MessageDigest;
use serde_json::{Value, json};

use super::support::*;

const SCOPE: &str = "https://graph.microsoft.com/.default";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[tokio::test]
async fn client_secret_grant_issues_a_token_with_the_app_roles() {
    let emu = start().await;
    let r = emu
        .http
        .post(emu.token_url(TENANT))
        .header("client-request-id", "my-correlation-1")
        .form(&[("grant_type", "client_credentials"), ("client_id", CLIENT), ("client_secret", SECRET), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["client-request-id"], "my-correlation-1");
    assert!(!r.headers()["request-id"].is_empty());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["tid"], TENANT);
    assert_eq!(c["appid"], CLIENT);
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["idtyp"], "app");
    let roles: Vec<&str> = c["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(roles, ALL_PERMISSIONS);
}

#[tokio::test]
async fn basic_auth_and_a_domain_name_as_tenant_also_work() {
    let emu = start().await;
    let r = emu
        .http
        .post(emu.token_url("contoso.com"))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn token_errors_use_entra_codes() {
    let emu = start().await;
    let form = |secret: &'static str, scope: &'static str, grant: &'static str, client: &'static str| {
        vec![("grant_type", grant), ("client_id", client), ("client_secret", secret), ("scope", scope)]
    };
    type Form = Vec<(&'static str, &'static str)>;
    let cases: Vec<(&str, Form, u16, &str, u64)> = vec![
        (TENANT, form("wrong", SCOPE, "client_credentials", CLIENT), 401, "invalid_client", 7_000_215),
        ("99999999-2222-3333-4444-555555555555", form(SECRET, SCOPE, "client_credentials", CLIENT), 400, "invalid_request", 90_002),
        (TENANT, form(SECRET, "https://graph.microsoft.com/User.Read", "client_credentials", CLIENT), 400, "invalid_scope", 1_002_012),
        (TENANT, form(SECRET, "https://management.azure.com/.default", "client_credentials", CLIENT), 400, "invalid_scope", 70_011),
        (TENANT, form(SECRET, SCOPE, "password", CLIENT), 400, "unsupported_grant_type", 70_003),
        (TENANT, form(SECRET, SCOPE, "client_credentials", "12345678-0000-0000-0000-000000000000"), 400, "unauthorized_client", 700_016),
        (TENANT, vec![("grant_type", "client_credentials"), ("client_id", CLIENT), ("scope", SCOPE)], 401, "invalid_client", 7_000_218),
        (TENANT, vec![("grant_type", "client_credentials"), ("client_secret", SECRET), ("scope", SCOPE)], 400, "invalid_request", 900_144),
    ];
    for (tenant, form, status, error, code) in cases {
        let r = emu.token_request(tenant, &form).await;
        assert_eq!(r.status, status, "{form:?}: {}", r.body);
        assert_eq!(r.body["error"], error, "{form:?}");
        assert_eq!(r.body["error_codes"], json!([code]), "{form:?}");
        let description = r.body["error_description"].as_str().unwrap();
        assert!(description.starts_with(&format!("AADSTS{code}: ")), "{description}");
        assert!(r.body["trace_id"].is_string() && r.body["correlation_id"].is_string());
    }
}

struct CertApp {
    emu: Emu,
    key: openssl::pkey::PKey<openssl::pkey::Private>,
    cert: openssl::x509::X509,
}

const CERT_CLIENT: &str = "cccccccc-bbbb-cccc-dddd-eeeeeeeeeeee";

async fn cert_app() -> CertApp {
    let (key, cert) = certificate();
    let mut seed = default_seed();
    seed["tenants"][0]["apps"]
        .as_array_mut()
        .unwrap()
        .push(json!({"clientId": CERT_CLIENT, "certificatePem": pem(&cert), "permissions": ["User.Read.All"]}));
    CertApp { emu: start_with(seed, 0).await, key, cert }
}

impl CertApp {
    fn claims(&self) -> Value {
        json!({
            "aud": self.emu.token_url(TENANT),
            "iss": CERT_CLIENT,
            "sub": CERT_CLIENT,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now(),
            "iat": now(),
            "exp": now() + 600,
        })
    }

    fn x5t(&self) -> String {
        b64url(&self.cert.digest(MessageDigest::sha1()).unwrap())
    }

    fn x5t_s256_padded(&self) -> String {
        URL_SAFE.encode(self.cert.digest(MessageDigest::sha256()).unwrap())
    }

    async fn send(&self, assertion: &str) -> Reply {
        self.emu
            .token_request(
                TENANT,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CERT_CLIENT),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", assertion),
                    ("scope", SCOPE),
                ],
            )
            .await
    }
}

#[tokio::test]
async fn certificate_assertion_rs256_with_x5t_and_ps256_with_x5t_s256() {
    let app = cert_app().await;
    let rs = sign_jwt(&app.key, "RS256", &json!({"alg": "RS256", "typ": "JWT", "x5t": app.x5t()}), &app.claims());
    let r = app.send(&rs).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(claims(r.body["access_token"].as_str().unwrap())["appidacr"], "2");

    // MSAL Python style: PS256, padded x5t#S256, fractional NumericDates, no nbf.
    let mut c = app.claims();
    c.as_object_mut().unwrap().remove("nbf");
    c["exp"] = json!(now() as f64 + 599.5);
    c["iat"] = json!(now() as f64 + 0.25);
    let ps = sign_jwt(
        &app.key,
        "PS256",
        &json!({"alg": "PS256", "typ": "JWT", "x5t#S256": app.x5t_s256_padded(), "x5c": [STANDARD.encode(app.cert.to_der().unwrap())]}),
        &c,
    );
    let r = app.send(&ps).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The https twin of the base URL is accepted as audience (MSAL needs https authorities).
    let mut c = app.claims();
    c["aud"] = json!(app.emu.token_url(TENANT).replacen("http://", "https://", 1));
    let r = app.send(&sign_jwt(&app.key, "RS256", &json!({"alg": "RS256", "x5t": app.x5t()}), &c)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn bad_assertions_are_refused_with_the_matching_aadsts_code() {
    let app = cert_app().await;
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": app.x5t()});
    let (other_key, other_cert) = certificate();
    let mut cases: Vec<(String, u64)> = Vec::new();
    // Signed by another key under the registered thumbprint.
    cases.push((sign_jwt(&other_key, "RS256", &header, &app.claims()), 700_027));
    // A certificate that is not registered.
    let other_header = json!({"alg": "RS256", "x5t": b64url(&other_cert.digest(MessageDigest::sha1()).unwrap())});
    cases.push((sign_jwt(&other_key, "RS256", &other_header, &app.claims()), 700_027));
    let mut c = app.claims();
    c["aud"] = json!("https://login.microsoftonline.com/common/oauth2/v2.0/token");
    cases.push((sign_jwt(&app.key, "RS256", &header, &c), 700_023));
    let mut c = app.claims();
    c["iss"] = json!(CLIENT);
    cases.push((sign_jwt(&app.key, "RS256", &header, &c), 700_021));
    let mut c = app.claims();
    c["exp"] = json!(now() - 3600);
    c["nbf"] = json!(now() - 4000);
    cases.push((sign_jwt(&app.key, "RS256", &header, &c), 700_024));
    let mut c = app.claims();
    c["nbf"] = json!(now() + 3600);
    cases.push((sign_jwt(&app.key, "RS256", &header, &c), 700_024));
    for (assertion, code) in cases {
        let r = app.send(&assertion).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.body["error"], "invalid_client");
        assert_eq!(r.body["error_codes"], json!([code]), "{}", r.body);
    }
    let r = app.send("not-a-jwt").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error_codes"], json!([50_027]));
}

#[tokio::test]
async fn openid_configuration_names_the_token_endpoint() {
    let emu = start().await;
    let r = emu.http.get(format!("{}/contoso.com/v2.0/.well-known/openid-configuration", emu.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_endpoint"], emu.token_url(TENANT));
    assert!(body["authorization_endpoint"].is_string());
}
