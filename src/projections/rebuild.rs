//! Rebuilding read models in one pass: `tessera projections rebuild` (into the live tables, in
//! one transaction) and `tessera replay` (into a scratch store). Projections with an in-memory
//! fold keep their rows in memory and write them once at the end; the others (read models that
//! see few events) apply each event's statements to the target.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::runner::{lock_checkpoint, save_checkpoints};
use super::{Fold, Projection, ProjectionError};
use crate::db::{Db, Tx};
use crate::eventstore::{Checkpoint, PersonalData, StoredEvent, read_after};

/// Events read per page: big pages amortize the round trip and the data-key lookups; each page
/// is its own short read transaction.
const PAGE: i64 = 5_000;

enum Target {
    Fold(Box<dyn Fold>),
    Statements,
}

/// Folds every committed event up to `until` (all of them when `None`) from `source` into the
/// tables behind `target`, which must be empty for the given projections. Returns the last
/// event folded and how many events were read.
///
/// Events reach every projection with personal values opened: the live runner hands the
/// stored bytes to projections that do not read them, and those decode both shapes alike.
pub async fn fold_into(
    source: &Db,
    personal: &PersonalData,
    out: &mut Tx,
    projections: &[Arc<dyn Projection>],
    until: Option<Checkpoint>,
) -> Result<(Checkpoint, u64), ProjectionError> {
    let mut targets: Vec<Target> = projections.iter().map(|p| p.fold().map_or(Target::Statements, Target::Fold)).collect();
    let open = projections.iter().any(|p| p.reads_personal_data());
    // The next page is read (and its personal values opened) while this one is folded.
    let (pages, mut received) = mpsc::channel::<Result<Vec<StoredEvent>, ProjectionError>>(2);
    let reader = {
        let (source, personal) = (source.clone(), personal.clone());
        tokio::spawn(async move {
            let mut after = Checkpoint::default();
            loop {
                let page = read_page(&source, &personal, after, until, open).await;
                let last = page.as_ref().ok().and_then(|events| events.last().map(StoredEvent::checkpoint));
                let stop = last.is_none();
                if pages.send(page).await.is_err() || stop {
                    return;
                }
                after = last.unwrap_or(after);
            }
        })
    };
    let mut reached = Checkpoint::default();
    let mut read = 0u64;
    let outcome = async {
        while let Some(page) = received.recv().await {
            let events = page?;
            let Some(last) = events.last() else { break };
            reached = last.checkpoint();
            read += events.len() as u64;
            for (projection, target) in projections.iter().zip(targets.iter_mut()) {
                let handled = events.iter().filter(|e| projection.handles(&e.aggregate_type));
                match target {
                    Target::Fold(fold) => {
                        for event in handled {
                            fold.apply(event)?;
                        }
                    }
                    Target::Statements => projection.apply_batch(out, &handled.collect::<Vec<_>>()).await?,
                }
            }
        }
        Ok::<(), ProjectionError>(())
    }
    .await;
    reader.abort();
    outcome?;
    for target in targets {
        if let Target::Fold(fold) = target {
            fold.write(out).await?;
        }
    }
    Ok((reached, read))
}

/// The next page after `after`, cut at `until`, personal values opened when asked.
async fn read_page(
    source: &Db,
    personal: &PersonalData,
    after: Checkpoint,
    until: Option<Checkpoint>,
    open: bool,
) -> Result<Vec<StoredEvent>, ProjectionError> {
    let mut tx = source.begin_read().await?;
    let mut events = read_after(&mut tx, source.backend(), after, PAGE).await?;
    if let Some(until) = until {
        events.retain(|e| e.checkpoint() <= until);
    }
    if open {
        personal.open_stored(&mut tx, &mut events).await?;
    }
    tx.commit().await?;
    Ok(events)
}

/// Empties the projections' tables and refills them from every event, in one transaction: the
/// old rows stay readable until the new ones commit, and a failed rebuild changes nothing. The
/// checkpoint rows are locked first, so a running projector waits rather than interleaves.
pub async fn rebuild(db: &Db, personal: &PersonalData, projections: &[Arc<dyn Projection>]) -> Result<(Checkpoint, u64), ProjectionError> {
    let mut out = db.begin_projector().await?;
    let mut names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    names.sort_unstable();
    for name in &names {
        lock_checkpoint(&mut out, db, name).await?;
    }
    for projection in projections {
        for table in projection.tables() {
            out.execute(&format!("DELETE FROM {table}"), &[]).await?;
        }
    }
    let (reached, read) = fold_into(db, personal, &mut out, projections, None).await?;
    save_checkpoints(&mut out, names.into_iter(), reached).await?;
    out.commit().await?;
    Ok((reached, read))
}
