//! Import and export jobs: starting one (refused with `CONFLICT` while another runs for the
//! tenant, decided by the `TenantJobs` aggregate), and what the job worker (`crate::jobs`)
//! records as it goes. The work itself, and every call to Microsoft, happens in the worker,
//! never in the request that starts a job.

use super::users::user_id_key;
use super::{AppError, NewUser, Principal, RequestContext, Tessera};
use crate::domain::Personal;
use crate::domain::api_key::Role;
use crate::domain::custom_domain::CustomDomain;
use crate::domain::job::{ItemOutcome, JobCommand, JobEnd, JobItem, JobItemCommand, JobKind, TenantJobs};
use crate::domain::provisioning::GraphText;
use crate::domain::values::{ApiKeyId, DomainName, ImmutableId, TenantId, UserId};
use crate::domain::{Reason, user::User};

/// A job a worker has claimed.
#[derive(Debug, Clone)]
pub struct RunningJob {
    pub tenant_id: TenantId,
    pub job_id: uuid::Uuid,
    pub kind: JobKind,
    pub domains: Vec<String>,
    /// `api-key:{id}` of the admin (or operator) who started it.
    pub started_by: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// One user's outcome, as a worker reports it.
#[derive(Debug, Clone)]
pub struct ItemReport {
    /// Unique within the job: the Microsoft 365 object id (import) or the user id (export).
    pub key: String,
    pub user_id: Option<UserId>,
    pub graph_object_id: Option<String>,
    pub upn: String,
    pub outcome: ItemOutcome,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

impl ItemReport {
    pub fn failed(key: String, upn: String, user_id: Option<UserId>, code: &str, message: impl Into<String>) -> Self {
        Self {
            key,
            user_id,
            graph_object_id: None,
            upn,
            outcome: ItemOutcome::Failed,
            error_code: Some(code.to_owned()),
            error_message: Some(message.into()),
        }
    }
}

impl Tessera {
    /// Starts importing the Microsoft 365 users of `domains` (verified domains of the tenant),
    /// or of the tenant's federated domains when none are named. Returns the job id.
    pub async fn start_import_users(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        domains: Option<Vec<String>>,
    ) -> Result<String, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let tenant_id = scope.tenant_id();
        self.active_tenant(tenant_id).await?;
        let mut names = Vec::new();
        match domains.filter(|d| !d.is_empty()) {
            Some(domains) => {
                for domain in domains {
                    let domain = DomainName::parse(&domain)?;
                    let state = self.load::<CustomDomain>(&super::domains::domain_id(tenant_id, &domain)).await?;
                    if !state.exists() || !state.verified {
                        return Err(AppError::precondition(
                            Reason::DomainNotVerified,
                            format!("{domain} is not a verified domain of this tenant"),
                        ));
                    }
                    if !names.contains(&domain.to_string()) {
                        names.push(domain.to_string());
                    }
                }
            }
            None => {
                let read = ctx.read_scope(Some(tenant_id))?;
                names = crate::read::domains::list(self.db(), &read)
                    .await?
                    .into_iter()
                    .filter(|d| d.federation == "FEDERATED")
                    .map(|d| d.name)
                    .collect();
                if names.is_empty() {
                    return Err(AppError::precondition(
                        Reason::NoDomainsToImport,
                        "no domain of this tenant is federated yet; name the domains to import (domains: [\"contoso.com\"])",
                    ));
                }
            }
        }
        self.start_job(ctx, tenant_id, JobKind::ImportUsers, names).await
    }

    /// Starts pushing every assigned user not yet provisioned into Microsoft 365.
    pub async fn start_export_users(&self, ctx: &RequestContext, tenant: Option<TenantId>) -> Result<String, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        self.active_tenant(scope.tenant_id()).await?;
        self.start_job(ctx, scope.tenant_id(), JobKind::ExportUsers, Vec::new()).await
    }

    async fn start_job(&self, ctx: &RequestContext, tenant_id: TenantId, kind: JobKind, domains: Vec<String>) -> Result<String, AppError> {
        // Refused before the job exists: nothing can be done without a connection.
        self.open_connection(tenant_id).await?;
        let job_id = uuid::Uuid::now_v7();
        self.run::<TenantJobs>(ctx, Some(tenant_id), &tenant_id.to_string(), JobCommand::Start { job_id, kind, domains }).await?;
        Ok(job_id.to_string())
    }

    /// The context a worker acts in for a job: on behalf of whoever started it, tied to the job
    /// by its correlation id, so the audit trail shows who asked for each change.
    pub fn job_context(&self, job: &RunningJob) -> RequestContext {
        let key_id = job.started_by.strip_prefix("api-key:").and_then(|id| ApiKeyId::parse(id).ok()).unwrap_or_default();
        RequestContext {
            principal: Principal { key_id, name: format!("job {}", job.job_id), role: Role::Admin, tenant_id: Some(job.tenant_id) },
            correlation_id: format!("job:{}", job.job_id),
            request_id: format!("job-{}", job.job_id),
            origin: super::ClientOrigin::default(),
            origin_recorded: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
        }
    }

    pub async fn job_count_total(&self, ctx: &RequestContext, job: &RunningJob, total: u64) -> Result<(), AppError> {
        let command = JobCommand::CountTotal { job_id: job.job_id, total };
        self.run::<TenantJobs>(ctx, Some(job.tenant_id), &job.tenant_id.to_string(), command).await?;
        Ok(())
    }

    pub async fn job_queue_export(&self, ctx: &RequestContext, job: &RunningJob, user_ids: Vec<UserId>) -> Result<(), AppError> {
        let command = JobCommand::QueueExport { job_id: job.job_id, user_ids };
        self.run::<TenantJobs>(ctx, Some(job.tenant_id), &job.tenant_id.to_string(), command).await?;
        Ok(())
    }

    pub async fn job_finish(&self, ctx: &RequestContext, job: &RunningJob, end: JobEnd, error: Option<String>) -> Result<(), AppError> {
        let command = JobCommand::Finish { job_id: job.job_id, end, error };
        self.run::<TenantJobs>(ctx, Some(job.tenant_id), &job.tenant_id.to_string(), command).await?;
        Ok(())
    }

    /// Records one user's outcome (its own event, sealed for that person). Does not wait for
    /// the read models: a job records thousands of these.
    pub async fn job_record_item(&self, ctx: &RequestContext, job: &RunningJob, item: ItemReport) -> Result<(), AppError> {
        let upn_pseudonym = match item.user_id {
            Some(_) => None,
            None => Some(self.personal_data().upn_pseudonym(self.db(), &job.tenant_id, &item.upn.to_ascii_lowercase()).await?),
        };
        let command = JobItemCommand::Record {
            job_id: job.job_id,
            user_id: item.user_id,
            graph_object_id: item.graph_object_id,
            upn: Personal::new(item.upn),
            upn_pseudonym,
            outcome: item.outcome,
            error_code: item.error_code,
            error_message: item.error_message.map(|m| GraphText::Personal(Personal::new(m))),
        };
        let id = format!("{}/{}/{}", job.tenant_id, job.job_id, item.key);
        self.store.execute::<JobItem>(&id, command, &ctx.metadata(Some(job.tenant_id))).await?;
        Ok(())
    }

    /// An imported user: created in Tessera with the given (or a fresh) ImmutableID.
    pub async fn job_create_user(
        &self,
        ctx: &RequestContext,
        job: &RunningJob,
        input: NewUser,
        anchor: Option<ImmutableId>,
    ) -> Result<(UserId, ImmutableId), AppError> {
        let user_id = self.create_user_with_anchor(ctx, Some(job.tenant_id), input, anchor).await?;
        let user = self.load::<User>(&user_id_key(job.tenant_id, user_id)).await?;
        let anchor = user.immutable_id.ok_or_else(|| AppError::Internal("a created user has no ImmutableID".into()))?;
        Ok((user_id, anchor))
    }
}
