use chrono::{DateTime, Utc};

use super::scoped;
use crate::app::TenantScope;
use crate::args;
use crate::db::{Db, DbError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TenantRow {
    pub tenant_id: String,
    pub name: String,
    pub status: String,
    pub default_usage_location: Option<String>,
    pub default_licenses: String,
    pub deprovision_action: String,
    pub mfa_policy: String,
    pub reply_urls: String,
    pub token_lifetime_minutes: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "tenant_id, name, status, default_usage_location, default_licenses, deprovision_action, mfa_policy, reply_urls, token_lifetime_minutes, created_at, updated_at";

pub async fn get(db: &Db, scope: &TenantScope) -> Result<Option<TenantRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let row =
        tx.fetch_optional(&format!("SELECT {COLUMNS} FROM tenants WHERE tenant_id = $1"), args![scope.tenant_id().to_string()]).await?;
    tx.commit().await?;
    Ok(row)
}

/// Every tenant: for operators only (the caller checks the capability).
pub async fn list_all(db: &Db) -> Result<Vec<TenantRow>, DbError> {
    let mut tx = db.begin_read().await?;
    let rows = tx.fetch_all(&format!("SELECT {COLUMNS} FROM tenants ORDER BY tenant_id"), &[]).await?;
    tx.commit().await?;
    Ok(rows)
}
