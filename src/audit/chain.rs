//! The chain projector: links every event into its tenant's hash chain, in global (commit)
//! order, and now and then signs the tenant's chain head. It runs under the projection runner,
//! so its rows and its checkpoint commit together. It is deliberately not in
//! `projections::all()`: rebuilding it from (possibly tampered) events would launder tampering.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};

use super::canonical::{GENESIS, Hash, from_hex, link_hash, to_hex};
use super::keys::{self, SignedCheckpoint};
use crate::args;
use crate::crypto::Crypto;
use crate::db::{Arg, Tx};
use crate::eventstore::StoredEvent;
use crate::projections::{Projection, ProjectionError};

/// The projection name (its checkpoint row).
pub const NAME: &str = "audit_chain";

/// When a tenant's chain head gets a new signed checkpoint: after this many events since the
/// last one, or when the last one is older than this many seconds.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointPolicy {
    pub every_events: i64,
    pub every_seconds: i64,
}

pub struct AuditChain {
    crypto: Crypto,
    policy: CheckpointPolicy,
}

/// A chain's head and last signed checkpoint (each absent for a new chain).
#[derive(sqlx::FromRow)]
struct Head {
    seq: Option<i64>,
    hash: Option<String>,
    signed_seq: Option<i64>,
    signed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    pub key_id: String,
    pub private_key_sealed: String,
}

fn internal(e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::Decode { position: 0, event_type: "audit".into(), message: e.to_string() }
}

impl AuditChain {
    pub fn new(crypto: Crypto, policy: CheckpointPolicy) -> Self {
        Self { crypto, policy }
    }

    /// Links one event into its tenant's chain; `heads` carries the chains' state through a
    /// batch (all in one transaction, under the projection's checkpoint lock, so nobody else
    /// writes these chains meanwhile) and `links` the rows to write at its end.
    async fn link(
        &self,
        tx: &mut Tx,
        event: &StoredEvent,
        heads: &mut HashMap<String, ChainState>,
        links: &mut Vec<Vec<Arg>>,
    ) -> Result<(), ProjectionError> {
        let tenant = chain_of(event);
        if !heads.contains_key(tenant) {
            let state = ChainState::load(tx, tenant).await?;
            heads.insert(tenant.to_owned(), state);
        }
        let state = heads.get_mut(tenant).ok_or_else(|| internal("chain state vanished"))?;
        let seq = state.seq + 1;
        let hash = link_hash(&state.prev, event);
        let hex = to_hex(&hash);
        links.push(args![tenant, seq, event.position, hex.clone()].to_vec());
        state.seq = seq;
        state.prev = hash;
        let due = state.last_signed.is_none_or(|(signed_seq, signed_at)| {
            seq - signed_seq >= self.policy.every_events || (Utc::now() - signed_at).num_seconds() >= self.policy.every_seconds
        });
        if due {
            sign_head(tx, &self.crypto, tenant, seq, event.position, &hex).await?;
            state.last_signed = Some((seq, Utc::now()));
        }
        Ok(())
    }
}

/// A tenant's chain as the projector needs it: the head, and when it was last signed.
struct ChainState {
    seq: i64,
    prev: Hash,
    last_signed: Option<(i64, DateTime<Utc>)>,
}

impl ChainState {
    /// The chain's head and its last signed checkpoint, in one statement.
    async fn load(tx: &mut Tx, tenant: &str) -> Result<Self, ProjectionError> {
        let row: Option<Head> = tx
            .fetch_optional(
                "SELECT h.seq, h.hash, c.seq AS signed_seq, c.signed_at FROM (SELECT 1 AS one) o
                   LEFT JOIN (SELECT seq, hash FROM audit_chain WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1) h ON true
                   LEFT JOIN (SELECT seq, signed_at FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1) c ON true",
                args![tenant],
            )
            .await?;
        let Some(row) = row else { return Ok(Self { seq: 0, prev: GENESIS, last_signed: None }) };
        let (seq, prev) = match (row.seq, row.hash) {
            (Some(seq), Some(hash)) => (seq, from_hex(&hash).ok_or_else(|| internal("stored chain hash is not hex"))?),
            _ => (0, GENESIS),
        };
        let last_signed = row.signed_seq.zip(row.signed_at);
        Ok(Self { seq, prev, last_signed })
    }
}

pub(super) async fn current_key(tx: &mut Tx, crypto: &Crypto, tenant: &str) -> Result<KeyRow, ProjectionError> {
    let existing: Option<KeyRow> = tx
        .fetch_optional(
            "SELECT key_id, private_key_sealed FROM audit_keys WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 1",
            args![tenant],
        )
        .await?;
    if let Some(key) = existing {
        return Ok(key);
    }
    let new = keys::generate(crypto, tenant).map_err(internal)?;
    tx.execute(
        "INSERT INTO audit_keys (tenant_id, key_id, public_key_pem, private_key_sealed, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![tenant, new.key_id.clone(), new.public_key_pem.clone(), new.private_key_sealed.clone(), Utc::now()],
    )
    .await?;
    Ok(KeyRow { key_id: new.key_id, private_key_sealed: new.private_key_sealed })
}

/// Signs "the tenant's chain up to `seq` ends in `hash`" and stores the checkpoint.
pub(super) async fn sign_head(
    tx: &mut Tx,
    crypto: &Crypto,
    tenant: &str,
    seq: i64,
    position: i64,
    hash: &str,
) -> Result<(), ProjectionError> {
    let key = current_key(tx, crypto, tenant).await?;
    let private = keys::open(crypto, tenant, &key.private_key_sealed).map_err(internal)?;
    let mut checkpoint = SignedCheckpoint {
        tenant_id: tenant.to_owned(),
        seq,
        position,
        head_hash: hash.to_owned(),
        key_id: key.key_id,
        // Microseconds: what both stores keep, so the signed text reads back identically.
        signed_at: Utc::now().trunc_subsecs(6),
        signature: String::new(),
    };
    keys::sign(&private, &mut checkpoint).map_err(internal)?;
    tx.execute(
        "INSERT INTO audit_checkpoints (tenant_id, seq, position, head_hash, key_id, signed_at, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, seq) DO NOTHING",
        args![
            checkpoint.tenant_id,
            checkpoint.seq,
            checkpoint.position,
            checkpoint.head_hash,
            checkpoint.key_id,
            checkpoint.signed_at,
            checkpoint.signature
        ],
    )
    .await?;
    Ok(())
}

/// A batch's links in one statement on PostgreSQL (one per link on SQLite, in-process).
async fn write_links(tx: &mut Tx, links: Vec<Vec<Arg>>) -> Result<(), ProjectionError> {
    const COLUMNS: [&str; 4] = ["tenant_id", "seq", "position", "hash"];
    if let Err(links) = tx.insert_columns("audit_chain", &COLUMNS, links).await? {
        for link in links {
            tx.execute("INSERT INTO audit_chain (tenant_id, seq, position, hash) VALUES ($1, $2, $3, $4)", &link).await?;
        }
    }
    Ok(())
}

/// The chain key of an event: its tenant, or '' (the platform chain) for events of no tenant.
pub fn chain_of(event: &StoredEvent) -> &str {
    event.tenant_id().unwrap_or("")
}

#[async_trait::async_trait]
impl Projection for AuditChain {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    fn handles(&self, _aggregate_type: &str) -> bool {
        true
    }

    fn read_your_writes(&self) -> bool {
        false
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        self.apply_batch(tx, &[event]).await
    }

    async fn apply_batch(&self, tx: &mut Tx, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        let mut heads = HashMap::new();
        let mut links = Vec::with_capacity(events.len());
        for event in events {
            self.link(tx, event, &mut heads, &mut links).await?;
        }
        write_links(tx, links).await
    }
}
