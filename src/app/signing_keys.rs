//! Token-signing keys as events: a key per tenant made at creation, rollover by publishing a
//! next key and activating it (by an admin, or by the background check before expiry).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::ExposeSecret;

use super::{AppError, RequestContext, Tessera};
use crate::domain::SealedSecret;
use crate::domain::signing_key::{NewSigningKey, SigningKeyCommand, SigningKeys};
use crate::domain::values::TenantId;
use crate::eventstore::EventMetadata;
use crate::projections::signing_keys as signing_keys_projection;
use crate::read::signing_keys::{self, SigningKeyRow};
use crate::wsfed::{Certificate, CertificateParams, KeySize, SigningCredential};

/// Opened private keys, by key id, so the SSO path does not decrypt and parse PEM per token;
/// and each tenant's active key id, so it does not read the `signing_keys` table per token
/// either.
#[derive(Default)]
pub struct KeyCache {
    opened: Mutex<HashMap<String, SigningCredential>>,
    active: Mutex<HashMap<TenantId, ActiveKey>>,
}

/// A tenant's active key id as read, with when and at which `signing_keys` generation.
struct ActiveKey {
    key_id: String,
    generation: u64,
    read_at: Instant,
}

/// How long an active key id read from `signing_keys` is trusted. Within this process every
/// change of the table invalidates it at once (`projections::signing_keys::generation`); the
/// bound covers an activation projected by another instance: for up to this long its tokens
/// still carry the old key, which Entra trusts until the outbox's `UPDATE_FEDERATION` reaches
/// it. One read per tenant per second is nothing next to one per token.
const ACTIVE_KEY_TTL: Duration = Duration::from_secs(1);

impl KeyCache {
    fn get(&self, key_id: &str) -> Option<SigningCredential> {
        self.opened.lock().ok().and_then(|m| m.get(key_id).cloned())
    }

    fn put(&self, key_id: &str, credential: SigningCredential) {
        if let Ok(mut map) = self.opened.lock() {
            map.insert(key_id.to_owned(), credential);
        }
    }

    fn active_key_id(&self, tenant_id: TenantId) -> Option<String> {
        let map = self.active.lock().ok()?;
        let found = map.get(&tenant_id)?;
        let fresh = found.generation == signing_keys_projection::generation() && found.read_at.elapsed() < ACTIVE_KEY_TTL;
        fresh.then(|| found.key_id.clone())
    }

    fn remember_active(&self, tenant_id: TenantId, key_id: &str, generation: u64) {
        if let Ok(mut map) = self.active.lock() {
            map.insert(tenant_id, ActiveKey { key_id: key_id.to_owned(), generation, read_at: Instant::now() });
        }
    }
}

/// The sealing context of a private key: a ciphertext moved to another key or tenant won't open.
fn key_context(tenant_id: &str, key_id: &str) -> String {
    format!("signing-key:{tenant_id}:{key_id}")
}

/// The tenant's keys as the issuer and metadata need them.
pub struct TenantKeys {
    pub active_key_id: String,
    pub active: Certificate,
    pub next: Option<Certificate>,
}

impl Tessera {
    /// Generates a key (on a blocking thread: RSA generation takes a while) and records it: the
    /// first key of a tenant becomes active, later ones the next key.
    pub(super) async fn generate_signing_key(&self, metadata: &EventMetadata, tenant_id: TenantId, size: KeySize) -> Result<(), AppError> {
        let params = CertificateParams {
            common_name: format!("Tessera token signing {tenant_id}"),
            not_before: Utc::now() - TimeDelta::minutes(5),
            validity: TimeDelta::days(self.sign_in.signing_key_validity_days.clamp(1, 5 * 365)),
            key_size: size,
        };
        let credential = tokio::task::spawn_blocking(move || SigningCredential::generate(&params))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let key_id = uuid::Uuid::now_v7().to_string();
        let pem = credential.private_key_pkcs8_pem().map_err(|e| AppError::Internal(e.to_string()))?;
        let certificate = credential.certificate();
        let key = NewSigningKey {
            key_id: key_id.clone(),
            key_bits: credential.key_bits(),
            certificate_pem: certificate.to_pem().map_err(|e| AppError::Internal(e.to_string()))?,
            sha1_thumbprint: certificate.sha1_thumbprint(),
            not_before: certificate.not_before(),
            not_after: certificate.not_after(),
            private_key: SealedSecret::new(self.crypto.seal(&key_context(&tenant_id.to_string(), &key_id), pem.expose_secret().as_bytes())),
        };
        let command = SigningKeyCommand::GenerateSigningKey { tenant_id, key };
        self.run_with::<SigningKeys>(metadata, Some(tenant_id), &tenant_id.to_string(), command).await?;
        self.key_cache.put(&key_id, credential);
        Ok(())
    }

    pub async fn generate_next_signing_key(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        size: KeySize,
    ) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        self.active_tenant(scope.tenant_id()).await?;
        self.generate_signing_key(&ctx.metadata(Some(scope.tenant_id())), scope.tenant_id(), size).await?;
        Ok(scope.tenant_id())
    }

    pub async fn activate_next_signing_key(&self, ctx: &RequestContext, tenant: Option<TenantId>) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let id = scope.tenant_id();
        self.run::<SigningKeys>(ctx, Some(id), &id.to_string(), SigningKeyCommand::ActivateNextSigningKey).await?;
        Ok(id)
    }

    /// The background rollover: a tenant without a key gets one; within twice the rollover
    /// window before the active key expires a next key is published; within the window it is
    /// activated. Returns how many steps were taken.
    pub async fn roll_signing_keys(&self, now: DateTime<Utc>) -> Result<usize, AppError> {
        let window = TimeDelta::days(self.sign_in.signing_key_rollover_days.max(1));
        let rows = signing_keys::all_current(self.db()).await?;
        let mut by_tenant: HashMap<String, (Option<SigningKeyRow>, Option<SigningKeyRow>)> = HashMap::new();
        for row in rows {
            let slot = by_tenant.entry(row.tenant_id.clone()).or_default();
            if row.status == "ACTIVE" { slot.0 = Some(row) } else { slot.1 = Some(row) }
        }
        let mut steps = 0;
        for tenant in crate::read::tenants::list_all(self.db()).await? {
            let Ok(tenant_id) = TenantId::parse(&tenant.tenant_id) else { continue };
            let metadata = Self::system_metadata("key-rollover", Some(tenant_id));
            let (active, next) = by_tenant.remove(&tenant.tenant_id).unwrap_or_default();
            let result = match (active, next) {
                (None, _) => self.generate_signing_key(&metadata, tenant_id, KeySize::default()).await,
                (Some(active), None) if active.not_after - now <= window * 2 => {
                    let size = if active.key_bits >= 3072 { KeySize::Rsa3072 } else { KeySize::Rsa2048 };
                    self.generate_signing_key(&metadata, tenant_id, size).await
                }
                (Some(active), Some(_)) if active.not_after - now <= window => self
                    .run_with::<SigningKeys>(&metadata, Some(tenant_id), &tenant_id.to_string(), SigningKeyCommand::ActivateNextSigningKey)
                    .await
                    .map(|_| ()),
                _ => continue,
            };
            match result {
                Ok(()) => steps += 1,
                Err(e) => tracing::error!(tenant = %tenant_id, error = %e, "signing key rollover step failed"),
            }
        }
        Ok(steps)
    }

    /// The active and next certificates of a tenant (for metadata and issuing).
    pub async fn tenant_keys(&self, tenant_id: TenantId) -> Result<TenantKeys, AppError> {
        let rows = signing_keys::current(self.db(), &super::TenantScope::sign_in_endpoint(tenant_id)).await?;
        let cert =
            |row: &SigningKeyRow| Certificate::from_pem(row.certificate_pem.as_bytes()).map_err(|e| AppError::Internal(e.to_string()));
        let active = rows.iter().find(|r| r.status == "ACTIVE").ok_or_else(|| AppError::NotFound("the tenant's signing key".into()))?;
        let next = rows.iter().find(|r| r.status == "NEXT").map(cert).transpose()?;
        Ok(TenantKeys { active_key_id: active.key_id.clone(), active: cert(active)?, next })
    }

    /// The credential tokens of the tenant are signed with now: always the active key.
    pub async fn active_credential(&self, tenant_id: TenantId) -> Result<(String, SigningCredential), AppError> {
        if let Some(key_id) = self.key_cache.active_key_id(tenant_id)
            && let Some(credential) = self.key_cache.get(&key_id)
        {
            return Ok((key_id, credential));
        }
        // Read before the rows: a change projected meanwhile leaves this entry stale-marked.
        let generation = signing_keys_projection::generation();
        let rows = signing_keys::current(self.db(), &super::TenantScope::sign_in_endpoint(tenant_id)).await?;
        let row = rows.into_iter().find(|r| r.status == "ACTIVE").ok_or_else(|| AppError::NotFound("the tenant's signing key".into()))?;
        self.key_cache.remember_active(tenant_id, &row.key_id, generation);
        if let Some(credential) = self.key_cache.get(&row.key_id) {
            return Ok((row.key_id, credential));
        }
        let pem = self
            .crypto
            .open(&key_context(&row.tenant_id, &row.key_id), &row.private_key)
            .map_err(|e| AppError::Internal(format!("signing key {}: {e}", row.key_id)))?;
        let credential =
            SigningCredential::from_pem(&pem, row.certificate_pem.as_bytes()).map_err(|e| AppError::Internal(e.to_string()))?;
        self.key_cache.put(&row.key_id, credential.clone());
        Ok((row.key_id, credential))
    }
}
