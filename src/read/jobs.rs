//! The tenant's import/export jobs and their reports, newest job first.

use chrono::{DateTime, Utc};

use super::scoped;
use crate::app::TenantScope;
use crate::args;
use crate::db::{Db, DbError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JobRow {
    pub tenant_id: String,
    pub job_id: String,
    pub kind: String,
    pub status: String,
    /// JSON array of domain names (imports).
    pub domains: String,
    pub total: Option<i64>,
    pub created: i64,
    pub matched: i64,
    pub updated: i64,
    pub failed: i64,
    pub error: Option<String>,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ItemRow {
    pub item_key: String,
    pub user_id: Option<String>,
    pub graph_object_id: Option<String>,
    pub upn: String,
    pub outcome: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

pub const COLUMNS: &str = "tenant_id, job_id, kind, status, domains, total, created, matched, updated, failed, error, started_by,
                           started_at, finished_at";

/// A page of jobs, newest first (job ids are UUIDv7, so they sort by start), before `after`.
pub async fn page(db: &Db, scope: &TenantScope, first: i64, after: Option<&str>) -> Result<(Vec<JobRow>, bool), DbError> {
    let mut tx = scoped(db, scope).await?;
    let tenant = scope.tenant_id().to_string();
    let mut rows: Vec<JobRow> = match after {
        Some(after) => {
            tx.fetch_all(
                &format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND job_id < $2 ORDER BY job_id DESC LIMIT $3"),
                args![tenant, after, first + 1],
            )
            .await?
        }
        None => {
            tx.fetch_all(
                &format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 ORDER BY job_id DESC LIMIT $2"),
                args![tenant, first + 1],
            )
            .await?
        }
    };
    tx.commit().await?;
    let more = rows.len() as i64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

pub async fn get(db: &Db, scope: &TenantScope, job_id: &str) -> Result<Option<JobRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let row = tx
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND job_id = $2"),
            args![scope.tenant_id().to_string(), job_id],
        )
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// A page of a job's per-user outcomes, by item key, after `after`.
pub async fn items(db: &Db, scope: &TenantScope, job_id: &str, first: i64, after: Option<&str>) -> Result<(Vec<ItemRow>, bool), DbError> {
    let mut tx = scoped(db, scope).await?;
    let mut rows: Vec<ItemRow> = tx
        .fetch_all(
            "SELECT item_key, user_id, graph_object_id, upn, outcome, error_code, error_message, recorded_at FROM job_items
              WHERE tenant_id = $1 AND job_id = $2 AND item_key > $3 ORDER BY item_key LIMIT $4",
            args![scope.tenant_id().to_string(), job_id, after.unwrap_or(""), first + 1],
        )
        .await?;
    tx.commit().await?;
    let more = rows.len() as i64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}
