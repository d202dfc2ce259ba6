use chrono::{DateTime, Utc};

use super::scoped;
use crate::app::TenantScope;
use crate::args;
use crate::db::{Db, DbError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub tenant_id: String,
    pub key_id: String,
    /// `ACTIVE`, `NEXT` or `RETIRED`.
    pub status: String,
    pub key_bits: i64,
    pub certificate_pem: String,
    pub sha1_thumbprint: String,
    /// Sealed; only the issuer opens it.
    pub private_key: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "tenant_id, key_id, status, key_bits, certificate_pem, sha1_thumbprint, private_key, not_before, not_after, created_at, activated_at";

/// The tenant's active and next keys (retired ones are left out).
pub async fn current(db: &Db, scope: &TenantScope) -> Result<Vec<SigningKeyRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows = tx
        .fetch_all(
            &format!("SELECT {COLUMNS} FROM signing_keys WHERE tenant_id = $1 AND status <> 'RETIRED' ORDER BY created_at"),
            args![scope.tenant_id().to_string()],
        )
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Every tenant's active and next keys, for the background rollover check (system read).
pub async fn all_current(db: &Db) -> Result<Vec<SigningKeyRow>, DbError> {
    let mut tx = db.begin_system().await?;
    let rows = tx.fetch_all(&format!("SELECT {COLUMNS} FROM signing_keys WHERE status <> 'RETIRED' ORDER BY tenant_id"), &[]).await?;
    tx.commit().await?;
    Ok(rows)
}
