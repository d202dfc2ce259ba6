use super::{AppError, RequestContext, Tessera};
use crate::domain::tenant::{DeprovisionAction, MfaPolicy, Tenant, TenantCommand};
use crate::domain::values::{DisplayName, SkuId, TenantId, UsageLocation};

/// The longest grace period the DELETE deprovision action may wait.
pub const MAX_GRACE_HOURS: u32 = 720;

impl Tessera {
    pub async fn create_tenant(&self, ctx: &RequestContext, name: &str) -> Result<TenantId, AppError> {
        ctx.require_operator()?;
        let name = DisplayName::parse("name", name)?;
        let tenant_id = TenantId::new();
        self.run::<Tenant>(ctx, Some(tenant_id), &tenant_id.to_string(), TenantCommand::CreateTenant { tenant_id, name }).await?;
        // Every tenant signs tokens with its own key from the start. Should this fail, the
        // background rollover check gives the tenant a key on its next run.
        if let Err(e) = self.generate_signing_key(&ctx.metadata(Some(tenant_id)), tenant_id, crate::wsfed::KeySize::default()).await {
            tracing::error!(tenant = %tenant_id, error = %e, "could not generate the tenant's signing key");
        }
        Ok(tenant_id)
    }

    pub async fn rename_tenant(&self, ctx: &RequestContext, tenant: Option<TenantId>, name: &str) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let name = DisplayName::parse("name", name)?;
        self.tenant_command(ctx, scope.tenant_id(), TenantCommand::RenameTenant { name }).await
    }

    /// Suspension is the platform operator's lever, not the tenant's.
    pub async fn suspend_tenant(&self, ctx: &RequestContext, tenant: TenantId) -> Result<TenantId, AppError> {
        ctx.require_operator()?;
        self.tenant_command(ctx, tenant, TenantCommand::SuspendTenant).await
    }

    pub async fn reactivate_tenant(&self, ctx: &RequestContext, tenant: TenantId) -> Result<TenantId, AppError> {
        ctx.require_operator()?;
        self.tenant_command(ctx, tenant, TenantCommand::ReactivateTenant).await
    }

    pub async fn set_default_usage_location(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        usage_location: Option<&str>,
    ) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let usage_location = usage_location.map(UsageLocation::parse).transpose()?;
        self.tenant_command(ctx, scope.tenant_id(), TenantCommand::SetDefaultUsageLocation { usage_location }).await
    }

    pub async fn set_default_licenses(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        sku_ids: &[String],
    ) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let sku_ids = sku_ids.iter().map(|s| SkuId::parse(s)).collect::<Result<Vec<_>, _>>()?;
        self.tenant_command(ctx, scope.tenant_id(), TenantCommand::SetDefaultLicenses { sku_ids }).await
    }

    pub async fn set_deprovision_action(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        action: DeprovisionAction,
        grace_hours: Option<i32>,
    ) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let grace_hours = grace_hours
            .map(|h| u32::try_from(h).ok().filter(|h| *h <= MAX_GRACE_HOURS))
            .map(|h| h.ok_or_else(|| AppError::validation("graceHours", format!("0 to {MAX_GRACE_HOURS} hours (30 days)"))))
            .transpose()?;
        self.tenant_command(ctx, scope.tenant_id(), TenantCommand::SetDeprovisionAction { action, grace_hours }).await
    }

    pub async fn set_mfa_policy(&self, ctx: &RequestContext, tenant: Option<TenantId>, policy: MfaPolicy) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        self.tenant_command(ctx, scope.tenant_id(), TenantCommand::SetMfaPolicy { policy }).await
    }

    /// Replaces the tenant's `wreply` allow-list (besides Microsoft's endpoints, always allowed).
    pub async fn set_reply_urls(&self, ctx: &RequestContext, tenant: Option<TenantId>, urls: &[String]) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        if urls.len() > 20 {
            return Err(AppError::validation("urls", "at most 20 reply URLs"));
        }
        let mut policy = crate::wsfed::ReplyPolicy::microsoft().allowing_loopback_http(self.sign_in.allow_loopback_reply);
        for url in urls {
            policy = policy.allow_url(url).map_err(|e| AppError::validation("urls", format!("{url:.80}: {e}")))?;
        }
        self.tenant_command(ctx, scope.tenant_id(), TenantCommand::SetReplyUrls { urls: urls.to_vec() }).await
    }

    /// How long issued tokens are valid: 5 minutes to 8 hours (the default is the server's
    /// `TESSERA_TOKEN_LIFETIME_MINUTES`, one hour).
    pub async fn set_token_lifetime(&self, ctx: &RequestContext, tenant: Option<TenantId>, minutes: i32) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let minutes = u32::try_from(minutes)
            .ok()
            .filter(|m| (5..=480).contains(m))
            .ok_or_else(|| AppError::validation("minutes", "must be between 5 and 480"))?;
        self.tenant_command(ctx, scope.tenant_id(), TenantCommand::SetTokenLifetime { minutes }).await
    }

    async fn tenant_command(&self, ctx: &RequestContext, tenant_id: TenantId, command: TenantCommand) -> Result<TenantId, AppError> {
        self.run::<Tenant>(ctx, Some(tenant_id), &tenant_id.to_string(), command).await?;
        Ok(tenant_id)
    }

    /// The tenant as the write side knows it; refuses changes to a suspended tenant.
    pub(super) async fn active_tenant(&self, tenant_id: TenantId) -> Result<Tenant, AppError> {
        let tenant = self.load::<Tenant>(&tenant_id.to_string()).await?;
        tenant.ensure_active()?;
        Ok(tenant)
    }
}
