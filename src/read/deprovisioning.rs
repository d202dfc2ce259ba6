//! What the outbox knows that a deprovisioning preview needs: the tenant's connection and
//! deprovision action, a user's Microsoft 365 object, and the deletions waiting for their grace
//! period to end.

use chrono::{DateTime, Utc};

use super::scoped;
use crate::app::TenantScope;
use crate::args;
use crate::db::{Db, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxTenant {
    pub connected: bool,
    pub deprovision_action: String,
    pub delete_grace_hours: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxUser {
    pub assigned: bool,
    pub graph_object_id: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingDeletionRow {
    pub task_id: String,
    pub user_id: String,
    pub upn: Option<String>,
    pub graph_object_id: Option<String>,
    /// When the user was unassigned (the task was derived).
    pub created_at: DateTime<Utc>,
    /// Milliseconds since the epoch: when the DELETE is due (a retry's time after a failed try).
    pub next_attempt_at: i64,
}

/// The tenant as the outbox sees it; `None` before any connection or deprovision setting.
pub async fn tenant(db: &Db, scope: &TenantScope) -> Result<Option<OutboxTenant>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let row = tx
        .fetch_optional(
            "SELECT connected, deprovision_action, CAST(delete_grace_hours AS BIGINT) AS delete_grace_hours
               FROM outbox_tenants WHERE tenant_id = $1",
            args![scope.tenant_id().to_string()],
        )
        .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn user(db: &Db, scope: &TenantScope, user_id: &str) -> Result<Option<OutboxUser>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let row = tx
        .fetch_optional(
            "SELECT assigned, graph_object_id FROM outbox_users WHERE tenant_id = $1 AND user_id = $2",
            args![scope.tenant_id().to_string(), user_id],
        )
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// DELETE_USER tasks still to run, the soonest first.
pub async fn pending_deletions(db: &Db, scope: &TenantScope) -> Result<Vec<PendingDeletionRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows = tx
        .fetch_all(
            "SELECT t.task_id, t.user_id, u.upn, o.graph_object_id, t.created_at, t.next_attempt_at
               FROM outbox_tasks t
               LEFT JOIN outbox_users o ON o.tenant_id = t.tenant_id AND o.user_id = t.user_id
               LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.user_id = t.user_id
              WHERE t.tenant_id = $1 AND t.kind = 'DELETE_USER' AND t.status = 'PENDING'
              ORDER BY t.next_attempt_at, t.seq",
            args![scope.tenant_id().to_string()],
        )
        .await?;
    tx.commit().await?;
    Ok(rows)
}
