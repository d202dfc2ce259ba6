//! The WS-Federation sign-in over HTTP on both backends: signing keys and rollover in metadata,
//! the UPN → password → TOTP pages with enrollment, tokens verified by xmlsec1 against the
//! certificate from the metadata, single sign-on, policy refusals, throttling and the sign-in log.

use std::process::Command;

use base64::Engine as _;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

const RP: &str = "http://127.0.0.1:9/rp";

/// A tiny browser: one cookie jar entry, forms parsed with string search.
pub(crate) struct Browser {
    client: reqwest::Client,
    cookie: Option<String>,
    user_agent: String,
}

pub(crate) struct Page {
    pub status: u16,
    pub body: String,
}

impl Browser {
    pub(crate) fn new() -> Self {
        Self::with_user_agent("signin-test")
    }

    pub(crate) fn with_user_agent(user_agent: &str) -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { client, cookie: None, user_agent: user_agent.to_owned() }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = match &self.cookie {
            Some(c) => request.header("Cookie", format!("tessera_session={c}")),
            None => request,
        };
        let response = request.header("User-Agent", self.user_agent.as_str()).send().await.unwrap();
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let (pair, attrs) = value.split_once(';').unwrap_or((value, ""));
            let (name, v) = pair.split_once('=').unwrap();
            assert_eq!(name, "tessera_session");
            assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax"), "{value}");
            self.cookie = (!v.is_empty()).then(|| v.to_owned());
        }
        let status = response.status().as_u16();
        Page { status, body: response.text().await.unwrap() }
    }

    pub(crate) async fn get(&mut self, url: &str) -> Page {
        let request = self.client.get(url);
        self.send(request).await
    }

    /// Submits the page's form with its hidden fields plus `fields`.
    pub(crate) async fn submit(&mut self, base: &str, page: &Page, fields: &[(&str, &str)]) -> Page {
        let action = attr_after(&page.body, "<form method=\"post\" action=\"", "\"");
        let mut form: Vec<(String, String)> = ["csrf", "request", "step"].iter().map(|n| (n.to_string(), hidden(&page.body, n))).collect();
        if page.body.contains("name=\"upn\" value=\"") && !fields.iter().any(|(n, _)| *n == "upn") {
            form.push(("upn".into(), hidden(&page.body, "upn")));
        }
        form.extend(fields.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        let request = self.client.post(format!("{base}{action}")).form(&form);
        self.send(request).await
    }
}

fn unescape(value: &str) -> String {
    value.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

fn attr_after(body: &str, marker: &str, end: &str) -> String {
    let start = body.find(marker).unwrap_or_else(|| panic!("{marker} not in {body}")) + marker.len();
    unescape(&body[start..start + body[start..].find(end).unwrap()])
}

fn hidden(body: &str, name: &str) -> String {
    attr_after(body, &format!("name=\"{name}\" value=\""), "\"")
}

fn certificates(metadata: &str) -> Vec<String> {
    metadata
        .split("<ds:X509Certificate>")
        .skip(1)
        .map(|rest| {
            let b64 = &rest[..rest.find('<').unwrap()];
            let wrapped: Vec<String> = b64.as_bytes().chunks(64).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
            format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", wrapped.join("\n"))
        })
        .collect()
}

fn xmlsec_ok(xml: &str, cert_pem: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let file = dir.path().join("token.xml");
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmlsec1")
        .args(["--verify", "--pubkey-cert-pem"])
        .arg(&cert)
        .args(["--id-attr:AssertionID", "urn:oasis:names:tc:SAML:1.0:assertion:Assertion"])
        .arg(&file)
        .output()
        .expect("xmlsec1 is installed (apt-get install xmlsec1)");
    out.status.success()
}

fn totp_now(secret_base32: &str) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).with_account_name("x").build().unwrap();
    totp.generate_current().to_string()
}

struct Fixture {
    app: TestApp,
    tenant: String,
    admin: String,
    user_id: String,
    immutable_id: String,
}

async fn fixture(backend: Backend) -> Fixture {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let (user_id, immutable_id) = app.sign_in_ready_user(&admin, "adele@contoso.com").await;
    app.ok(&admin, "mutation($r: [String!]!) { setReplyUrls(urls: $r) { replyUrls } }", json!({ "r": [RP] })).await;
    Fixture { app, tenant, admin, user_id, immutable_id }
}

fn sign_in_url(f: &Fixture, extra: &str) -> String {
    format!(
        "{}/wsfed/{}?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wctx=ctx%3C1%3E&wreply={}{extra}",
        f.app.address,
        f.tenant,
        RP.replace(':', "%3A").replace('/', "%2F")
    )
}

async fn metadata(f: &Fixture) -> String {
    let url = format!("{}/wsfed/{}/contoso.com/FederationMetadata/2007-06/FederationMetadata.xml", f.app.address, f.tenant);
    let response = f.app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

fn token_of(page: &Page) -> String {
    assert!(page.body.contains("id=\"wsfed-response\""), "expected the token form, got {} {}", page.status, page.body);
    assert_eq!(attr_after(&page.body, "action=\"", "\""), RP);
    assert_eq!(hidden(&page.body, "wctx"), "ctx<1>");
    hidden(&page.body, "wresult")
}

/// The user's sign-in log, newest first, once the projection shows what `ready` wants
/// (sign-in events are recorded without waiting for the read model).
async fn sign_ins(f: &Fixture, ready: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
    let query = "query($u: ID!) { signIns(userId: $u, first: 50) { edges { node { succeeded failureReason mfaDone userAgent claims } } } }";
    for _ in 0..100 {
        let data = f.app.ok(&f.admin, query, json!({ "u": f.user_id })).await;
        let nodes: Vec<_> = data["signIns"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
        if ready(&nodes) {
            return nodes;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the sign-in log did not reach the expected state");
}

async fn keys_roll_over_through_metadata(backend: Backend) {
    let f = fixture(backend).await;
    let before = certificates(&metadata(&f).await);
    assert_eq!(before.len(), 1);
    assert!(metadata(&f).await.contains(&format!("entityID=\"{}/wsfed/{}/contoso.com\"", f.app.address, f.tenant)));
    let data =
        f.app.ok(&f.admin, "mutation { generateNextSigningKey(keySize: RSA3072) { signingKeys { status keyBits } } }", json!({})).await;
    assert_eq!(
        data["generateNextSigningKey"]["signingKeys"],
        json!([{ "status": "ACTIVE", "keyBits": 2048 }, { "status": "NEXT", "keyBits": 3072 }])
    );
    let during = certificates(&metadata(&f).await);
    assert_eq!(during.len(), 2);
    assert_eq!(during[0], before[0]);
    let again = f.app.gql(&f.admin, "mutation { generateNextSigningKey { id } }", json!({})).await;
    assert_eq!(again["errors"][0]["extensions"]["reason"], "NEXT_SIGNING_KEY_EXISTS");
    // Before the rollover the old key signs; the issuer now remembers it as the active one.
    let mut browser = Browser::new();
    let page = browser.get(&sign_in_url(&f, "")).await;
    let page = browser.submit(&f.app.address, &page, &[("upn", "adele@contoso.com")]).await;
    let page = browser.submit(&f.app.address, &page, &[("password", "correct horse battery")]).await;
    assert!(xmlsec_ok(&token_of(&page), &before[0]));
    f.app.ok(&f.admin, "mutation { activateNextSigningKey { id } }", json!({})).await;
    let after = certificates(&metadata(&f).await);
    assert_eq!(after, vec![during[1].clone()]);

    // Tokens are signed by the active key, the new one, at once, and live as long as the
    // tenant says.
    let data = f.app.ok(&f.admin, "mutation { setTokenLifetime(minutes: 15) { tokenLifetimeMinutes } }", json!({})).await;
    assert_eq!(data["setTokenLifetime"]["tokenLifetimeMinutes"], 15);
    let bad = f.app.gql(&f.admin, "mutation { setTokenLifetime(minutes: 481) { id } }", json!({})).await;
    assert_eq!(crate::helpers::code(&bad), "VALIDATION");
    let mut browser = Browser::new();
    let page = browser.get(&sign_in_url(&f, "")).await;
    let page = browser.submit(&f.app.address, &page, &[("upn", "adele@contoso.com")]).await;
    let page = browser.submit(&f.app.address, &page, &[("password", "correct horse battery")]).await;
    let token = token_of(&page);
    assert!(xmlsec_ok(&token, &after[0]));
    assert!(!xmlsec_ok(&token, &before[0]));
    // Both sign-ins projected, so the newest is this one (not the one before the new lifetime).
    let nodes = sign_ins(&f, |nodes| nodes.len() == 2).await;
    let expires = chrono::DateTime::parse_from_rfc3339(nodes[0]["claims"]["not_on_or_after"].as_str().unwrap()).unwrap();
    let minutes = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
    assert!((13..=15).contains(&minutes), "{minutes}");
}

async fn totp_enrollment_sso_and_sign_in_log(backend: Backend) {
    let f = fixture(backend).await;
    f.app.ok(&f.admin, "mutation { setMfaPolicy(policy: REQUIRED) { mfaPolicy } }", json!({})).await;
    let cert = certificates(&metadata(&f).await).remove(0);
    let mut browser = Browser::new();
    let page = browser.get(&sign_in_url(&f, "&username=adele%40contoso.com")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<label for=\"upn\">") && page.body.contains("value=\"adele@contoso.com\""));
    let page = browser.submit(&f.app.address, &page, &[("upn", "adele@contoso.com")]).await;
    assert!(page.body.contains("<label for=\"password\">"));
    let wrong = browser.submit(&f.app.address, &page, &[("password", "wrong password!")]).await;
    assert!(wrong.body.contains("The user name or password is incorrect."));
    let page = browser.submit(&f.app.address, &wrong, &[("password", "correct horse battery")]).await;
    assert!(page.body.contains("<svg") && page.body.contains("otpauth://totp/"), "{}", page.body);
    let secret = attr_after(&page.body, "<code id=\"secret\">", "<");
    let bad = browser.submit(&f.app.address, &page, &[("code", "000000")]).await;
    assert!(bad.body.contains("That code is not valid"));
    let enrollment_code = totp_now(&secret);
    let page = browser.submit(&f.app.address, &bad, &[("code", &enrollment_code)]).await;
    assert!(page.body.contains("id=\"recovery-codes\""), "{}", page.body);
    let recovery = attr_after(&page.body, "<li><code>", "<");
    let page = browser.submit(&f.app.address, &page, &[]).await;
    let token = token_of(&page);
    let rstr = base64::engine::general_purpose::STANDARD.encode(&token);
    assert!(!rstr.is_empty());
    assert!(xmlsec_ok(&token, &cert), "token does not verify");
    assert!(token.contains(&f.immutable_id) && token.contains("adele@contoso.com"));
    assert!(token.contains("http://schemas.microsoft.com/claims/multipleauthn"));
    assert!(!xmlsec_ok(&token.replacen("adele@contoso.com", "admin@contoso.com", 1), &cert));

    // Single sign-on: a second request gets a token without a prompt, unless wfresh=0.
    let page = browser.get(&sign_in_url(&f, "")).await;
    assert!(xmlsec_ok(&token_of(&page), &cert));
    let page = browser.get(&sign_in_url(&f, "&wfresh=0")).await;
    assert!(page.body.contains("<label for=\"upn\">"));

    // A fresh browser signs in with TOTP enrolled, using a recovery code once.
    let mut other = Browser::new();
    let page = other.get(&sign_in_url(&f, "")).await;
    let page = other.submit(&f.app.address, &page, &[("upn", "adele@contoso.com")]).await;
    let page = other.submit(&f.app.address, &page, &[("password", "correct horse battery")]).await;
    assert!(page.body.contains("<label for=\"code\">"));
    let page = other.submit(&f.app.address, &page, &[("code", &recovery)]).await;
    assert!(xmlsec_ok(&token_of(&page), &cert));

    // Sign-out ends the session.
    let page = browser.get(&format!("{}/wsfed/{}?wa=wsignout1.0", f.app.address, f.tenant)).await;
    assert!(page.body.contains("signed out"));
    let page = browser.get(&sign_in_url(&f, "")).await;
    assert!(page.body.contains("<label for=\"upn\">"));

    let nodes = sign_ins(&f, |nodes| nodes.len() == 5).await;
    let reasons: Vec<_> = nodes.iter().map(|n| n["failureReason"].as_str().unwrap_or("OK")).collect();
    assert_eq!(reasons, ["OK", "OK", "OK", "WRONG_SECOND_FACTOR", "WRONG_PASSWORD"], "{nodes:#?}");
    assert_eq!(nodes[0]["claims"]["immutable_id"], f.immutable_id);
    assert_eq!(nodes[0]["claims"]["mfa_claim"], true);
    assert_eq!(nodes[0]["userAgent"], "signin-test");
    assert_eq!(nodes[1]["claims"]["from_session"], true);

    // A TOTP code is accepted once: replaying the enrollment code fails.
    let mut replay = Browser::new();
    let page = replay.get(&sign_in_url(&f, "")).await;
    let page = replay.submit(&f.app.address, &page, &[("upn", "adele@contoso.com")]).await;
    let page = replay.submit(&f.app.address, &page, &[("password", "correct horse battery")]).await;
    let page = replay.submit(&f.app.address, &page, &[("code", &enrollment_code)]).await;
    assert!(page.body.contains("That code is not valid"), "{}", page.body);
}

async fn refusals_and_throttling(backend: Backend) {
    let f = fixture(backend).await;
    let mut browser = Browser::new();
    // Unknown realm and unlisted wreply: clear 400 pages.
    let page = browser.get(&format!("{}/wsfed/{}?wa=wsignin1.0&wtrealm=urn:other", f.app.address, f.tenant)).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("wtrealm"));
    let page = browser
        .get(&format!(
            "{}/wsfed/{}?wa=wsignin1.0&wtrealm=urn:federation:MicrosoftOnline&wreply=https://evil.example/",
            f.app.address, f.tenant
        ))
        .await;
    assert_eq!(page.status, 400);

    // Unknown users get the same answer as a wrong password.
    let start = browser.get(&sign_in_url(&f, "")).await;
    let page = browser.submit(&f.app.address, &start, &[("upn", "nobody@contoso.com")]).await;
    let unknown = browser.submit(&f.app.address, &page, &[("password", "whatever pass")]).await;
    let page = browser.submit(&f.app.address, &start, &[("upn", "adele@contoso.com")]).await;
    let wrong = browser.submit(&f.app.address, &page, &[("password", "whatever pass")]).await;
    assert!(unknown.body.contains("The user name or password is incorrect."));
    assert_eq!(unknown.body.replace("nobody", "adele"), wrong.body);

    // A form without the session's CSRF token starts over.
    let mut stranger = Browser::new();
    let page = stranger.submit(&f.app.address, &wrong, &[("password", "correct horse battery")]).await;
    assert!(page.body.contains("expired"));

    // An unassigned user gets a clear page and no token.
    f.app.ok(&f.admin, "mutation($u: ID!) { unassignUser(id: $u) { assigned } }", json!({ "u": f.user_id })).await;
    let page = browser.submit(&f.app.address, &wrong, &[("password", "correct horse battery")]).await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("not enabled for Microsoft 365") && !page.body.contains("wresult"));
    f.app.ok(&f.admin, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({ "u": f.user_id })).await;

    // A suspended tenant gets no token from the next request on: the sign-in endpoints' cached
    // tenant state (warm from the requests above) goes with the projected event.
    let suspend = "mutation($t: ID!) { suspendTenant(tenantId: $t) { status } }";
    f.app.ok(&f.app.operator_key, suspend, json!({ "t": f.tenant })).await;
    let page = browser.submit(&f.app.address, &wrong, &[("password", "correct horse battery")]).await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("suspended") && !page.body.contains("wresult"), "{}", page.body);
    let reactivate = "mutation($t: ID!) { reactivateTenant(tenantId: $t) { status } }";
    f.app.ok(&f.app.operator_key, reactivate, json!({ "t": f.tenant })).await;

    // A success clears the account's failures: four, a success, four more and a success again
    // (eight failures without the clearing would have locked the account).
    for round in 0..2 {
        let mut other = Browser::new();
        let start = other.get(&sign_in_url(&f, "")).await;
        let page = other.submit(&f.app.address, &start, &[("upn", "adele@contoso.com")]).await;
        for _ in 0..4 {
            let failed = other.submit(&f.app.address, &page, &[("password", "not the password")]).await;
            assert!(failed.body.contains("The user name or password is incorrect."), "{}", failed.body);
        }
        let signed_in = other.submit(&f.app.address, &page, &[("password", "correct horse battery")]).await;
        assert!(signed_in.body.contains("wresult"), "round {round}: {}", signed_in.body);
    }

    // After five failures in a row the account is locked, even for the right password.
    for _ in 0..5 {
        browser.submit(&f.app.address, &wrong, &[("password", "not the password")]).await;
    }
    let page = browser.submit(&f.app.address, &wrong, &[("password", "correct horse battery")]).await;
    assert!(page.body.contains("Too many failed attempts"), "{}", page.body);
    let nodes = sign_ins(&f, |nodes| nodes.len() == 19).await;
    assert_eq!(nodes[0]["failureReason"], "ACCOUNT_LOCKED", "{nodes:#?}");
    assert_eq!(nodes[1]["failureReason"], "WRONG_PASSWORD");
}

/// Rows of the tenant in `wsfed_sessions`.
async fn session_rows(f: &Fixture) -> i64 {
    #[derive(sqlx::FromRow)]
    struct Count {
        n: i64,
    }
    let db = tessera::db::Db::connect(&f.app.database_url, 1).await.unwrap();
    let mut tx = db.begin_system().await.unwrap();
    let rows: Vec<Count> =
        tx.fetch_all("SELECT count(*) AS n FROM wsfed_sessions WHERE tenant_id = $1", &[f.tenant.clone().into()]).await.unwrap();
    tx.commit().await.unwrap();
    rows[0].n
}

/// Until a password is right the session lives only in its cookie: the pages and a refused
/// password store nothing, a cookie with a moved issue time no longer matches its form, and the
/// signed-in session is stored under a new id and serves single sign-on.
async fn anonymous_sessions_store_nothing_until_signed_in(backend: Backend) {
    let f = fixture(backend).await;
    let mut browser = Browser::new();
    let start = browser.get(&sign_in_url(&f, "")).await;
    let anonymous = browser.cookie.clone().unwrap();
    assert!(anonymous.starts_with("a."), "{anonymous}");
    let page = browser.submit(&f.app.address, &start, &[("upn", "adele@contoso.com")]).await;
    let wrong = browser.submit(&f.app.address, &page, &[("password", "not the password")]).await;
    assert!(wrong.body.contains("The user name or password is incorrect."), "{}", wrong.body);
    assert_eq!(browser.cookie.as_deref(), Some(anonymous.as_str()));
    assert_eq!(session_rows(&f).await, 0, "pages and a refused password store no session");

    let (issued, rest) = anonymous["a.".len()..].split_once('.').unwrap();
    let mut forged = Browser::new();
    forged.cookie = Some(format!("a.{}.{rest}", issued.parse::<i64>().unwrap() + 600));
    let page = forged.submit(&f.app.address, &wrong, &[("password", "correct horse battery")]).await;
    assert!(page.body.contains("expired") && !page.body.contains("wresult"), "{}", page.body);

    let page = browser.submit(&f.app.address, &wrong, &[("password", "correct horse battery")]).await;
    assert!(page.body.contains("wresult"), "{}", page.body);
    let signed_in = browser.cookie.clone().unwrap();
    assert!(!signed_in.starts_with("a.") && signed_in != anonymous);
    assert_eq!(session_rows(&f).await, 1);
    let page = browser.get(&sign_in_url(&f, "")).await;
    assert!(page.body.contains("wresult"), "single sign-on from the stored session: {}", page.body);
}

/// The background check: nothing to do far from expiry; a next key published within twice the
/// rollover window (30 days by default) and activated within it.
async fn background_rollover_before_expiry(backend: Backend) {
    let f = fixture(backend).await;
    let keys = "{ tenant { signingKeys { id status } } }";
    let before = f.app.ok(&f.admin, keys, json!({})).await["tenant"]["signingKeys"].clone();
    let now = chrono::Utc::now();
    assert_eq!(f.app.app.roll_signing_keys(now).await.unwrap(), 0);
    assert_eq!(f.app.app.roll_signing_keys(now + chrono::TimeDelta::days(310)).await.unwrap(), 1);
    let during = f.app.ok(&f.admin, keys, json!({})).await["tenant"]["signingKeys"].clone();
    assert_eq!(during[0], before[0]);
    assert_eq!(during[1]["status"], "NEXT");
    assert_eq!(f.app.app.roll_signing_keys(now + chrono::TimeDelta::days(310)).await.unwrap(), 0, "not yet within 30 days");
    assert_eq!(f.app.app.roll_signing_keys(now + chrono::TimeDelta::days(340)).await.unwrap(), 1);
    let after = f.app.ok(&f.admin, keys, json!({})).await["tenant"]["signingKeys"].clone();
    assert_eq!(after, json!([{ "id": during[1]["id"], "status": "ACTIVE" }]));
}

both_backends!(
    keys_roll_over_through_metadata,
    totp_enrollment_sso_and_sign_in_log,
    refusals_and_throttling,
    anonymous_sessions_store_nothing_until_signed_in,
    background_rollover_before_expiry
);
