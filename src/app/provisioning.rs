//! The outbox's use cases: what admins do with provisioning tasks (list, retry, cancel) and
//! what workers record about them. The work itself is in `crate::outbox`.

use super::{AppError, RequestContext, Tessera};
use crate::domain::provisioning::{AttemptOutcome, ProvisioningTask, TaskCommand};
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::domain::values::{TenantId, UserId};
use crate::eventstore::EventMetadata;
use crate::read::outbox;

fn task_key(tenant_id: TenantId, task_id: &str) -> String {
    format!("{tenant_id}/{task_id}")
}

/// Task ids are UUIDs (derived by the projection); anything else is refused before a lookup.
fn parse_task_id(task_id: &str) -> Result<String, AppError> {
    uuid::Uuid::parse_str(task_id.trim()).map(|u| u.to_string()).map_err(|_| AppError::validation("id", "is not a provisioning task id"))
}

impl Tessera {
    /// Puts a FAILED task back in line; its next attempt is due at once.
    pub async fn retry_task(&self, ctx: &RequestContext, tenant: Option<TenantId>, task_id: &str) -> Result<String, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let task_id = parse_task_id(task_id)?;
        let read = ctx.read_scope(Some(scope.tenant_id()))?;
        if outbox::get(self.db(), &read, &task_id).await?.is_none() {
            return Err(AppError::NotFound("provisioning task".into()));
        }
        self.run::<ProvisioningTask>(ctx, Some(scope.tenant_id()), &task_key(scope.tenant_id(), &task_id), TaskCommand::Retry).await?;
        Ok(task_id)
    }

    /// Retries every FAILED task of the tenant; returns how many.
    pub async fn retry_failed_tasks(&self, ctx: &RequestContext, tenant: Option<TenantId>) -> Result<usize, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let read = ctx.read_scope(Some(scope.tenant_id()))?;
        let mut retried = 0;
        for task_id in outbox::failed(self.db(), &read).await? {
            match self
                .run::<ProvisioningTask>(ctx, Some(scope.tenant_id()), &task_key(scope.tenant_id(), &task_id), TaskCommand::Retry)
                .await
            {
                Ok(_) => retried += 1,
                // Retried or cancelled concurrently: nothing to do for this one.
                Err(AppError::PreconditionFailed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(retried)
    }

    /// Cancels a task that has not succeeded: it will not be attempted again, and the tasks
    /// queued behind it for the same object go ahead.
    pub async fn cancel_task(&self, ctx: &RequestContext, tenant: Option<TenantId>, task_id: &str) -> Result<String, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let task_id = parse_task_id(task_id)?;
        let read = ctx.read_scope(Some(scope.tenant_id()))?;
        if outbox::get(self.db(), &read, &task_id).await?.is_none() {
            return Err(AppError::NotFound("provisioning task".into()));
        }
        self.run::<ProvisioningTask>(ctx, Some(scope.tenant_id()), &task_key(scope.tenant_id(), &task_id), TaskCommand::Cancel).await?;
        Ok(task_id)
    }

    /// Records what one attempt of a task came to (an event per attempt, for the audit trail;
    /// `user_id` is the person the task is about, whose data Graph's message may quote)
    /// and waits until the outbox shows it, so the task's lease is released by its outcome.
    pub async fn record_attempt(
        &self,
        tenant_id: TenantId,
        task_id: &str,
        kind: &str,
        target: &str,
        user_id: Option<&str>,
        outcome: AttemptOutcome,
    ) -> Result<(), AppError> {
        let mut metadata: EventMetadata = Self::system_metadata("outbox", Some(tenant_id));
        metadata.causation_id = Some(format!("task:{task_id}"));
        let command =
            TaskCommand::RecordAttempt { kind: kind.to_owned(), target: target.to_owned(), user_id: user_id.map(str::to_owned), outcome };
        self.run_with::<ProvisioningTask>(&metadata, Some(tenant_id), &task_key(tenant_id, task_id), command).await?;
        Ok(())
    }

    /// The user as the write side knows it now (workers push the current state).
    pub async fn user_state(&self, tenant_id: TenantId, user_id: UserId) -> Result<User, AppError> {
        self.load::<User>(&format!("{tenant_id}/{user_id}")).await
    }

    /// The group as the write side knows it now.
    pub async fn group_state(
        &self,
        tenant_id: TenantId,
        group_id: crate::domain::values::GroupId,
    ) -> Result<crate::domain::group::Group, AppError> {
        self.load::<crate::domain::group::Group>(&format!("{tenant_id}/{group_id}")).await
    }

    /// The tenant as the write side knows it now.
    pub async fn tenant_state(&self, tenant_id: TenantId) -> Result<Tenant, AppError> {
        self.load::<Tenant>(&tenant_id.to_string()).await
    }
}
