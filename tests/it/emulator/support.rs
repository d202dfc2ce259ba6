//! Helpers: start an emulator on a free port, seed it, get tokens, call Graph.

use std::net::TcpListener;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer};
use openssl::x509::{X509, X509NameBuilder};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera::emulator::{EmulatorConfig, Seed, serve};

pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
pub const SECRET: &str = "emulator-secret~1";
pub const READER: &str = "bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee";
pub const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
pub const E5: &str = "c7df2760-2c81-4ef7-b578-5b5392b571df";
pub const PASSWORD: &str = "Str0ng!Passw0rd";

/// Every permission the emulator knows, for the main test app.
pub const ALL_PERMISSIONS: &[&str] = &[
    "User.ReadWrite.All",
    "Group.ReadWrite.All",
    "Domain.ReadWrite.All",
    "Directory.Read.All",
    "Organization.Read.All",
    "LicenseAssignment.ReadWrite.All",
];

pub fn default_seed() -> Value {
    json!({
        "tenants": [{
            "id": TENANT,
            "displayName": "Contoso",
            "initialDomain": "contoso.onmicrosoft.com",
            "domains": [
                {"name": "contoso.com"},
                {"name": "fabrikam.com", "isVerified": false},
                {"name": "federated.example", "authenticationType": "Federated"}
            ],
            "apps": [
                {"clientId": CLIENT, "clientSecret": SECRET, "permissions": ALL_PERMISSIONS},
                {"clientId": READER, "clientSecret": SECRET, "permissions": ["User.Read.All"]}
            ],
            "skus": [
                {"skuId": E3, "skuPartNumber": "ENTERPRISEPACK", "prepaidUnits": {"enabled": 3}, "consumedUnits": 1},
                {"skuId": E5, "skuPartNumber": "ENTERPRISEPREMIUM", "prepaidUnits": {"enabled": 1}}
            ]
        }]
    })
}

pub struct Emu {
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn start_with(seed: Value, fault_seed: u64) -> Emu {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let seed: Seed = serde_json::from_value(seed).expect("seed");
    let config = EmulatorConfig { seed, fault_seed, workers: 1, ..EmulatorConfig::default() };
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = serve(listener, config).expect("serve");
    tokio::spawn(server);
    Emu { base, http: reqwest::Client::new() }
}

pub async fn start() -> Emu {
    start_with(default_seed(), 0).await
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Reply { status, headers, body }
}

impl Emu {
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base)
    }

    pub async fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> Reply {
        let resp = self.http.post(self.token_url(tenant)).form(form).send().await.expect("token request");
        reply(resp).await
    }

    pub async fn token_for(&self, client: &str) -> String {
        let r = self
            .token_request(
                TENANT,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client),
                    ("client_secret", SECRET),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["access_token"].as_str().expect("token").to_owned()
    }

    pub async fn token(&self) -> String {
        self.token_for(CLIENT).await
    }

    /// A Graph call with an explicit token (or none).
    pub async fn call(&self, token: Option<&str>, method: &str, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}/v1.0{path}", self.base) };
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.expect("graph request")).await
    }

    /// A Graph call with the full-permission app's token.
    pub async fn graph(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let token = self.token().await;
        self.call(Some(&token), method, path, body, &[]).await
    }

    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}/_emulator{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.expect("control request")).await
    }

    pub async fn create_user(&self, token: &str, upn: &str, extra: Value) -> Reply {
        let mut body = user_body(upn);
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.call(Some(token), "POST", "/users", Some(body), &[]).await
    }
}

pub fn user_body(upn: &str) -> Value {
    let nick = upn.split('@').next().unwrap_or("user");
    json!({
        "accountEnabled": true,
        "displayName": format!("User {nick}"),
        "mailNickname": nick,
        "userPrincipalName": upn,
        "passwordProfile": {"forceChangePasswordNextSignIn": false, "password": PASSWORD},
    })
}

/// Claims of a JWT, without verifying it.
pub fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("claims part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

/// An RSA key and a self-signed certificate for it.
pub fn certificate() -> (PKey<Private>, X509) {
    let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "tessera-test").expect("cn");
    let name = name.build();
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("version");
    b.set_serial_number(&BigNum::from_u32(7).expect("bn").to_asn1_integer().expect("serial")).expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("t")).expect("nb");
    b.set_not_after(&Asn1Time::days_from_now(30).expect("t")).expect("na");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    (key, b.build())
}

pub fn pem(cert: &X509) -> String {
    String::from_utf8(cert.to_pem().expect("pem")).expect("utf8")
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs a client assertion; `alg` is RS256 or PS256.
pub fn sign_jwt(key: &PKey<Private>, alg: &str, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64url(&serde_json::to_vec(header).expect("h")), b64url(&serde_json::to_vec(claims).expect("c")));
    let mut signer = Signer::new(MessageDigest::sha256(), key).expect("signer");
    if alg == "PS256" {
        signer.set_rsa_padding(Padding::PKCS1_PSS).expect("pss");
        signer.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).expect("salt");
        signer.set_rsa_mgf1_md(MessageDigest::sha256()).expect("mgf1");
    }
    signer.update(input.as_bytes()).expect("update");
    format!("{input}.{}", b64url(&signer.sign_to_vec().expect("sign")))
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
