use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use super::{AppError, RequestContext, Tessera};
use crate::domain::claim::{ClaimCommand, UniqueClaim, domain_key};
use crate::domain::custom_domain::{CustomDomain, DomainCommand};
use crate::domain::values::{DomainName, TenantId};

/// The aggregate id of a tenant's domain.
pub(super) fn domain_id(tenant_id: TenantId, name: &DomainName) -> String {
    format!("{tenant_id}/{name}")
}

impl Tessera {
    pub async fn add_domain(&self, ctx: &RequestContext, tenant: Option<TenantId>, name: &str) -> Result<DomainName, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let name = DomainName::parse(name)?;
        self.active_tenant(scope.tenant_id()).await?;
        let mut token = [0u8; 18];
        rand::rngs::OsRng.fill_bytes(&mut token);
        let command = DomainCommand::AddDomain {
            tenant_id: scope.tenant_id(),
            name: name.clone(),
            verification_token: URL_SAFE_NO_PAD.encode(token),
        };
        self.run::<CustomDomain>(ctx, Some(scope.tenant_id()), &domain_id(scope.tenant_id(), &name), command).await?;
        Ok(name)
    }

    /// Looks the TXT records up now and verifies; a domain verified by one tenant cannot be
    /// verified by another (a write-side claim keyed by the domain name).
    pub async fn verify_domain(&self, ctx: &RequestContext, tenant: Option<TenantId>, name: &str) -> Result<DomainName, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let name = DomainName::parse(name)?;
        self.active_tenant(scope.tenant_id()).await?;
        let id = domain_id(scope.tenant_id(), &name);
        let domain = self.load::<CustomDomain>(&id).await?;
        if !domain.exists() {
            return Err(AppError::NotFound("domain".into()));
        }
        if domain.verified {
            return Ok(name);
        }
        let txt_records =
            self.dns.txt(&name).await.map_err(|e| AppError::PreconditionFailed { reason: "DNS_LOOKUP_FAILED", message: e.to_string() })?;
        let claim = ClaimCommand::Claim { owner: scope.tenant_id().to_string() };
        // Check the record before claiming, so a failed attempt claims nothing.
        if !txt_records.iter().any(|r| r.trim() == domain.expected_record()) {
            self.run::<CustomDomain>(ctx, Some(scope.tenant_id()), &id, DomainCommand::VerifyDomain { txt_records }).await?;
            return Ok(name);
        }
        self.run::<UniqueClaim>(ctx, Some(scope.tenant_id()), &domain_key(&name), claim)
            .await
            .map_err(|_| AppError::Conflict(format!("{name} is verified by another tenant")))?;
        self.run::<CustomDomain>(ctx, Some(scope.tenant_id()), &id, DomainCommand::VerifyDomain { txt_records }).await?;
        Ok(name)
    }

    pub async fn remove_domain(&self, ctx: &RequestContext, tenant: Option<TenantId>, name: &str) -> Result<DomainName, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let name = DomainName::parse(name)?;
        self.active_tenant(scope.tenant_id()).await?;
        self.run::<CustomDomain>(ctx, Some(scope.tenant_id()), &domain_id(scope.tenant_id(), &name), DomainCommand::RemoveDomain).await?;
        let release = ClaimCommand::Release { owner: scope.tenant_id().to_string() };
        self.run::<UniqueClaim>(ctx, Some(scope.tenant_id()), &domain_key(&name), release).await?;
        Ok(name)
    }

    pub async fn federate_domain(&self, ctx: &RequestContext, tenant: Option<TenantId>, name: &str) -> Result<DomainName, AppError> {
        self.domain_command(ctx, tenant, name, DomainCommand::FederateDomain).await
    }

    pub async fn defederate_domain(&self, ctx: &RequestContext, tenant: Option<TenantId>, name: &str) -> Result<DomainName, AppError> {
        self.domain_command(ctx, tenant, name, DomainCommand::DefederateDomain).await
    }

    async fn domain_command(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        name: &str,
        command: DomainCommand,
    ) -> Result<DomainName, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let name = DomainName::parse(name)?;
        self.active_tenant(scope.tenant_id()).await?;
        self.run::<CustomDomain>(ctx, Some(scope.tenant_id()), &domain_id(scope.tenant_id(), &name), command).await?;
        Ok(name)
    }
}
