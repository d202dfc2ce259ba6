//! Rebuilding read models in one pass: `tessera projections rebuild` (into the live tables, in
//! one transaction) and `tessera replay` (into a scratch store). Projections with an in-memory
//! fold keep their rows in memory and write them once at the end; the others (read models that
//! see few events) apply each event's statements to the target.

use std::sync::Arc;

use super::runner::{lock_checkpoint, save_checkpoints};
use super::{Fold, Projection, ProjectionError, fold, pages};
use crate::db::{Db, Tx};
use crate::eventstore::{Checkpoint, PersonalData};

enum Target {
    Fold(Box<dyn Fold>),
    Statements,
}

/// What a one-pass fold leaves.
pub struct Folded {
    /// The last event folded.
    pub reached: Checkpoint,
    /// Events read.
    pub read: u64,
    /// The in-memory folds, not yet written (`fold::write`).
    pub folds: Vec<Box<dyn Fold>>,
}

/// Folds every committed event up to `until` (all of them when `None`) from `source`: the
/// projections without an in-memory fold apply their statements to the tables behind `out`,
/// which must be empty for them; the others' rows come back in `Folded::folds`.
///
/// Events reach every projection with personal values opened: the live runner hands the
/// stored bytes to projections that do not read them, and those decode both shapes alike.
pub async fn fold_into(
    source: &Db,
    personal: &PersonalData,
    out: &mut Tx,
    projections: &[Arc<dyn Projection>],
    until: Option<Checkpoint>,
) -> Result<Folded, ProjectionError> {
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
    let folds = targets
        .into_iter()
        .filter_map(|target| match target {
            Target::Fold(fold) => Some(fold),
            Target::Statements => None,
        })
        .collect();
    Ok(Folded { reached, read, folds })
}

/// How a rebuild treats readers of the tables while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RebuildMode {
    /// Readers wait (PostgreSQL: the tables are truncated, their indexes dropped and made
    /// again once the rows are in, which is about twice as fast as maintaining them row by
    /// row). The default: the live projections stand still during a rebuild anyway.
    #[default]
    Offline,
    /// Readers see the old rows until the new ones commit (rows deleted, indexes kept).
    Online,
}

/// Empties the projections' tables and refills them from every event, in one transaction: a
/// failed rebuild changes nothing, and what readers see meanwhile depends on `mode`. The
/// checkpoint rows are locked first, so a running projector waits rather than interleaves.
pub async fn rebuild(
    db: &Db,
    personal: &PersonalData,
    projections: &[Arc<dyn Projection>],
    mode: RebuildMode,
) -> Result<(Checkpoint, u64), ProjectionError> {
    let mut out = db.begin_projector().await?;
    let mut names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    names.sort_unstable();
    for name in &names {
        lock_checkpoint(&mut out, db, name).await?;
    }
    let tables: Vec<&str> = projections.iter().flat_map(|p| p.tables().iter().copied()).collect();
    let offline = mode == RebuildMode::Offline && matches!(out, Tx::Postgres(_));
    let (mut dropped, mut lifted) = (Vec::new(), Vec::new());
    if offline {
        out.execute(&format!("TRUNCATE {}", tables.join(", ")), &[]).await?;
        for table in &tables {
            dropped.extend(indexes::drop_all(&mut out, table).await?);
        }
        lifted = row_security::lift(&mut out, &tables).await?;
    } else {
        for table in &tables {
            out.execute(&format!("DELETE FROM {table}"), &[]).await?;
        }
    }
    let Folded { reached, read, folds } = fold_into(db, personal, &mut out, projections, None).await?;
    let started = std::time::Instant::now();
    for fold in folds {
        fold::write(fold, &mut out).await?;
    }
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "rebuild: folded rows written");
    let started = std::time::Instant::now();
    for index in dropped {
        index.restore(&mut out).await?;
    }
    if offline {
        tracing::info!(seconds = started.elapsed().as_secs_f64(), "rebuild: indexes made");
    }
    row_security::force(&mut out, &lifted).await?;
    save_checkpoints(&mut out, names.into_iter(), reached).await?;
    out.commit().await?;
    Ok((reached, read))
}

/// Lifting `FORCE ROW LEVEL SECURITY` from the tables for the offline load, so that their
/// owner may `COPY` into them (PostgreSQL refuses `COPY FROM` where RLS applies), and putting it
/// back before the commit. Inside the rebuild's transaction, whose `TRUNCATE` keeps every other
/// session out of the tables, nobody ever sees them without it.
mod row_security {
    use crate::db::{DbError, Tx};

    #[derive(sqlx::FromRow)]
    struct Forced {
        forced: bool,
    }

    /// Returns the tables that had it.
    pub async fn lift(tx: &mut Tx, tables: &[&str]) -> Result<Vec<String>, DbError> {
        let mut forced = Vec::new();
        for table in tables {
            let found: Option<Forced> = tx
                .fetch_optional("SELECT relforcerowsecurity AS forced FROM pg_class WHERE oid = to_regclass($1)", crate::args![*table])
                .await?;
            if found.is_some_and(|f| f.forced) {
                tx.execute(&format!("ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"), &[]).await?;
                forced.push((*table).to_owned());
            }
        }
        Ok(forced)
    }

    pub async fn force(tx: &mut Tx, tables: &[String]) -> Result<(), DbError> {
        for table in tables {
            tx.execute(&format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"), &[]).await?;
        }
        Ok(())
    }
}

/// Dropping a table's indexes and constraints for a bulk load and making them again (PostgreSQL).
mod indexes {
    use crate::db::{DbError, Tx};

    /// An index as it was before the load: a plain index, or one behind a constraint.
    pub struct Dropped {
        table: String,
        name: String,
        /// `pg_get_constraintdef` for a constraint, `pg_get_indexdef` for a plain index.
        definition: String,
        constraint: bool,
    }

    #[derive(sqlx::FromRow)]
    struct Found {
        name: String,
        definition: String,
        constraint: bool,
    }

    /// Drops every index of `table` in the transaction (readers of the table wait for it to
    /// end), except those a foreign key relies on; returns what `restore` makes again.
    pub async fn drop_all(tx: &mut Tx, table: &str) -> Result<Vec<Dropped>, DbError> {
        let found: Vec<Found> = tx
            .fetch_all(
                "SELECT i.relname AS name,
                        COALESCE(pg_get_constraintdef(c.oid), pg_get_indexdef(i.oid)) AS definition,
                        c.oid IS NOT NULL AS constraint
                   FROM pg_index x
                   JOIN pg_class i ON i.oid = x.indexrelid
                   LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x')
                  WHERE x.indrelid = to_regclass($1)
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = x.indexrelid)
                  ORDER BY i.relname",
                crate::args![table],
            )
            .await?;
        let mut dropped = Vec::with_capacity(found.len());
        for index in found {
            let statement = if index.constraint {
                format!("ALTER TABLE {table} DROP CONSTRAINT {}", quoted(&index.name))
            } else {
                format!("DROP INDEX {}", quoted(&index.name))
            };
            tx.execute(&statement, &[]).await?;
            dropped.push(Dropped { table: table.to_owned(), name: index.name, definition: index.definition, constraint: index.constraint });
        }
        Ok(dropped)
    }

    impl Dropped {
        pub async fn restore(self, tx: &mut Tx) -> Result<(), DbError> {
            let statement = if self.constraint {
                format!("ALTER TABLE {} ADD CONSTRAINT {} {}", self.table, quoted(&self.name), self.definition)
            } else {
                self.definition
            };
            tx.execute(&statement, &[]).await?;
            Ok(())
        }
    }

    fn quoted(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}
