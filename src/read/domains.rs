use chrono::{DateTime, Utc};

use super::scoped;
use crate::app::TenantScope;
use crate::args;
use crate::db::{Db, DbError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DomainRow {
    pub tenant_id: String,
    pub name: String,
    pub verification_token: String,
    pub verified: bool,
    pub federation: String,
    pub added_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
    pub issuer_uri: Option<String>,
    /// JSON `{reason, error}` of the last federation change that did not happen.
    pub federation_error: Option<String>,
}

const COLUMNS: &str = "tenant_id, name, verification_token, verified, federation, added_at, verified_at, issuer_uri, federation_error";

pub async fn list(db: &Db, scope: &TenantScope) -> Result<Vec<DomainRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows = tx
        .fetch_all(&format!("SELECT {COLUMNS} FROM domains WHERE tenant_id = $1 ORDER BY name"), args![scope.tenant_id().to_string()])
        .await?;
    tx.commit().await?;
    Ok(rows)
}

pub async fn get(db: &Db, scope: &TenantScope, name: &str) -> Result<Option<DomainRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let row = tx
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM domains WHERE tenant_id = $1 AND name = $2"),
            args![scope.tenant_id().to_string(), name],
        )
        .await?;
    tx.commit().await?;
    Ok(row)
}

#[derive(sqlx::FromRow)]
struct Upn {
    upn: String,
}

/// The user principal names of the tenant's users in `domain`.
pub async fn users_of(db: &Db, scope: &TenantScope, domain: &str) -> Result<Vec<String>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows: Vec<Upn> = tx
        .fetch_all(
            "SELECT upn FROM users WHERE tenant_id = $1 AND domain = $2 ORDER BY upn",
            args![scope.tenant_id().to_string(), domain.to_ascii_lowercase()],
        )
        .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| r.upn).collect())
}
