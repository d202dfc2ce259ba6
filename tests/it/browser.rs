//! End to end in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
//! driven over WebDriver. It starts at a `wsignin1.0` URL whose `wreply` is a small relying party
//! in this test; the user types UPN, password and a TOTP code computed here; the relying party
//! verifies the posted token with xmlsec1 against the certificate from the metadata and records
//! the UPN, ImmutableID and MFA claim it saw.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

/// What the relying party accepted.
#[derive(Debug, Default, Clone)]
struct Seen {
    upn: String,
    immutable_id: String,
    name_identifier: String,
    mfa: bool,
    wctx: String,
}

fn value_after(xml: &str, marker: &str) -> String {
    let start = xml.find(marker).map(|i| i + marker.len()).unwrap_or(xml.len());
    let rest = &xml[start..];
    let open = rest.find('>').map_or(rest.len(), |i| i + 1);
    let body = &rest[open..];
    let value_start = body.find("<saml:AttributeValue>").map_or(0, |i| i + "<saml:AttributeValue>".len());
    let value = if marker.starts_with("<saml:NameIdentifier") { body } else { &body[value_start..] };
    value[..value.find('<').unwrap_or(value.len())].to_owned()
}

fn verify(xml: &str, cert_pem: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert_pem).unwrap();
    std::fs::write(dir.path().join("token.xml"), xml).unwrap();
    Command::new("xmlsec1")
        .args(["--verify", "--pubkey-cert-pem"])
        .arg(dir.path().join("cert.pem"))
        .args(["--id-attr:AssertionID", "urn:oasis:names:tc:SAML:1.0:assertion:Assertion"])
        .arg(dir.path().join("token.xml"))
        .output()
        .is_ok_and(|o| o.status.success())
}

#[derive(serde::Deserialize)]
struct Posted {
    wa: String,
    wresult: String,
    wctx: Option<String>,
}

/// The relying party: accepts a token only if xmlsec1 verifies it with `cert`.
async fn relying_party(cert: String) -> (String, Arc<Mutex<Option<Seen>>>) {
    let seen = Arc::new(Mutex::new(None));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/rp", listener.local_addr().unwrap().port());
    let state = (cert, seen.clone());
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().route(
            "/rp",
            web::post().to(move |form: web::Form<Posted>| {
                let (cert, seen) = state.clone();
                async move {
                    if form.wa != "wsignin1.0" || !verify(&form.wresult, &cert) {
                        return HttpResponse::Forbidden().body("<p id=\"result\">rejected</p>");
                    }
                    let token = &form.wresult;
                    *seen.lock().unwrap() = Some(Seen {
                        upn: value_after(token, "AttributeName=\"UPN\""),
                        immutable_id: value_after(token, "AttributeName=\"ImmutableID\""),
                        name_identifier: value_after(token, "<saml:NameIdentifier"),
                        mfa: token.contains(">http://schemas.microsoft.com/claims/multipleauthn<"),
                        wctx: form.wctx.clone().unwrap_or_default(),
                    });
                    HttpResponse::Ok().content_type("text/html").body("<p id=\"result\">accepted</p>")
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (url, seen)
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_chromedriver() -> (Driver, u16) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (apt-get install chromium chromium-driver; scripts/test.sh does)");
    (Driver(child), port)
}

fn pem_from_metadata(metadata: &str) -> String {
    let start = metadata.find("<ds:X509Certificate>").unwrap() + "<ds:X509Certificate>".len();
    let b64 = &metadata[start..start + metadata[start..].find('<').unwrap()];
    let lines: Vec<String> = b64.as_bytes().chunks(64).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

async fn browser_signs_in_with_totp(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let (_, immutable_id) = app.sign_in_ready_user(&admin, "megan@contoso.com").await;
    app.ok(&admin, "mutation { setMfaPolicy(policy: REQUIRED) { mfaPolicy } }", json!({})).await;
    let metadata_url = format!("{}/wsfed/{tenant}/contoso.com/FederationMetadata/2007-06/FederationMetadata.xml", app.address);
    let metadata = app.client.get(metadata_url).send().await.unwrap().text().await.unwrap();
    let (rp, seen) = relying_party(pem_from_metadata(&metadata)).await;
    app.ok(&admin, "mutation($r: [String!]!) { setReplyUrls(urls: $r) { replyUrls } }", json!({ "r": [rp] })).await;

    // reqwest brings ring and fantoccini aws-lc-rs into rustls; name one for the process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (_driver, port) = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.path().display())],
        }),
    );
    let mut client = None;
    for _ in 0..50 {
        match ClientBuilder::rustls().unwrap().capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let client = client.expect("chromedriver did not start a session");
    let url = format!(
        "{}/wsfed/{tenant}?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wctx=state-42&wreply={}",
        app.address,
        rp.replace(':', "%3A").replace('/', "%2F")
    );
    client.goto(&url).await.unwrap();
    let wait = |css: &'static str| {
        let client = &client;
        async move { client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await.unwrap() }
    };
    wait("#upn").await.send_keys("megan@contoso.com").await.unwrap();
    wait("#submit").await.click().await.unwrap();
    wait("#password").await.send_keys("correct horse battery").await.unwrap();
    wait("#submit").await.click().await.unwrap();
    let secret = wait("#secret").await.text().await.unwrap();
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret.trim()).unwrap())
        .with_account_name("x")
        .build()
        .unwrap();
    wait("#code").await.send_keys(&totp.generate_current().to_string()).await.unwrap();
    wait("#submit").await.click().await.unwrap();
    wait("#recovery-codes").await;
    wait("#submit").await.click().await.unwrap();
    let result = wait("#result").await.text().await.unwrap();
    client.close().await.unwrap();

    assert_eq!(result, "accepted");
    let seen = seen.lock().unwrap().clone().expect("the relying party saw a token");
    assert_eq!(seen.upn, "megan@contoso.com");
    assert_eq!(seen.immutable_id, immutable_id);
    assert_eq!(seen.name_identifier, immutable_id);
    assert!(seen.mfa, "the MFA claim is present");
    assert_eq!(seen.wctx, "state-42");
}

both_backends!(browser_signs_in_with_totp);
