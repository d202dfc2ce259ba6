//! The audit trail: a per-tenant hash chain over every event (`chain`), checkpoints of the chain
//! head signed with the tenant's Ed25519 audit key (`keys`), verification against the database
//! or an export (`verify`, `walker`), and the NDJSON export (`export`).

mod canonical;
mod chain;
pub mod export;
pub mod history;
mod keys;
pub mod replay;
pub mod scratch;
mod store;
mod verify;
mod walker;

pub use canonical::{canonical_json, link_hash};
pub use chain::{AuditChain, CheckpointPolicy, NAME as CHAIN_PROJECTION};
pub use export::{Exporter, Range};
pub use keys::SignedCheckpoint;
pub use store::PublicKeyRow;
pub use verify::{verify_db, verify_file};
pub use walker::{Failure, Report};

use crate::crypto::Crypto;
use crate::db::{Db, DbError};
use crate::projections::ProjectionError;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("audit key: {0}")]
    Key(String),
    #[error("export file: {0}")]
    File(String),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Personal(#[from] crate::eventstore::PersonalError),
}

impl From<openssl::error::ErrorStack> for AuditError {
    fn from(err: openssl::error::ErrorStack) -> Self {
        Self::Key(err.to_string())
    }
}

/// The chain name of a tenant (`''` is the platform chain: events of no tenant).
pub fn chain_name(tenant: Option<&crate::domain::values::TenantId>) -> String {
    tenant.map(ToString::to_string).unwrap_or_default()
}

/// The tenant's audit public keys (PEM), oldest first, creating the key if the tenant has none.
pub async fn public_keys(db: &Db, crypto: &Crypto, tenant: &str) -> Result<Vec<PublicKeyRow>, AuditError> {
    let mut tx = db.begin_system().await?;
    chain::current_key(&mut tx, crypto, tenant).await?;
    let keys = store::public_keys(&mut tx, tenant).await?;
    tx.commit().await?;
    Ok(keys)
}

/// Signs the tenant's current chain head unless it is signed already, so an export made now is
/// anchored to its last event.
pub async fn sign_head_now(db: &Db, crypto: &Crypto, tenant: &str) -> Result<(), AuditError> {
    let mut tx = db.begin_system().await?;
    let head: Option<store::Link> = tx
        .fetch_optional("SELECT seq, position, hash FROM audit_chain WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1", crate::args![tenant])
        .await?;
    if let Some(head) = head {
        chain::sign_head(&mut tx, crypto, tenant, head.seq, head.position, &head.hash).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes recorded request origins (client IP, user agent) older than `before`: personal data
/// kept for investigations only as long as the operator's retention allows. The history and
/// its chain are untouched. Returns how many were deleted.
pub async fn purge_origins(db: &Db, before: chrono::DateTime<chrono::Utc>) -> Result<u64, AuditError> {
    let mut tx = db.begin_system().await?;
    let deleted = tx.execute("DELETE FROM request_origins WHERE recorded_at < $1", crate::args![before]).await?;
    tx.commit().await?;
    Ok(deleted)
}

#[derive(sqlx::FromRow)]
struct Unsigned {
    tenant_id: String,
}

/// Signs the head of every chain that grew since its last signed checkpoint (the periodic task,
/// so a quiet tenant's last events do not stay unsigned). Returns how many heads it signed.
pub async fn sign_unsigned_heads(db: &Db, crypto: &Crypto) -> Result<usize, AuditError> {
    let mut tx = db.begin_system().await?;
    let unsigned: Vec<Unsigned> = tx
        .fetch_all(
            "SELECT c.tenant_id FROM audit_chain c GROUP BY c.tenant_id
             HAVING max(c.seq) > COALESCE((SELECT max(k.seq) FROM audit_checkpoints k WHERE k.tenant_id = c.tenant_id), 0)",
            &[],
        )
        .await?;
    tx.commit().await?;
    for chain in &unsigned {
        sign_head_now(db, crypto, &chain.tenant_id).await?;
    }
    Ok(unsigned.len())
}

/// Runs `sign_unsigned_heads` every `every` until `shutdown`.
pub fn spawn_periodic_signer(
    db: Db,
    crypto: Crypto,
    every: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
            if let Err(error) = sign_unsigned_heads(&db, &crypto).await {
                tracing::error!(%error, "signing audit chain heads failed; retrying next period");
            }
        }
    })
}
