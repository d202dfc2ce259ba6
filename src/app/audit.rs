//! Use cases of auditors: the tenant's audit public key and the export of its chain.

use super::{AppError, RequestContext, Tessera};
use crate::audit::{self, AuditError, Exporter, PublicKeyRow, Range};
use crate::domain::values::TenantId;

impl From<AuditError> for AppError {
    fn from(err: AuditError) -> Self {
        AppError::Internal(err.to_string())
    }
}

impl Tessera {
    /// Public audit keys of a tenant, oldest first. Public by nature: anyone may fetch them.
    pub async fn audit_public_keys(&self, tenant: TenantId) -> Result<Vec<PublicKeyRow>, AppError> {
        self.tenant_exists(tenant).await?;
        Ok(audit::public_keys(self.db(), &self.crypto, &tenant.to_string()).await?)
    }

    async fn tenant_exists(&self, tenant: TenantId) -> Result<(), AppError> {
        let found = self.load::<crate::domain::tenant::Tenant>(&tenant.to_string()).await?;
        if found.id.is_some() { Ok(()) } else { Err(AppError::NotFound("tenant".into())) }
    }

    /// An export of the tenant's chain (any key that may read the tenant). The current head is
    /// signed first, so the export is anchored up to its last event.
    pub async fn audit_export(&self, ctx: &RequestContext, tenant: Option<TenantId>, range: Range) -> Result<Exporter, AppError> {
        let scope = ctx.read_scope(tenant)?;
        let tenant = scope.tenant_id().to_string();
        audit::sign_head_now(self.db(), &self.crypto, &tenant).await?;
        Ok(Exporter::new(self.db().clone(), &tenant, range))
    }
}
