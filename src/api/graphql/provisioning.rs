//! GraphQL types and resolvers of the provisioning outbox.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use super::microsoft365::{GraphError, graph_error_json};
use super::query::{read_scope, tenant_arg};
use super::types::{OrGraphql, app, caller};
use crate::app::AppError;
use crate::domain::values::UserId;
use crate::read::outbox::{self, TaskRow};

type Res<T> = async_graphql::Result<T>;

const MAX_PAGE: i32 = 100;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TaskStatus {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "SUCCEEDED" => Self::Succeeded,
            "FAILED" => Self::Failed,
            "CANCELLED" => Self::Cancelled,
            _ => Self::Pending,
        }
    }
}

pub struct ProvisioningTask(pub TaskRow);

/// One change to push to Microsoft 365, with its attempts.
#[Object]
impl ProvisioningTask {
    async fn id(&self) -> ID {
        ID(self.0.task_id.clone())
    }
    /// PROVISION_USER, UPDATE_USER, GRANT_LICENSE, REVOKE_LICENSE, DISABLE_USER, ENABLE_USER
    /// or DELETE_USER.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn status(&self) -> TaskStatus {
        TaskStatus::parse(&self.0.status)
    }
    /// The object it changes (`user:{id}`); tasks of one object run in order.
    async fn target(&self) -> &str {
        &self.0.target
    }
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.clone().map(ID)
    }
    async fn sku_id(&self) -> Option<ID> {
        self.0.sku_id.clone().map(ID)
    }
    async fn attempts(&self) -> i64 {
        self.0.attempts
    }
    /// When the next attempt is due (PENDING tasks).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == "PENDING").then(|| DateTime::from_timestamp_millis(self.0.next_attempt_at)).flatten()
    }
    /// The last failure: Graph's code, message and request ids.
    async fn last_error(&self) -> Option<GraphError> {
        graph_error_json(self.0.last_error.as_deref())
    }
    /// The Microsoft 365 object id the task created or matched.
    async fn graph_object_id(&self) -> Option<&str> {
        self.0.graph_object_id.as_deref()
    }
    /// What the successful attempt did ("created", "matched by userPrincipalName", …).
    async fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Tasks in the order they were derived (Relay cursor connection; `first` at most 100).
pub async fn tasks(
    ctx: &Context<'_>,
    tenant_id: Option<&ID>,
    status: Option<TaskStatus>,
    user_id: Option<ID>,
    first: Option<i32>,
    after: Option<String>,
) -> Res<Connection<String, ProvisioningTask>> {
    let caller = caller(ctx)?;
    let scope = read_scope(caller, tenant_id)?;
    let first = first.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(AppError::validation("first", format!("must be between 1 and {MAX_PAGE}")).to_graphql(&caller.correlation_id));
    }
    let after = after
        .map(|cursor| cursor.parse::<i64>().map_err(|_| AppError::validation("after", "is not a cursor from this connection")))
        .transpose()
        .gql(caller)?;
    let user_id = user_id.map(|id| UserId::parse(&id).map(|u| u.to_string())).transpose().map_err(AppError::from).gql(caller)?;
    let (rows, more) = outbox::page(app(ctx).db(), &scope, status.map(TaskStatus::as_str), user_id.as_deref(), i64::from(first), after)
        .await
        .gql(caller)?;
    let mut connection = Connection::new(after.is_some(), more);
    connection.edges.extend(rows.into_iter().map(|row| Edge::new(row.seq.to_string(), ProvisioningTask(row))));
    Ok(connection)
}

async fn view(ctx: &Context<'_>, tenant_id: Option<&ID>, task_id: &str) -> Res<ProvisioningTask> {
    let caller = caller(ctx)?;
    let scope = read_scope(caller, tenant_id)?;
    let row = outbox::get(app(ctx).db(), &scope, task_id).await.gql(caller)?;
    row.map(ProvisioningTask).ok_or_else(|| AppError::NotFound("provisioning task".into()).to_graphql(&caller.correlation_id))
}

pub async fn task(ctx: &Context<'_>, id: &ID, tenant_id: Option<&ID>) -> Res<Option<ProvisioningTask>> {
    let caller = caller(ctx)?;
    let scope = read_scope(caller, tenant_id)?;
    let Ok(id) = uuid::Uuid::parse_str(id) else { return Ok(None) };
    Ok(outbox::get(app(ctx).db(), &scope, &id.to_string()).await.gql(caller)?.map(ProvisioningTask))
}

pub async fn retry(ctx: &Context<'_>, id: &ID, tenant_id: Option<&ID>) -> Res<ProvisioningTask> {
    let caller = caller(ctx)?;
    let task_id = app(ctx).retry_task(caller, tenant_arg(tenant_id).gql(caller)?, id).await.gql(caller)?;
    view(ctx, tenant_id, &task_id).await
}

pub async fn retry_failed(ctx: &Context<'_>, tenant_id: Option<&ID>) -> Res<i32> {
    let caller = caller(ctx)?;
    let count = app(ctx).retry_failed_tasks(caller, tenant_arg(tenant_id).gql(caller)?).await.gql(caller)?;
    Ok(i32::try_from(count).unwrap_or(i32::MAX))
}

pub async fn cancel(ctx: &Context<'_>, id: &ID, tenant_id: Option<&ID>) -> Res<ProvisioningTask> {
    let caller = caller(ctx)?;
    let task_id = app(ctx).cancel_task(caller, tenant_arg(tenant_id).gql(caller)?, id).await.gql(caller)?;
    view(ctx, tenant_id, &task_id).await
}
