use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{AppError, Principal, RequestContext, Tessera};
use crate::domain::api_key::{ApiKey, ApiKeyCommand, Role};
use crate::domain::claim::{ClaimCommand, OPERATOR_BOOTSTRAP_KEY, UniqueClaim};
use crate::domain::values::{ApiKeyId, DisplayName, TenantId};

/// Every key starts with this, so a leaked one is easy to recognise (and to grep for).
const PREFIX: &str = "tsk_";

/// A freshly made key; `secret` is shown to its creator once and never stored.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub key_id: ApiKeyId,
    pub secret: String,
}

/// Keys are 256 random bits, so one SHA-256 is a sufficient (and fast) stored verifier.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn derived_key_id(secret: &str) -> ApiKeyId {
    let digest = Sha256::digest(format!("tessera-operator-key-id:{secret}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    ApiKeyId::from_uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl Tessera {
    /// Operators create keys of any role for any tenant; admins create admin and auditor keys
    /// for their own tenant.
    pub async fn create_api_key(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        name: &str,
        role: Role,
    ) -> Result<NewApiKey, AppError> {
        let name = DisplayName::parse("name", name)?;
        let tenant_id = match role {
            Role::Operator => {
                ctx.require_operator()?;
                None
            }
            Role::Admin | Role::Auditor => {
                let scope = ctx.admin_scope(tenant)?;
                self.active_tenant(scope.tenant_id()).await?;
                Some(scope.tenant_id())
            }
        };
        let key_id = ApiKeyId::new();
        let secret = new_secret();
        let command = ApiKeyCommand::CreateApiKey { key_id, tenant_id, name, role, secret_hash: hash_secret(&secret) };
        self.run::<ApiKey>(ctx, tenant_id, &key_id.to_string(), command).await?;
        Ok(NewApiKey { key_id, secret })
    }

    pub async fn revoke_api_key(&self, ctx: &RequestContext, key_id: ApiKeyId) -> Result<ApiKeyId, AppError> {
        let key = self.load::<ApiKey>(&key_id.to_string()).await?;
        let allowed = key.key_id.is_some()
            && (ctx.is_operator()
                || (ctx.principal.role == Role::Admin && key.tenant_id.is_some() && key.tenant_id == ctx.principal.tenant_id));
        if !allowed {
            // Keys of other tenants are indistinguishable from missing ones.
            return Err(AppError::NotFound("API key".into()));
        }
        self.run::<ApiKey>(ctx, key.tenant_id, &key_id.to_string(), ApiKeyCommand::RevokeApiKey).await?;
        self.principals.evict(key_id);
        Ok(key_id)
    }

    /// Turns a presented secret into a principal, or refuses it.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal, AppError> {
        let refused = || AppError::Unauthenticated("the API key is invalid or revoked".into());
        if !secret.starts_with(PREFIX) || secret.len() > 128 {
            return Err(refused());
        }
        let secret_hash = hash_secret(secret);
        if let Some(principal) = self.principals.get(&secret_hash) {
            return Ok(principal);
        }
        let row = crate::read::api_keys::by_secret_hash(self.db(), &secret_hash).await?.ok_or_else(refused)?;
        if row.revoked {
            return Err(refused());
        }
        let role = Role::parse(&row.role).ok_or_else(refused)?;
        let tenant_id = if row.tenant_id.is_empty() { None } else { Some(TenantId::parse(&row.tenant_id).map_err(|_| refused())?) };
        let principal = Principal { key_id: ApiKeyId::parse(&row.key_id).map_err(|_| refused())?, name: row.name, role, tenant_id };
        self.principals.put(secret_hash, principal.clone());
        Ok(principal)
    }

    /// On an empty store, makes the first operator key and returns its secret to print once.
    /// With `from_env`, makes sure that key exists instead (and prints nothing).
    pub async fn bootstrap_operator(&self, from_env: Option<&str>) -> Result<Option<String>, AppError> {
        let (secret, print) = match from_env {
            Some(secret) => {
                if !secret.starts_with(PREFIX) || secret.len() < PREFIX.len() + 43 {
                    return Err(AppError::validation(
                        "TESSERA_OPERATOR_KEY",
                        "must be tsk_ followed by at least 43 base64url characters (256 bits)",
                    ));
                }
                if crate::read::api_keys::by_secret_hash(self.db(), &hash_secret(secret)).await?.is_some() {
                    return Ok(None);
                }
                (secret.to_owned(), false)
            }
            None => (new_secret(), true),
        };
        // A configured key gets an id derived from its hash, so however many instances start
        // at once (or however far behind the read model is), it is created exactly once.
        let key_id = if print { ApiKeyId::new() } else { derived_key_id(&secret) };
        let metadata = Self::system_metadata("bootstrap", None);
        let claim = ClaimCommand::Claim { owner: key_id.to_string() };
        let claimed = self.store.execute::<UniqueClaim>(OPERATOR_BOOTSTRAP_KEY, claim, &metadata).await;
        match claimed {
            Ok(c) if c.events > 0 => {}
            // Already bootstrapped: only an explicitly configured key is added.
            Ok(_) | Err(crate::eventstore::StoreError::Domain(_)) if print => return Ok(None),
            Ok(_) | Err(crate::eventstore::StoreError::Domain(_)) => {}
            Err(other) => return Err(other.into()),
        }
        let name = DisplayName::parse("name", if print { "bootstrap operator" } else { "operator (TESSERA_OPERATOR_KEY)" })?;
        let command =
            ApiKeyCommand::CreateApiKey { key_id, tenant_id: None, name, role: Role::Operator, secret_hash: hash_secret(&secret) };
        match self.store.execute::<ApiKey>(&key_id.to_string(), command, &metadata).await {
            Ok(committed) => self.settle(<ApiKey as cqrs_es::Aggregate>::TYPE, committed).await,
            // Another instance created the configured key first.
            Err(crate::eventstore::StoreError::Domain(crate::domain::DomainError::Conflict(_))) if !print => {}
            Err(other) => return Err(other.into()),
        }
        Ok(print.then_some(secret))
    }
}
