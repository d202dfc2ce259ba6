use chrono::{DateTime, Utc};

use crate::args;
use crate::db::{Db, DbError};

/// An API key as listed: never its secret, only the hash's existence.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub tenant_id: String,
    pub key_id: String,
    pub name: String,
    pub role: String,
    pub revoked: bool,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "tenant_id, key_id, name, role, revoked, created_at";

/// Looks a presented secret up by its hash (authentication happens before any tenant is known).
pub async fn by_secret_hash(db: &Db, secret_hash: &str) -> Result<Option<ApiKeyRow>, DbError> {
    let mut tx = db.begin_read().await?;
    let row = tx.fetch_optional(&format!("SELECT {COLUMNS} FROM api_keys WHERE secret_hash = $1"), args![secret_hash]).await?;
    tx.commit().await?;
    Ok(row)
}

/// Keys of one tenant, or the operator keys when `tenant_id` is ''.
pub async fn list(db: &Db, tenant_id: &str) -> Result<Vec<ApiKeyRow>, DbError> {
    let mut tx = match db {
        Db::Postgres { .. } if !tenant_id.is_empty() => {
            db.begin_tenant(&crate::domain::values::TenantId::parse(tenant_id).map_err(|e| DbError::UnsupportedUrl(e.message))?).await?
        }
        _ => db.begin_read().await?,
    };
    let rows =
        tx.fetch_all(&format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, key_id"), args![tenant_id]).await?;
    tx.commit().await?;
    Ok(rows)
}

pub async fn get(db: &Db, key_id: &str) -> Result<Option<ApiKeyRow>, DbError> {
    let mut tx = db.begin_read().await?;
    let row = tx.fetch_optional(&format!("SELECT {COLUMNS} FROM api_keys WHERE key_id = $1"), args![key_id]).await?;
    tx.commit().await?;
    Ok(row)
}
