use chrono::{DateTime, Utc};

use super::scoped;
use super::users::UserRow;
use crate::app::TenantScope;
use crate::args;
use crate::db::{Db, DbError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GroupRow {
    pub tenant_id: String,
    pub group_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "g.tenant_id, g.group_id, g.name, g.description, g.created_at";

pub async fn list(db: &Db, scope: &TenantScope) -> Result<Vec<GroupRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows = tx
        .fetch_all(
            &format!("SELECT {COLUMNS} FROM groups g WHERE g.tenant_id = $1 ORDER BY g.group_id"),
            args![scope.tenant_id().to_string()],
        )
        .await?;
    tx.commit().await?;
    Ok(rows)
}

pub async fn get(db: &Db, scope: &TenantScope, group_id: &str) -> Result<Option<GroupRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let row = tx
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM groups g WHERE g.tenant_id = $1 AND g.group_id = $2"),
            args![scope.tenant_id().to_string(), group_id],
        )
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// The groups a user belongs to.
pub async fn of_user(db: &Db, scope: &TenantScope, user_id: &str) -> Result<Vec<GroupRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows = tx
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM groups g JOIN group_members m ON m.tenant_id = g.tenant_id AND m.group_id = g.group_id
                  WHERE g.tenant_id = $1 AND m.user_id = $2 ORDER BY g.group_id"
            ),
            args![scope.tenant_id().to_string(), user_id],
        )
        .await?;
    tx.commit().await?;
    Ok(rows)
}

pub async fn members(db: &Db, scope: &TenantScope, group_id: &str) -> Result<Vec<UserRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows = tx
        .fetch_all(
            "SELECT u.tenant_id, u.user_id, u.upn, u.domain, u.immutable_id, u.display_name, u.given_name, u.surname, u.mail, u.status,
                    u.assigned, u.usage_location, u.password_set, u.forgotten, u.created_at, u.updated_at
               FROM users u JOIN group_members m ON m.tenant_id = u.tenant_id AND m.user_id = u.user_id
              WHERE u.tenant_id = $1 AND m.group_id = $2 ORDER BY u.user_id",
            args![scope.tenant_id().to_string(), group_id],
        )
        .await?;
    tx.commit().await?;
    Ok(rows)
}
