//! The tenant's provisioning tasks (the outbox), oldest first.

use chrono::{DateTime, Utc};

use super::scoped;
use crate::app::TenantScope;
use crate::args;
use crate::db::{Arg, Db, DbError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TaskRow {
    pub tenant_id: String,
    pub task_id: String,
    pub seq: i64,
    pub target: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub sku_id: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub round_attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub graph_object_id: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The claim columns (`lease_until`, `claimed_by`) are left out: they are the workers'.
pub const COLUMNS: &str = "tenant_id, task_id, seq, target, kind, user_id, sku_id, status, attempts, round_attempts, next_attempt_at,
                           last_error, graph_object_id, detail, created_at, updated_at";

/// A page of tasks in derivation order, after the task with sequence `after`.
pub async fn page(
    db: &Db,
    scope: &TenantScope,
    status: Option<&str>,
    user_id: Option<&str>,
    first: i64,
    after: Option<i64>,
) -> Result<(Vec<TaskRow>, bool), DbError> {
    let mut sql = format!("SELECT {COLUMNS} FROM outbox_tasks WHERE tenant_id = $1");
    let mut args: Vec<Arg> = vec![scope.tenant_id().to_string().into()];
    let mut push = |clause: &str, arg: Arg, sql: &mut String| {
        args.push(arg);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(after) = after {
        push(" AND seq > ?", after.into(), &mut sql);
    }
    if let Some(status) = status {
        push(" AND status = ?", status.into(), &mut sql);
    }
    if let Some(user_id) = user_id {
        push(" AND user_id = ?", user_id.into(), &mut sql);
    }
    push(" ORDER BY seq LIMIT ?", (first + 1).into(), &mut sql);
    let mut tx = scoped(db, scope).await?;
    let mut rows: Vec<TaskRow> = tx.fetch_all(&sql, &args).await?;
    tx.commit().await?;
    let more = rows.len() as i64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

pub async fn get(db: &Db, scope: &TenantScope, task_id: &str) -> Result<Option<TaskRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let row = tx
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM outbox_tasks WHERE tenant_id = $1 AND task_id = $2"),
            args![scope.tenant_id().to_string(), task_id],
        )
        .await?;
    tx.commit().await?;
    Ok(row)
}

#[derive(sqlx::FromRow)]
struct Id {
    task_id: String,
}

/// Every FAILED task of the tenant, oldest first.
pub async fn failed(db: &Db, scope: &TenantScope) -> Result<Vec<String>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows: Vec<Id> = tx
        .fetch_all(
            "SELECT task_id FROM outbox_tasks WHERE tenant_id = $1 AND status = 'FAILED' ORDER BY seq",
            args![scope.tenant_id().to_string()],
        )
        .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| r.task_id).collect())
}
