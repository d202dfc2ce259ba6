//! GraphQL types of the token issuer: signing keys and the sign-in log.

use async_graphql::{Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::read::sign_ins::SignInRow;
use crate::read::signing_keys::SigningKeyRow;
use crate::wsfed::KeySize;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum SigningKeySize {
    #[default]
    #[graphql(name = "RSA2048")]
    Rsa2048,
    #[graphql(name = "RSA3072")]
    Rsa3072,
}

impl From<SigningKeySize> for KeySize {
    fn from(size: SigningKeySize) -> Self {
        match size {
            SigningKeySize::Rsa2048 => KeySize::Rsa2048,
            SigningKeySize::Rsa3072 => KeySize::Rsa3072,
        }
    }
}

/// A token-signing key of the tenant (the private key is never shown).
pub struct SigningKey(pub SigningKeyRow);

#[Object]
impl SigningKey {
    async fn id(&self) -> ID {
        ID(self.0.key_id.clone())
    }
    /// ACTIVE (signs tokens) or NEXT (published ahead of a rollover).
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn key_bits(&self) -> i64 {
        self.0.key_bits
    }
    /// SHA-1 thumbprint of the certificate, as Entra and Windows show it.
    async fn thumbprint(&self) -> &str {
        &self.0.sha1_thumbprint
    }
    /// Base64 DER of the certificate: Graph's `signingCertificate` / `nextSigningCertificate`.
    async fn certificate(&self) -> String {
        self.0.certificate_pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>()
    }
    async fn not_before(&self) -> DateTime<Utc> {
        self.0.not_before
    }
    async fn not_after(&self) -> DateTime<Utc> {
        self.0.not_after
    }
    async fn activated_at(&self) -> Option<DateTime<Utc>> {
        self.0.activated_at
    }
}

/// One sign-in attempt at the WS-Federation endpoint.
pub struct SignInRecord(pub SignInRow);

#[Object]
impl SignInRecord {
    async fn id(&self) -> ID {
        ID(self.0.sign_in_id.clone())
    }
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.clone().map(ID)
    }
    /// The user name as typed.
    async fn user_principal_name(&self) -> &str {
        &self.0.upn
    }
    async fn succeeded(&self) -> bool {
        self.0.succeeded
    }
    /// Why it failed: UNKNOWN_USER, WRONG_PASSWORD, NO_PASSWORD_SET, USER_SUSPENDED,
    /// USER_NOT_ASSIGNED, TENANT_SUSPENDED, ACCOUNT_LOCKED, ADDRESS_LOCKED, WRONG_SECOND_FACTOR.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// The `wtrealm` of the request.
    async fn realm(&self) -> &str {
        &self.0.realm
    }
    async fn ip_address(&self) -> &str {
        &self.0.ip
    }
    async fn user_agent(&self) -> &str {
        &self.0.user_agent
    }
    async fn mfa_done(&self) -> bool {
        self.0.mfa_done
    }
    /// For a success: exactly what the token told Microsoft (issuer, audience, reply URL,
    /// assertion id, ImmutableID, UPN, MFA claim, signing key, expiry), as JSON.
    async fn claims(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.0.claims.as_deref().and_then(|c| serde_json::from_str(c).ok()).map(async_graphql::Json)
    }
    /// The person was forgotten: the UPN, IP address and user agent read `(forgotten)`.
    async fn personal_data_forgotten(&self) -> bool {
        self.0.forgotten
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
}
