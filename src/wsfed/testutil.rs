//! Shared fixtures for the module's unit tests: the stored test-only key, fixed token inputs, and
//! golden-file comparison.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::keys::SigningCredential;
use super::saml::AuthMethod;
use super::token::{AssertionId, MICROSOFT_ONLINE_REALM, TokenInput};

pub(crate) const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/wsfed/testdata");

/// A key made for these tests only and published in the repository: never trust it.
pub(crate) fn test_credential() -> SigningCredential {
    SigningCredential::from_pem(include_bytes!("testdata/test-only-signing-key.pem"), include_bytes!("testdata/test-only-signing-cert.pem"))
        .unwrap()
}

/// The second (next) test-only certificate, for rollover metadata.
pub(crate) fn test_next_credential() -> SigningCredential {
    SigningCredential::from_pem(
        include_bytes!("testdata/test-only-next-signing-key.pem"),
        include_bytes!("testdata/test-only-next-signing-cert.pem"),
    )
    .unwrap()
}

pub(crate) fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

/// Fixed inputs: the golden files are produced from exactly these.
pub(crate) fn fixed_input(mfa_done: bool) -> TokenInput {
    TokenInput {
        issuer: "https://sts.tessera.example/contoso.com/".to_owned(),
        audience: MICROSOFT_ONLINE_REALM.to_owned(),
        immutable_id: "Zm9vYmFyLWltbXV0YWJsZQ==".to_owned(),
        upn: "alice@contoso.com".to_owned(),
        auth_method: AuthMethod::Password,
        mfa_done,
        auth_instant: at("2026-03-01T09:59:30Z"),
        now: at("2026-03-01T10:00:00.250Z"),
        lifetime: TimeDelta::hours(1),
        assertion_id: AssertionId::from_uuid(Uuid::parse_str("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap()),
    }
}

/// Compares `actual` with the golden file `name`; with `TESSERA_UPDATE_GOLDEN=1` rewrites it.
pub(crate) fn assert_golden(name: &str, actual: &str) {
    let path = format!("{TESTDATA}/{name}");
    if std::env::var_os("TESSERA_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}; run with TESSERA_UPDATE_GOLDEN=1 to create it"));
    assert!(
        expected == actual,
        "{name} differs from its golden file; if the change is intended, rerun with \
         TESSERA_UPDATE_GOLDEN=1 and review the diff\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}
