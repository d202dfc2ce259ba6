use super::{AppError, RequestContext, Tessera};
use crate::domain::group::{Group, GroupCommand};
use crate::domain::values::{DisplayName, GroupId, TenantId, UserId};

fn group_key(tenant_id: TenantId, group_id: GroupId) -> String {
    format!("{tenant_id}/{group_id}")
}

impl Tessera {
    pub async fn create_group(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        name: &str,
        description: Option<&str>,
    ) -> Result<GroupId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let name = DisplayName::parse("displayName", name)?;
        let description = description
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| DisplayName::parse("description", d).map(|d| d.to_string()))
            .transpose()?;
        self.active_tenant(scope.tenant_id()).await?;
        let group_id = GroupId::new();
        let command = GroupCommand::CreateGroup { tenant_id: scope.tenant_id(), group_id, name, description };
        self.run::<Group>(ctx, Some(scope.tenant_id()), &group_key(scope.tenant_id(), group_id), command).await?;
        Ok(group_id)
    }

    pub async fn rename_group(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        group_id: GroupId,
        name: &str,
    ) -> Result<GroupId, AppError> {
        let name = DisplayName::parse("displayName", name)?;
        self.group_command(ctx, tenant, group_id, GroupCommand::RenameGroup { name }).await
    }

    pub async fn add_group_member(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        group_id: GroupId,
        user_id: UserId,
    ) -> Result<GroupId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        if !self.user_exists(scope.tenant_id(), user_id).await? {
            return Err(AppError::NotFound("user".into()));
        }
        self.group_command(ctx, tenant, group_id, GroupCommand::AddGroupMember { user_id }).await
    }

    pub async fn remove_group_member(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        group_id: GroupId,
        user_id: UserId,
    ) -> Result<GroupId, AppError> {
        self.group_command(ctx, tenant, group_id, GroupCommand::RemoveGroupMember { user_id }).await
    }

    pub async fn delete_group(&self, ctx: &RequestContext, tenant: Option<TenantId>, group_id: GroupId) -> Result<GroupId, AppError> {
        self.group_command(ctx, tenant, group_id, GroupCommand::DeleteGroup).await
    }

    async fn group_command(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        group_id: GroupId,
        command: GroupCommand,
    ) -> Result<GroupId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        self.active_tenant(scope.tenant_id()).await?;
        self.run::<Group>(ctx, Some(scope.tenant_id()), &group_key(scope.tenant_id(), group_id), command).await?;
        Ok(group_id)
    }
}
