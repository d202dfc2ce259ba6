//! Read models folded from the events into a scratch database (an in-memory SQLite), by the
//! same projections that keep the live ones: for time travel (one tenant, up to a moment) and
//! for `tessera replay` (everything, compared with the live tables).

use chrono::{DateTime, Utc};

use super::AuditError;
use crate::args;
use crate::db::{Db, Tx};
use crate::eventstore::{Checkpoint, PersonalData, StoredEvent};
use crate::projections::{self, Fold, Projection};

const PAGE: i64 = 1_000;

/// Where a fold stops.
#[derive(Debug, Clone, Copy)]
pub enum Cutoff {
    /// Every event.
    End,
    /// Events that occurred at or before this time.
    AsOf(DateTime<Utc>),
    /// Events at or before this global position.
    Position(i64),
}

impl Cutoff {
    fn includes(&self, event: &StoredEvent) -> bool {
        match self {
            Self::End => true,
            Self::AsOf(at) => event.occurred_at() <= *at,
            Self::Position(position) => event.position <= *position,
        }
    }
}

/// An empty, migrated scratch database. One connection, so the in-memory database lives as
/// long as the pool.
pub async fn empty() -> Result<Db, AuditError> {
    let db = Db::connect("sqlite::memory:", 1).await?;
    db.migrate().await?;
    Ok(db)
}

async fn apply_all(tx: &mut Tx, all: &[std::sync::Arc<dyn Projection>], event: &StoredEvent) -> Result<(), AuditError> {
    for projection in all {
        projection.apply(tx, event).await?;
    }
    Ok(())
}

/// One tenant's read models as they were at `cutoff`, folded from its events in chain (commit)
/// order. Personal values are opened with today's keys: a person forgotten since shows as
/// forgotten in the past too.
pub async fn tenant_at(source: &Db, personal: &PersonalData, tenant: &str, cutoff: Cutoff) -> Result<Db, AuditError> {
    let scratch = empty().await?;
    let all = projections::all();
    let mut after_seq = 0;
    loop {
        let mut tx = source.begin_system().await?;
        let page: Vec<ChainedEvent> = tx
            .fetch_all(
                "SELECT c.seq, CAST(0 AS BIGINT) AS txid, e.position, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type,
                        e.event_version, e.payload, e.metadata
                   FROM audit_chain c JOIN events e ON e.position = c.position
                  WHERE c.tenant_id = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3",
                args![tenant, after_seq, PAGE],
            )
            .await?;
        let Some(last) = page.last() else {
            tx.commit().await?;
            break;
        };
        after_seq = last.seq;
        let mut events: Vec<StoredEvent> = page.iter().map(ChainedEvent::event).filter(|e| cutoff.includes(e)).collect();
        personal.open_stored(&mut tx, &mut events).await?;
        tx.commit().await?;
        let mut out = scratch.begin_system().await?;
        for event in &events {
            apply_all(&mut out, &all, event).await?;
        }
        out.commit().await?;
    }
    Ok(scratch)
}

/// Every read model folded from every event in global order up to `until` (for `tessera
/// replay`), by the rebuild's one-pass fold: the projections without an in-memory fold into
/// the scratch database, the others' rows returned as their folds hold them. Returns the
/// scratch database, how many events were applied, and the folds.
pub async fn everything(source: &Db, personal: &PersonalData, until: Checkpoint) -> Result<(Db, u64, Vec<Box<dyn Fold>>), AuditError> {
    let scratch = empty().await?;
    let all = projections::all();
    let mut out = scratch.begin_system().await?;
    let folded = projections::fold_into(source, personal, &mut out, &all, Some(until)).await?;
    out.commit().await?;
    Ok((scratch, folded.read, folded.folds))
}

#[derive(sqlx::FromRow)]
struct ChainedEvent {
    seq: i64,
    #[sqlx(flatten)]
    event: StoredEvent,
}

impl ChainedEvent {
    fn event(&self) -> StoredEvent {
        self.event.clone()
    }
}
