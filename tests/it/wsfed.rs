//! WS-Federation issuer checked by independent tools: `xmlsec1` verifies our XML signatures and
//! `xmllint` validates against the XSDs in `shared/reference/wsfed/schemas`.
//!
//! These tests need both tools (`apt-get install xmlsec1 libxml2-utils`; the CI script installs
//! them). A missing tool fails the test with that advice, never skips it, so a green run always
//! means the signatures were really checked.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};
use tessera::wsfed::{
    AssertionId, AuthMethod, CertificateParams, KeySize, MICROSOFT_ONLINE_REALM, MicrosoftCloud, SigningCredential, TokenInput, issue_rstr,
    sign_in_response_page,
};

const SAML_ASSERTION_NODE: &str = "urn:oasis:names:tc:SAML:1.0:assertion:Assertion";
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/wsfed/schemas");
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/wsfed/testdata");

fn testdata(name: &str) -> String {
    let path = format!("{TESTDATA}/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn require_tool(tool: &str, package: &str) {
    let found = Command::new(tool).arg("--version").output().is_ok();
    assert!(
        found,
        "`{tool}` is not installed; these tests need it to check the issuer's XML independently. \
         Install it with `apt-get install -y {package}` (the CI script does)."
    );
}

fn schema(name: &str) -> PathBuf {
    let path = Path::new(SCHEMAS).join(name);
    assert!(path.exists(), "schema {} not found: the repository must be cloned beside `shared/`", path.display());
    path
}

struct Outcome {
    ok: bool,
    stdout: String,
    /// stdout and stderr, for failure messages.
    output: String,
}

fn run(cmd: &mut Command) -> Outcome {
    let out = cmd.output().expect("tool ran");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Outcome { ok: out.status.success(), output: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)), stdout }
}

fn write_temp(dir: &tempfile::TempDir, name: &str, content: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Runs `xmlsec1 --verify` on `xml` with the certificate's public key.
fn xmlsec_verify(xml: &str, cert_pem: &str) -> Outcome {
    require_tool("xmlsec1", "xmlsec1");
    let dir = tempfile::tempdir().unwrap();
    let cert = write_temp(&dir, "cert.pem", cert_pem);
    let file = write_temp(&dir, "token.xml", xml);
    run(Command::new("xmlsec1")
        .arg("--verify")
        .arg("--pubkey-cert-pem")
        .arg(&cert)
        .arg("--id-attr:AssertionID")
        .arg(SAML_ASSERTION_NODE)
        .arg(&file))
}

fn assert_verifies(xml: &str, cert_pem: &str) {
    let outcome = xmlsec_verify(xml, cert_pem);
    assert!(outcome.ok, "xmlsec1 refused a token we signed:\n{}\n{xml}", outcome.output);
}

/// xmlsec1 must process the signature and find it wrong: its verdict line is `FAIL`, whereas
/// `ERROR` means it could not even check (a broken test, not a detected forgery).
fn assert_rejected(xml: &str, cert_pem: &str, what: &str) {
    let outcome = xmlsec_verify(xml, cert_pem);
    assert!(!outcome.ok, "xmlsec1 accepted a token with {what}:\n{}", outcome.output);
    assert!(
        outcome.output.lines().any(|line| line == "FAIL"),
        "xmlsec1 did not reach a verdict on a token with {what}:\n{}",
        outcome.output
    );
}

fn xmllint(args: &[&std::ffi::OsStr]) -> Outcome {
    require_tool("xmllint", "libxml2-utils");
    run(Command::new("xmllint").args(args))
}

fn assert_schema_valid(xml: &str, schema_name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(&dir, "doc.xml", xml);
    let xsd = schema(schema_name);
    let outcome = xmllint(&["--noout".as_ref(), "--nonet".as_ref(), "--schema".as_ref(), xsd.as_os_str(), file.as_os_str()]);
    assert!(outcome.ok, "{schema_name} validation failed:\n{}\n{xml}", outcome.output);
}

fn xpath_string(xml: &str, expr: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(&dir, "doc.xml", xml);
    let outcome = xmllint(&["--xpath".as_ref(), expr.as_ref(), file.as_os_str()]);
    assert!(outcome.ok, "xpath {expr} failed: {}", outcome.output);
    // xmllint ends its answer with a newline of its own.
    outcome.stdout.strip_suffix('\n').unwrap_or(&outcome.stdout).to_owned()
}

fn extract_assertion(rstr: &str) -> &str {
    let start = rstr.find("<saml:Assertion ").expect("assertion start");
    let end = rstr.find("</saml:Assertion>").expect("assertion end") + "</saml:Assertion>".len();
    &rstr[start..end]
}

/// Replaces the first occurrence of `from`, checking the text really changed.
fn tamper(xml: &str, from: &str, to: &str) -> String {
    assert!(xml.contains(from), "nothing to tamper: {from}");
    let changed = xml.replacen(from, to, 1);
    assert_ne!(changed, xml);
    changed
}

/// Changes the first letter or digit at least `offset` characters after `marker`, keeping the
/// text valid base64 so the verifier gets as far as comparing values.
fn flip_char_after(xml: &str, marker: &str, offset: usize) -> String {
    let from = xml.find(marker).expect("marker present") + marker.len() + offset;
    let at = from + xml.as_bytes()[from..].iter().position(u8::is_ascii_alphanumeric).expect("a base64 letter");
    let new = if xml.as_bytes()[at] == b'A' { 'B' } else { 'A' };
    format!("{}{new}{}", &xml[..at], &xml[at + 1..])
}

fn html_unescape(value: &str) -> String {
    value.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

fn form_field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect("field present") + marker.len();
    let len = page[start..].find('"').expect("field end");
    html_unescape(&page[start..start + len])
}

fn test_cert() -> String {
    testdata("test-only-signing-cert.pem")
}

fn input(mfa_done: bool, upn: &str) -> TokenInput {
    let now: DateTime<Utc> = "2026-03-01T10:00:00Z".parse().unwrap();
    TokenInput {
        issuer: "https://sts.tessera.example/contoso.com/".to_owned(),
        audience: MICROSOFT_ONLINE_REALM.to_owned(),
        immutable_id: "Zm9vYmFyLWltbXV0YWJsZQ==".to_owned(),
        upn: upn.to_owned(),
        auth_method: AuthMethod::Password,
        mfa_done,
        auth_instant: now - TimeDelta::seconds(20),
        now,
        lifetime: TimeDelta::hours(1),
        assertion_id: AssertionId::random(),
    }
}

fn fresh_credential(key_size: KeySize) -> SigningCredential {
    SigningCredential::generate(&CertificateParams {
        common_name: "Tessera test token signing".to_owned(),
        not_before: "2026-01-01T00:00:00Z".parse().unwrap(),
        validity: TimeDelta::days(365),
        key_size,
    })
    .unwrap()
}

#[test]
fn golden_rstr_signatures_verify_whole_and_extracted() {
    for name in ["rstr.xml", "rstr-mfa.xml"] {
        let rstr = testdata(name);
        assert_verifies(&rstr, &test_cert());
        assert_verifies(extract_assertion(&rstr), &test_cert());
    }
}

#[test]
fn golden_assertions_are_valid_saml_1_1() {
    for name in ["rstr.xml", "rstr-mfa.xml"] {
        let rstr = testdata(name);
        assert_schema_valid(extract_assertion(&rstr), "oasis-sstc-saml-schema-assertion-1.1.xsd");
    }
}

/// The signer digests our own bytes on the claim that they are already in exclusive canonical
/// form; check that claim directly with libxml2's canonicalizer.
#[test]
fn what_we_digest_is_what_exclusive_c14n_produces() {
    for name in ["rstr.xml", "rstr-mfa.xml"] {
        let rstr = testdata(name);
        let assertion = extract_assertion(&rstr);
        let sig_start = assertion.find("<ds:Signature ").expect("signature");
        let sig_end = assertion.find("</ds:Signature>").expect("signature end") + "</ds:Signature>".len();
        let unsigned = format!("{}{}", &assertion[..sig_start], &assertion[sig_end..]);
        assert_eq!(exc_c14n(&unsigned), unsigned, "{name}: assertion");

        let si_start = rstr.find("<ds:SignedInfo ").expect("signed info");
        let si_end = rstr.find("</ds:SignedInfo>").expect("signed info end") + "</ds:SignedInfo>".len();
        let signed_info = &rstr[si_start..si_end];
        assert_eq!(exc_c14n(signed_info), signed_info, "{name}: SignedInfo");
    }
}

fn exc_c14n(xml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(&dir, "doc.xml", xml);
    let outcome = xmllint(&["--exc-c14n".as_ref(), file.as_os_str()]);
    assert!(outcome.ok, "xmllint --exc-c14n failed: {}", outcome.output);
    outcome.stdout
}

#[test]
fn a_one_character_change_breaks_the_signature() {
    let rstr = testdata("rstr-mfa.xml");
    let cert = test_cert();
    let cases = [
        (
            tamper(
                &rstr,
                "Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">Zm9vYmFyLWltbXV0YWJsZQ==<",
                "Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">Zm9vYmFyLWltbXV0YWJsZR==<",
            ),
            "a changed NameIdentifier",
        ),
        (tamper(&rstr, ">alice@contoso.com<", ">alicf@contoso.com<"), "a changed UPN attribute value"),
        (tamper(&rstr, "NotOnOrAfter=\"2026-03-01T11:", "NotOnOrAfter=\"2026-03-01T12:"), "a changed validity"),
        (flip_char_after(&rstr, "<ds:SignatureValue>", 5), "a changed signature value"),
        (flip_char_after(&rstr, "<ds:DigestValue>", 5), "a changed digest value"),
    ];
    // Not in the list: `ds:KeyInfo`. It is outside `ds:SignedInfo` by design, so changing it does
    // not break the signature; verifiers (Entra included) must use the registered certificate,
    // never the one a token carries.
    for (tampered, what) in &cases {
        assert_rejected(tampered, &cert, what);
        assert_rejected(extract_assertion(tampered), &cert, what);
    }
}

#[test]
fn another_key_does_not_verify() {
    let other = testdata("test-only-next-signing-cert.pem");
    assert_rejected(&testdata("rstr.xml"), &other, "the wrong certificate");
}

#[test]
fn freshly_generated_keys_sign_verifiable_tokens() {
    for key_size in [KeySize::Rsa2048, KeySize::Rsa3072] {
        let credential = fresh_credential(key_size);
        let cert = credential.certificate().to_pem().unwrap();
        let rstr = issue_rstr(&input(true, "bob@contoso.com"), &credential).unwrap();
        assert_verifies(&rstr, &cert);
        assert_schema_valid(extract_assertion(&rstr), "oasis-sstc-saml-schema-assertion-1.1.xsd");
    }
}

#[test]
fn special_characters_survive_escaping_and_signing() {
    let upn = "j\u{f8}rn.o'<b>&\"x\"\u{1F600}@contoso.com";
    let credential = fresh_credential(KeySize::Rsa2048);
    let cert = credential.certificate().to_pem().unwrap();
    let rstr = issue_rstr(&input(false, upn), &credential).unwrap();
    assert_verifies(&rstr, &cert);
    let read_back = xpath_string(&rstr, "string(//*[local-name()='Attribute'][@AttributeName='UPN']/*[local-name()='AttributeValue'])");
    assert_eq!(read_back, upn);
}

#[test]
fn the_form_carries_a_verifiable_token_and_the_context() {
    let credential = fresh_credential(KeySize::Rsa2048);
    let cert = credential.certificate().to_pem().unwrap();
    let rstr = issue_rstr(&input(true, "carol@contoso.com"), &credential).unwrap();
    let wctx = "LoginOptions=3&estsredirect=2&estsrequest=<x y=\"'\">";
    let page = sign_in_response_page(&MicrosoftCloud::Global.reply_url(), &rstr, Some(wctx), None).unwrap();
    assert_eq!(form_field(&page, "wa"), "wsignin1.0");
    assert_eq!(form_field(&page, "wctx"), wctx);
    let wresult = form_field(&page, "wresult");
    assert_eq!(wresult, rstr);
    assert_verifies(&wresult, &cert);
}

#[test]
fn golden_form_holds_the_golden_token() {
    let page = testdata("form.html");
    let wresult = form_field(&page, "wresult");
    assert_eq!(wresult, testdata("rstr-mfa.xml"));
    assert_verifies(&wresult, &test_cert());
}

#[test]
fn metadata_is_valid_ws_federation_and_lists_both_certificates() {
    let xml = testdata("metadata.xml");
    assert_schema_valid(&xml, "ws-federation.xsd");
    let certs = xpath_string(&xml, "count(//*[local-name()='KeyDescriptor'][@use='signing']//*[local-name()='X509Certificate'])");
    assert_eq!(certs, "2");
    for pem in ["test-only-signing-cert.pem", "test-only-next-signing-cert.pem"] {
        let base64: String = testdata(pem).lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(xml.contains(&base64), "{pem} missing from metadata");
    }
}
