use crate::domain::api_key::Role;
use crate::domain::values::{ApiKeyId, TenantId};
use crate::eventstore::EventMetadata;

use super::AppError;

/// The authenticated caller: an API key, its role and (for admin and auditor keys) its tenant.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: ApiKeyId,
    pub name: String,
    pub role: Role,
    pub tenant_id: Option<TenantId>,
}

/// Where a request came from. Personal data: kept out of events (see `EventMetadata`).
#[derive(Debug, Clone, Default)]
pub struct ClientOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who is asking, and the ids that tie their request to logs, events and errors.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub principal: Principal,
    pub correlation_id: String,
    /// Unique per HTTP request.
    pub request_id: String,
    pub origin: ClientOrigin,
    /// Set once the origin is stored, so a request running several commands stores it once.
    pub origin_recorded: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Proof that the caller may read one tenant's data. Only `RequestContext` makes it, and
/// every read function demands one: the tenant never comes from unchecked input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantScope(TenantId);

impl TenantScope {
    /// The scope of the anonymous sign-in endpoints, whose tenant is the one named in the URL
    /// (there is no API key). Only the application's sign-in use cases use it.
    pub(crate) fn sign_in_endpoint(tenant_id: TenantId) -> Self {
        Self(tenant_id)
    }

    pub fn tenant_id(&self) -> TenantId {
        self.0
    }
}

/// Proof that the caller may change one tenant's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantAdmin(TenantId);

impl TenantAdmin {
    pub fn tenant_id(&self) -> TenantId {
        self.0
    }
}

impl RequestContext {
    /// The tenant a request acts on: an admin's or auditor's own (naming another is
    /// forbidden); for an operator, the tenant it names.
    fn resolve(&self, requested: Option<TenantId>) -> Result<TenantId, AppError> {
        match (self.principal.role, self.principal.tenant_id, requested) {
            (Role::Operator, _, Some(tenant)) => Ok(tenant),
            (Role::Operator, _, None) => Err(AppError::validation("tenantId", "operator keys must name the tenant (tenantId)")),
            (_, Some(own), None) => Ok(own),
            (_, Some(own), Some(tenant)) if own == tenant => Ok(own),
            (_, Some(_), Some(_)) => Err(AppError::Forbidden("this API key belongs to another tenant".into())),
            (_, None, _) => Err(AppError::Forbidden("this API key has no tenant".into())),
        }
    }

    pub fn read_scope(&self, requested: Option<TenantId>) -> Result<TenantScope, AppError> {
        self.resolve(requested).map(TenantScope)
    }

    pub fn admin_scope(&self, requested: Option<TenantId>) -> Result<TenantAdmin, AppError> {
        if self.principal.role == Role::Auditor {
            return Err(AppError::Forbidden("auditor keys are read-only".into()));
        }
        self.resolve(requested).map(TenantAdmin)
    }

    pub fn require_operator(&self) -> Result<(), AppError> {
        if self.principal.role == Role::Operator { Ok(()) } else { Err(AppError::Forbidden("only operator keys may do this".into())) }
    }

    pub fn is_operator(&self) -> bool {
        self.principal.role == Role::Operator
    }

    pub fn metadata(&self, tenant: Option<TenantId>) -> EventMetadata {
        EventMetadata {
            tenant_id: tenant,
            actor: format!("api-key:{}", self.principal.key_id),
            actor_role: Some(self.principal.role.as_str().to_owned()),
            correlation_id: self.correlation_id.clone(),
            causation_id: Some(format!("request:{}", self.request_id)),
            request_id: Some(self.request_id.clone()),
            occurred_at: chrono::Utc::now(),
        }
    }
}
