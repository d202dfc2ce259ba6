//! Claiming several due tasks at once, for one `$batch`: the oldest due tasks of one tenant
//! (one connection, one token), at most one per target object (the due rule already admits only
//! the first open task of an object), locked `FOR UPDATE SKIP LOCKED` on PostgreSQL like a
//! single claim.

use std::time::Duration;

use super::claim::{Claimed, anything_due, due};
use crate::args;
use crate::db::{Db, DbError};

/// Takes up to `max` due tasks of the tenant whose task is oldest, leasing them to `worker`.
pub async fn claim_many(db: &Db, worker: &str, lease: Duration, max: usize) -> Result<Vec<Claimed>, DbError> {
    let now = chrono::Utc::now().timestamp_millis();
    if !anything_due(db, now).await? {
        return Ok(Vec::new());
    }
    let sql = due(db.backend(), max);
    let mut tx = db.begin_system().await?;
    let mut claimed: Vec<Claimed> = tx.fetch_all(&sql, args![now]).await?;
    if let Some(tenant) = claimed.first().map(|t| t.tenant_id.clone()) {
        claimed.retain(|t| t.tenant_id == tenant);
    }
    let until = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
    for task in &claimed {
        tx.execute(
            "UPDATE outbox_tasks SET lease_until = $1, claimed_by = $2 WHERE tenant_id = $3 AND task_id = $4",
            args![until, worker, task.tenant_id.clone(), task.task_id.clone()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(claimed)
}
