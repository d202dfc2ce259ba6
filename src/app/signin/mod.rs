//! End-user sign-in at the WS-Federation endpoint: the steps (UPN, password, second factor),
//! server-side sessions, failure throttling, the policy on who gets a token, and the record of
//! every attempt. HTTP and HTML live in `api::signin` and `wsfed::views`; this is the logic.

mod flow;
mod mfa;
mod session;
mod tenant_state;
mod throttle;

use tokio::sync::OnceCell;

pub use flow::{ClientMeta, Outcome, SignInForm, Step};

/// Settings of the sign-in endpoint and the token issuer.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    /// The externally visible base URL (`https://sts.example.com`), without a trailing slash.
    pub public_url: String,
    pub signing_key_validity_days: i64,
    /// Activate the next key this many days before the active one expires (publish it at twice).
    pub signing_key_rollover_days: i64,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub token_lifetime_minutes: i64,
    /// Whether tenants may allow `http://` reply URLs on loopback (tests, local demos).
    pub allow_loopback_reply: bool,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            signing_key_validity_days: 365,
            signing_key_rollover_days: 30,
            session_idle_minutes: 30,
            session_absolute_hours: 8,
            token_lifetime_minutes: 60,
            allow_loopback_reply: false,
        }
    }
}

impl SignInSettings {
    /// The passive requestor endpoint of a tenant.
    pub fn passive_endpoint(&self, tenant_id: &str) -> String {
        format!("{}/wsfed/{tenant_id}", self.public_url)
    }

    /// The issuer URI of a federated domain (Entra needs one per domain).
    pub fn domain_issuer(&self, tenant_id: &str, domain: &str) -> String {
        format!("{}/wsfed/{tenant_id}/{domain}", self.public_url)
    }

    /// Cookies are `Secure` whenever the public URL is HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// State shared by sign-in attempts: the dummy hash unknown users are checked against, so they
/// take as long as a wrong password, and the tenants' states.
pub struct Guard {
    dummy_hash: OnceCell<String>,
    tenants: tenant_state::TenantStates,
}

impl Guard {
    pub fn new() -> Self {
        Self { dummy_hash: OnceCell::new(), tenants: tenant_state::TenantStates::default() }
    }
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}
