//! The tenant's Microsoft 365 connection and compatibility checks (no secrets are stored here).

use chrono::{DateTime, Utc};

use super::scoped;
use crate::app::TenantScope;
use crate::args;
use crate::db::{Backend, Db, DbError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConnectionRow {
    pub tenant_id: String,
    pub entra_tenant_id: String,
    pub client_id: String,
    pub credential_type: String,
    pub certificate_pem: Option<String>,
    pub certificate_sha1: Option<String>,
    pub certificate_sha256: Option<String>,
    pub certificate_not_before: Option<DateTime<Utc>>,
    pub certificate_not_after: Option<DateTime<Utc>>,
    pub login_base_url: String,
    pub graph_base_url: String,
    pub connected_at: DateTime<Utc>,
    pub last_test_at: Option<DateTime<Utc>>,
    pub last_test_succeeded: Option<bool>,
    pub last_test_permissions: Option<String>,
    pub last_test_findings: Option<String>,
    pub last_test_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CompatibilityRow {
    pub tenant_id: String,
    pub domain: String,
    pub compatible: bool,
    pub findings: String,
    pub checked_at: DateTime<Utc>,
}

pub async fn connection(db: &Db, scope: &TenantScope) -> Result<Option<ConnectionRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let row =
        tx.fetch_optional("SELECT * FROM microsoft365_connections WHERE tenant_id = $1", args![scope.tenant_id().to_string()]).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn compatibility(db: &Db, scope: &TenantScope) -> Result<Vec<CompatibilityRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows = tx
        .fetch_all("SELECT * FROM microsoft365_compatibility WHERE tenant_id = $1 ORDER BY domain", args![scope.tenant_id().to_string()])
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// A subscribed license as of the last `refreshLicenses`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SkuRow {
    pub tenant_id: String,
    pub sku_id: String,
    pub sku_part_number: String,
    pub enabled: i64,
    pub consumed: i64,
    pub refreshed_at: DateTime<Utc>,
}

pub async fn skus(db: &Db, scope: &TenantScope) -> Result<Vec<SkuRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows = tx
        .fetch_all(
            "SELECT * FROM microsoft365_skus WHERE tenant_id = $1 ORDER BY sku_part_number, sku_id",
            args![scope.tenant_id().to_string()],
        )
        .await?;
    tx.commit().await?;
    Ok(rows)
}

pub async fn sku(db: &Db, scope: &TenantScope, sku_id: &str) -> Result<Option<SkuRow>, DbError> {
    // One statement (grantLicense's check), as `users::by_upn`.
    let sql = match db.backend() {
        Backend::Postgres => "SELECT * FROM microsoft365_sku($1, $2)",
        Backend::Sqlite => "SELECT * FROM microsoft365_skus WHERE tenant_id = $1 AND sku_id = $2",
    };
    db.read_confined_optional(sql, args![scope.tenant_id().to_string(), sku_id.to_ascii_lowercase()]).await
}
