//! Claiming tasks. A task is due when it is PENDING, its next attempt is due, no worker holds
//! an unexpired lease on it, and no earlier task for the same target object is still open
//! (PENDING or FAILED): FIFO per object, parallel across objects. On PostgreSQL the candidate
//! row is locked `FOR UPDATE SKIP LOCKED`, so workers of several Tessera instances never take
//! the same task; SQLite has one writer, whose `BEGIN IMMEDIATE` transaction is the lock.

use std::time::Duration;

use crate::args;
use crate::db::{Backend, Db, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub tenant_id: String,
    pub task_id: String,
    pub kind: String,
    pub target: String,
    pub user_id: Option<String>,
    pub sku_id: Option<String>,
    pub attempts: i64,
    pub round_attempts: i64,
    /// The user's Microsoft 365 object id, once a task created or matched it.
    pub graph_object_id: Option<String>,
    /// An earlier claim ended without an outcome (its process died, or its lease ran out): that
    /// worker may have sent the request, so a create must look first, as after a failed attempt.
    pub reclaimed: bool,
}

#[derive(sqlx::FromRow)]
struct Due {
    #[allow(dead_code)] // only its presence matters
    due: i64,
}

/// The oldest `limit` due tasks, in seq order, walking the PENDING tasks on the partial index
/// `outbox_tasks_pending` (migration 0085) and stopping at the first `limit` that qualify,
/// rather than reading and sorting every pending task (an export queues thousands at once).
pub(super) fn due(backend: Backend, limit: usize) -> String {
    let (from, lock) = match backend {
        Backend::Postgres => ("outbox_tasks t", " FOR UPDATE OF t SKIP LOCKED"),
        // Without statistics SQLite's planner picks `outbox_tasks_due` and sorts.
        Backend::Sqlite => ("outbox_tasks t INDEXED BY outbox_tasks_pending", ""),
    };
    format!(
        "SELECT t.tenant_id, t.task_id, t.kind, t.target, t.user_id, t.sku_id, t.attempts, t.round_attempts, u.graph_object_id,
       (t.claimed_by IS NOT NULL) AS reclaimed
  FROM {from}
  LEFT JOIN outbox_users u ON u.tenant_id = t.tenant_id AND u.user_id = t.user_id
 WHERE t.status = 'PENDING' AND t.next_attempt_at <= $1 AND (t.lease_until IS NULL OR t.lease_until <= $1)
   AND NOT EXISTS (SELECT 1 FROM outbox_tasks p
                    WHERE p.tenant_id = t.tenant_id AND p.target = t.target AND p.seq < t.seq
                      AND p.status IN ('PENDING', 'FAILED'))
 ORDER BY t.seq
 LIMIT {}{lock}",
        limit.max(1)
    )
}

/// A cheap look before a claim: idle workers poll often, and on SQLite every claim transaction
/// takes the database's one write lock.
pub(super) async fn anything_due(db: &Db, now: i64) -> Result<bool, DbError> {
    let mut look = db.begin_read().await?;
    let due: Option<Due> = look
        .fetch_optional(
            "SELECT CAST(1 AS BIGINT) AS due FROM outbox_tasks WHERE status = 'PENDING' AND next_attempt_at <= $1
                AND (lease_until IS NULL OR lease_until <= $1) LIMIT 1",
            args![now],
        )
        .await?;
    look.commit().await?;
    Ok(due.is_some())
}

/// Takes the oldest due task, leasing it to `worker` for `lease`.
pub async fn claim(db: &Db, worker: &str, lease: Duration) -> Result<Option<Claimed>, DbError> {
    let now = chrono::Utc::now().timestamp_millis();
    let sql = due(db.backend(), 1);
    if !anything_due(db, now).await? {
        return Ok(None);
    }
    let mut tx = db.begin_system().await?;
    let claimed: Option<Claimed> = tx.fetch_optional(&sql, args![now]).await?;
    if let Some(task) = &claimed {
        let until = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        tx.execute(
            "UPDATE outbox_tasks SET lease_until = $1, claimed_by = $2 WHERE tenant_id = $3 AND task_id = $4",
            args![until, worker, task.tenant_id.clone(), task.task_id.clone()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(claimed)
}

/// Gives a task back without an outcome (the worker could not even try, e.g. the database
/// failed): due again at once for another worker.
pub async fn release(db: &Db, task: &Claimed, worker: &str) -> Result<(), DbError> {
    let mut tx = db.begin_system().await?;
    tx.execute(
        "UPDATE outbox_tasks SET lease_until = NULL, claimed_by = NULL WHERE tenant_id = $1 AND task_id = $2 AND claimed_by = $3",
        args![task.tenant_id.clone(), task.task_id.clone(), worker],
    )
    .await?;
    tx.commit().await
}

#[derive(sqlx::FromRow)]
struct GroupObject {
    graph_object_id: Option<String>,
}

/// The Microsoft 365 object id of a group, once its PROVISION_GROUP task succeeded.
pub async fn group_object_id(db: &Db, tenant_id: &str, group_id: &str) -> Result<Option<String>, DbError> {
    let mut tx = db.begin_system().await?;
    let row: Option<GroupObject> = tx
        .fetch_optional("SELECT graph_object_id FROM outbox_groups WHERE tenant_id = $1 AND group_id = $2", args![tenant_id, group_id])
        .await?;
    tx.commit().await?;
    Ok(row.and_then(|r| r.graph_object_id))
}
