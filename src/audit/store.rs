//! Reads of the chain tables and of events by position, for verification and export.

use std::collections::HashMap;

use super::keys::SignedCheckpoint;
use crate::args;
use crate::db::{DbError, Tx};
use crate::eventstore::StoredEvent;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Link {
    pub seq: i64,
    pub position: i64,
    pub hash: String,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct PublicKeyRow {
    pub key_id: String,
    pub public_key_pem: String,
}

pub async fn links_after(tx: &mut Tx, tenant: &str, after_seq: i64, limit: i64) -> Result<Vec<Link>, DbError> {
    tx.fetch_all(
        "SELECT seq, position, hash FROM audit_chain WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        args![tenant, after_seq, limit],
    )
    .await
}

/// The events at these positions (positions are database integers, so formatting them into
/// the statement is safe).
pub async fn events_at(tx: &mut Tx, positions: &[i64]) -> Result<HashMap<i64, StoredEvent>, DbError> {
    if positions.is_empty() {
        return Ok(HashMap::new());
    }
    let list = positions.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let events: Vec<StoredEvent> = tx
        .fetch_all(
            &format!(
                "SELECT CAST(0 AS BIGINT) AS txid, position, aggregate_type, aggregate_id, sequence, event_type, event_version,
                        payload, metadata
                   FROM events WHERE position IN ({list})"
            ),
            &[],
        )
        .await?;
    Ok(events.into_iter().map(|e| (e.position, e)).collect())
}

pub async fn checkpoints(tx: &mut Tx, tenant: &str, from_seq: i64, to_seq: i64) -> Result<Vec<SignedCheckpoint>, DbError> {
    tx.fetch_all(
        "SELECT tenant_id, seq, position, head_hash, key_id, signed_at, signature FROM audit_checkpoints
          WHERE tenant_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq",
        args![tenant, from_seq, to_seq],
    )
    .await
}

pub async fn public_keys(tx: &mut Tx, tenant: &str) -> Result<Vec<PublicKeyRow>, DbError> {
    tx.fetch_all("SELECT key_id, public_key_pem FROM audit_keys WHERE tenant_id = $1 ORDER BY created_at", args![tenant]).await
}
