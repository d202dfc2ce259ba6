//! Rebuilding read models in one pass: `tessera projections rebuild` (into the live tables, in
//! one transaction) and `tessera replay` (into a scratch store). Projections with an in-memory
//! fold keep their rows in memory and write them once at the end; the others (read models that
//! see few events) apply each event's statements to the target.

use std::sync::Arc;

use super::runner::{lock_checkpoint, save_checkpoints};
use super::{Fold, Projection, ProjectionError, pages};
use crate::db::{Db, Tx};
use crate::eventstore::{Checkpoint, PersonalData};

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
    let started = std::time::Instant::now();
    let (mut received, reader) = pages::spawn(source.clone(), personal.clone(), until, open);
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
    tracing::info!(events = read, seconds = started.elapsed().as_secs_f64(), "rebuild: events folded");
    for target in targets {
        if let Target::Fold(fold) = target {
            fold.write(out).await?;
        }
    }
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "rebuild: folded rows written");
    Ok((reached, read))
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
