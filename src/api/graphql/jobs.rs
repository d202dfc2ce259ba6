//! GraphQL types and resolvers of import and export jobs.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use super::query::{read_scope, tenant_arg};
use super::types::{OrGraphql, app, caller};
use crate::app::{AppError, TenantScope};
use crate::read::jobs::{self, ItemRow, JobRow};

type Res<T> = async_graphql::Result<T>;

const MAX_PAGE: i32 = 100;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum JobKind {
    /// Microsoft 365 users into Tessera.
    ImportUsers,
    /// Assigned Tessera users not yet provisioned into Microsoft 365.
    ExportUsers,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum JobStatus {
    Running,
    /// Every user was handled; the report says how (some may have failed).
    Completed,
    /// The job could not go on (see `error`).
    Failed,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum JobItemOutcome {
    Created,
    Matched,
    /// Matched, and the missing onPremisesImmutableId was set.
    Updated,
    Failed,
}

fn page_size(first: Option<i32>) -> Result<i64, AppError> {
    let first = first.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(AppError::validation("first", format!("must be between 1 and {MAX_PAGE}")));
    }
    Ok(i64::from(first))
}

pub struct Job {
    row: JobRow,
    scope: TenantScope,
}

/// One import or export job: progress while it runs, a per-user report at the end.
#[Object]
impl Job {
    async fn id(&self) -> ID {
        ID(self.row.job_id.clone())
    }
    async fn kind(&self) -> JobKind {
        if self.row.kind == "EXPORT_USERS" { JobKind::ExportUsers } else { JobKind::ImportUsers }
    }
    async fn status(&self) -> JobStatus {
        match self.row.status.as_str() {
            "COMPLETED" => JobStatus::Completed,
            "FAILED" => JobStatus::Failed,
            _ => JobStatus::Running,
        }
    }
    /// The domains an import reads users of.
    async fn domains(&self) -> Vec<String> {
        serde_json::from_str(&self.row.domains).unwrap_or_default()
    }
    /// How many users the job handles; null until it has counted them.
    async fn total(&self) -> Option<i64> {
        self.row.total
    }
    /// Users handled so far (created, matched, updated or failed).
    async fn done(&self) -> i64 {
        self.row.created + self.row.matched + self.row.updated + self.row.failed
    }
    async fn created(&self) -> i64 {
        self.row.created
    }
    async fn matched(&self) -> i64 {
        self.row.matched
    }
    async fn updated(&self) -> i64 {
        self.row.updated
    }
    async fn failed(&self) -> i64 {
        self.row.failed
    }
    /// Why a FAILED job stopped.
    async fn error(&self) -> Option<&str> {
        self.row.error.as_deref()
    }
    /// Who started it (`api-key:{id}`).
    async fn started_by(&self) -> &str {
        &self.row.started_by
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.row.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.row.finished_at
    }
    /// Per-user outcomes (Relay cursor connection; `first` at most 100).
    async fn report(&self, ctx: &Context<'_>, first: Option<i32>, after: Option<String>) -> Res<Connection<String, JobItem>> {
        let caller = caller(ctx)?;
        let first = page_size(first).gql(caller)?;
        let (rows, more) = jobs::items(app(ctx).db(), &self.scope, &self.row.job_id, first, after.as_deref()).await.gql(caller)?;
        let mut connection = Connection::new(after.is_some(), more);
        connection.edges.extend(rows.into_iter().map(|row| Edge::new(row.item_key.clone(), JobItem(row))));
        Ok(connection)
    }
}

pub struct JobItem(ItemRow);

/// What a job did for one user.
#[Object]
impl JobItem {
    async fn user_principal_name(&self) -> &str {
        &self.0.upn
    }
    /// The Tessera user, when there is one.
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.clone().map(ID)
    }
    /// The Microsoft 365 user's object id, when known.
    async fn graph_object_id(&self) -> Option<&str> {
        self.0.graph_object_id.as_deref()
    }
    async fn outcome(&self) -> JobItemOutcome {
        match self.0.outcome.as_str() {
            "CREATED" => JobItemOutcome::Created,
            "MATCHED" => JobItemOutcome::Matched,
            "UPDATED" => JobItemOutcome::Updated,
            _ => JobItemOutcome::Failed,
        }
    }
    /// Graph's (or Tessera's) error code of a failure.
    async fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
}

pub async fn job(ctx: &Context<'_>, id: &ID, tenant_id: Option<&ID>) -> Res<Option<Job>> {
    let caller = caller(ctx)?;
    let scope = read_scope(caller, tenant_id)?;
    let Ok(id) = uuid::Uuid::parse_str(id) else { return Ok(None) };
    let row = jobs::get(app(ctx).db(), &scope, &id.to_string()).await.gql(caller)?;
    Ok(row.map(|row| Job { row, scope }))
}

pub async fn list(ctx: &Context<'_>, tenant_id: Option<&ID>, first: Option<i32>, after: Option<String>) -> Res<Connection<String, Job>> {
    let caller = caller(ctx)?;
    let scope = read_scope(caller, tenant_id)?;
    let first = page_size(first).gql(caller)?;
    let (rows, more) = jobs::page(app(ctx).db(), &scope, first, after.as_deref()).await.gql(caller)?;
    let mut connection = Connection::new(after.is_some(), more);
    connection.edges.extend(rows.into_iter().map(|row| Edge::new(row.job_id.clone(), Job { row, scope })));
    Ok(connection)
}

async fn started(ctx: &Context<'_>, tenant_id: Option<&ID>, job_id: String) -> Res<Job> {
    let caller = caller(ctx)?;
    job(ctx, &ID(job_id), tenant_id).await?.ok_or_else(|| AppError::NotFound("job".into()).to_graphql(&caller.correlation_id))
}

pub async fn start_import(ctx: &Context<'_>, domains: Option<Vec<String>>, tenant_id: Option<&ID>) -> Res<Job> {
    let caller = caller(ctx)?;
    let job_id = app(ctx).start_import_users(caller, tenant_arg(tenant_id).gql(caller)?, domains).await.gql(caller)?;
    started(ctx, tenant_id, job_id).await
}

pub async fn start_export(ctx: &Context<'_>, tenant_id: Option<&ID>) -> Res<Job> {
    let caller = caller(ctx)?;
    let job_id = app(ctx).start_export_users(caller, tenant_arg(tenant_id).gql(caller)?).await.gql(caller)?;
    started(ctx, tenant_id, job_id).await
}
