//! Claiming a RUNNING job whose lease ran out (or that nobody held yet), and keeping the lease
//! while working. PostgreSQL locks the row `FOR UPDATE SKIP LOCKED`; SQLite's one writer is
//! the lock there.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::args;
use crate::db::{Backend, Db, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub tenant_id: String,
    pub job_id: String,
    pub kind: String,
    pub domains: String,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
}

const DUE: &str = "SELECT tenant_id, job_id, kind, domains, started_by, started_at FROM jobs
 WHERE status = 'RUNNING' AND (lease_until IS NULL OR lease_until <= $1) ORDER BY started_at LIMIT 1";

fn until(lease: Duration) -> i64 {
    Utc::now().timestamp_millis() + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

pub async fn claim(db: &Db, worker: &str, lease: Duration) -> Result<Option<ClaimedJob>, DbError> {
    let now = Utc::now().timestamp_millis();
    let sql = match db.backend() {
        Backend::Postgres => format!("{DUE} FOR UPDATE SKIP LOCKED"),
        Backend::Sqlite => DUE.to_owned(),
    };
    let mut look = db.begin_read().await?;
    let any: Option<ClaimedJob> = look.fetch_optional(DUE, args![now]).await?;
    look.commit().await?;
    if any.is_none() {
        return Ok(None);
    }
    let mut tx = db.begin_system().await?;
    let job: Option<ClaimedJob> = tx.fetch_optional(&sql, args![now]).await?;
    if let Some(job) = &job {
        tx.execute(
            "UPDATE jobs SET lease_until = $1, claimed_by = $2 WHERE tenant_id = $3 AND job_id = $4",
            args![until(lease), worker, job.tenant_id.clone(), job.job_id.clone()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(job)
}

/// Extends the lease while the job runs (only this worker's).
pub async fn renew(db: &Db, tenant_id: &str, job_id: &str, worker: &str, lease: Duration) -> Result<(), DbError> {
    let mut tx = db.begin_system().await?;
    tx.execute(
        "UPDATE jobs SET lease_until = $1 WHERE tenant_id = $2 AND job_id = $3 AND claimed_by = $4 AND status = 'RUNNING'",
        args![until(lease), tenant_id, job_id, worker],
    )
    .await?;
    tx.commit().await
}
