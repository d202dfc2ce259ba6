use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::Projection;
use crate::args;
use crate::db::{Arg, Backend, Db, DbError, Tx};
use crate::eventstore::{Checkpoint, PersonalData, StoredEvent, read_after};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot decode event {event_type} at position {position}: {message}")]
    Decode { position: i64, event_type: String, message: String },
    #[error("unknown projection {0:?}")]
    Unknown(String),
    #[error(transparent)]
    Personal(#[from] crate::eventstore::PersonalError),
    /// A rebuild's decoding task panicked or was cancelled.
    #[error("decoding task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Events applied per transaction: large enough to amortize the commit, small enough to keep
/// write transactions short (long ones hold back every reader's `xmin`).
const BATCH: i64 = 500;

/// How long the projector lets events gather before the next batch while commands arrive
/// concurrently (its last batch held several). A batch costs about a dozen statements whatever
/// its size, so under load fewer, larger batches leave more of the machine to the commands;
/// a lone command (a batch of one) is never held back.
const GATHER: Duration = Duration::from_millis(2);

/// Runs every projection from one tailing task: each batch of events is read once and applied
/// to all projections in one transaction, which also moves each projection's own checkpoint.
/// One commit per batch instead of one per projection is what keeps the lag low under load.
pub struct Projector {
    db: Db,
    personal: PersonalData,
    projections: Vec<Arc<dyn Projection>>,
    wake: Arc<Notify>,
    progress: Vec<watch::Sender<Checkpoint>>,
    poll_interval: Duration,
}

/// What the rest of the application holds: wake the projector after a commit, wait for it to
/// reach a position, read its lag.
#[derive(Clone)]
pub struct ProjectorHandle {
    wake: Arc<Notify>,
    watched: Arc<[Watched]>,
}

struct Watched {
    projection: Arc<dyn Projection>,
    progress: watch::Receiver<Checkpoint>,
}

impl ProjectorHandle {
    /// A hint that new events exist; the projector also polls, so a lost hint only costs latency.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits until every projection a read after a command of `aggregate_type` could depend on
    /// has applied `target`, at most `timeout`. Returns whether it got there. Commands whose
    /// events no read model shows (uniqueness claims) return at once.
    pub async fn wait_for(&self, aggregate_type: &str, target: Checkpoint, timeout: Duration) -> bool {
        if target == Checkpoint::default() {
            return true;
        }
        let relevant: Vec<_> = self
            .watched
            .iter()
            .filter(|w| w.projection.read_your_writes() && w.projection.handles(aggregate_type))
            .map(|w| w.progress.clone())
            .collect();
        if relevant.is_empty() {
            return true;
        }
        self.wake();
        let all = async {
            for mut rx in relevant {
                if rx.wait_for(|reached| *reached >= target).await.is_err() {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(timeout, all).await.unwrap_or(false)
    }

    /// The oldest checkpoint among the projections in this process.
    pub fn slowest(&self) -> Checkpoint {
        self.watched.iter().map(|w| *w.progress.borrow()).min().unwrap_or_default()
    }
}

impl Projector {
    pub fn new(db: Db, personal: PersonalData, projections: Vec<Arc<dyn Projection>>, poll_interval: Duration) -> Self {
        let progress = projections.iter().map(|_| watch::channel(Checkpoint::default()).0).collect();
        Self { db, personal, projections, wake: Arc::new(Notify::new()), progress, poll_interval }
    }

    pub fn handle(&self) -> ProjectorHandle {
        let watched = self
            .projections
            .iter()
            .zip(&self.progress)
            .map(|(projection, progress)| Watched { projection: projection.clone(), progress: progress.subscribe() })
            .collect();
        ProjectorHandle { wake: self.wake.clone(), watched }
    }

    /// Spawns the tailing task; it stops when `shutdown` fires.
    pub fn spawn(self, shutdown: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let Self { db, personal, projections, wake, progress, poll_interval } = self;
        vec![tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                let outcome = match run_all(&db, &personal, &projections).await {
                    Ok(outcome) => Ok(outcome),
                    // One failing projection must not hold the others back: apply them one by
                    // one, so the healthy ones move on and only the broken one stalls.
                    Err(error) => {
                        tracing::warn!(%error, "batch over all projections failed; applying them one by one");
                        run_each(&db, &personal, &projections).await
                    }
                };
                let busy = matches!(outcome, Ok((_, applied, _)) if applied >= 2);
                let full = match outcome {
                    Ok((reached, applied, failed)) => {
                        for (sender, checkpoint) in progress.iter().zip(reached) {
                            if let Some(checkpoint) = checkpoint {
                                sender.send_replace(checkpoint);
                            }
                        }
                        failures = if failed { failures.saturating_add(1) } else { 0 };
                        applied == BATCH as usize
                    }
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        tracing::error!(%error, "projector failed; retrying");
                        false
                    }
                };
                if full && failures == 0 {
                    continue;
                }
                // Stall rather than skip: a failing event stays unapplied and readiness reports
                // the lag until the cause is fixed.
                let pause = if failures == 0 { poll_interval } else { poll_interval.saturating_mul(failures.min(50)) };
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = wake.notified() => {}
                    () = tokio::time::sleep(pause) => {}
                }
                if busy && failures == 0 {
                    tokio::time::sleep(GATHER).await;
                }
            }
        })]
    }
}

/// The checkpoint each projection reached (none when it failed), the most events read, and
/// whether a projection failed.
type Outcome = (Vec<Option<Checkpoint>>, usize, bool);

/// Applies the next batch to every projection in one transaction together with their
/// checkpoints. The checkpoint rows are locked first (in name order), so several Tessera
/// instances never apply the same event twice and never deadlock.
async fn run_all(db: &Db, personal: &PersonalData, projections: &[Arc<dyn Projection>]) -> Result<Outcome, ProjectionError> {
    let mut tx = db.begin_projector().await?;
    let mut checkpoints = lock_all(&mut tx, db, projections).await?;
    let from = checkpoints.iter().min().copied().unwrap_or_default();
    let events = read_after(&mut tx, db.backend(), from, BATCH).await?;
    let Some(last) = events.last().map(StoredEvent::checkpoint) else {
        tx.commit().await?;
        return Ok((checkpoints.into_iter().map(Some).collect(), 0, false));
    };
    // Read models of personal data get the values opened (keys read in this transaction: a
    // subject forgotten before is forgotten here too); the others get the stored bytes.
    let opened = if projections.iter().any(|p| p.reads_personal_data()) {
        let mut copy = events.clone();
        personal.open_stored(&mut tx, &mut copy).await?;
        Some(copy)
    } else {
        None
    };
    // Projection by projection (each owns its tables, so their order does not matter), so a
    // projection sees its whole batch at once.
    let mut changed = Vec::new();
    for (projection, checkpoint) in projections.iter().zip(&checkpoints) {
        let source = match &opened {
            Some(opened) if projection.reads_personal_data() => opened,
            _ => &events,
        };
        let handled: Vec<&StoredEvent> =
            source.iter().filter(|e| e.checkpoint() > *checkpoint && projection.handles(&e.aggregate_type)).collect();
        projection.apply_batch(&mut tx, &handled).await?;
        if !handled.is_empty() {
            changed.push(projection);
        }
    }
    let behind: Vec<usize> = (0..projections.len()).filter(|&i| checkpoints[i] < last).collect();
    save_checkpoints(&mut tx, behind.iter().map(|&i| projections[i].name()), last).await?;
    tx.commit().await?;
    changed.iter().for_each(|p| p.committed());
    for &i in &behind {
        let before = checkpoints[i];
        crate::observability::record_projected(
            projections[i].name(),
            events.iter().filter(|e| e.checkpoint() > before).map(StoredEvent::occurred_at),
        );
        checkpoints[i] = last;
    }
    Ok((checkpoints.into_iter().map(Some).collect(), events.len(), false))
}

/// Falls back to one transaction per projection.
async fn run_each(db: &Db, personal: &PersonalData, projections: &[Arc<dyn Projection>]) -> Result<Outcome, ProjectionError> {
    let mut reached = Vec::with_capacity(projections.len());
    let (mut most, mut failed) = (0, false);
    for projection in projections {
        match run_batch(db, personal, projection.as_ref()).await {
            Ok((checkpoint, applied)) => {
                reached.push(Some(checkpoint));
                most = most.max(applied);
            }
            Err(error) => {
                tracing::error!(projection = projection.name(), %error, "projection failed; retrying");
                reached.push(None);
                failed = true;
            }
        }
    }
    Ok((reached, most, failed))
}

/// Applies the next batch of one projection in one transaction together with its checkpoint.
pub async fn run_batch(db: &Db, personal: &PersonalData, projection: &dyn Projection) -> Result<(Checkpoint, usize), ProjectionError> {
    let mut tx = db.begin_projector().await?;
    let checkpoint = lock_checkpoint(&mut tx, db, projection.name()).await?;
    let mut events = read_after(&mut tx, db.backend(), checkpoint, BATCH).await?;
    if projection.reads_personal_data() {
        personal.open_stored(&mut tx, &mut events).await?;
    }
    let Some(last) = events.last().map(StoredEvent::checkpoint) else {
        tx.commit().await?;
        return Ok((checkpoint, 0));
    };
    let handled: Vec<&StoredEvent> = events.iter().filter(|e| projection.handles(&e.aggregate_type)).collect();
    projection.apply_batch(&mut tx, &handled).await?;
    save_checkpoints(&mut tx, std::iter::once(projection.name()), last).await?;
    tx.commit().await?;
    if !handled.is_empty() {
        projection.committed();
    }
    crate::observability::record_projected(projection.name(), events.iter().map(StoredEvent::occurred_at));
    Ok((last, events.len()))
}

pub(super) async fn save_checkpoints<'a>(tx: &mut Tx, names: impl Iterator<Item = &'a str>, at: Checkpoint) -> Result<(), DbError> {
    let mut args: Vec<Arg> = vec![at.txid.into(), at.position.into(), chrono::Utc::now().into()];
    let mut placeholders = Vec::new();
    for name in names {
        args.push(name.into());
        placeholders.push(format!("${}", args.len()));
    }
    if placeholders.is_empty() {
        return Ok(());
    }
    let sql =
        format!("UPDATE projection_checkpoints SET txid = $1, position = $2, updated_at = $3 WHERE name IN ({})", placeholders.join(", "));
    tx.execute(&sql, &args).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct NamedCheckpoint {
    name: String,
    txid: i64,
    position: i64,
}

/// Locks every projection's checkpoint row with one statement, in name order (any other
/// locker takes them in the same order, so two instances never deadlock), creating missing rows.
async fn lock_all(tx: &mut Tx, db: &Db, projections: &[Arc<dyn Projection>]) -> Result<Vec<Checkpoint>, ProjectionError> {
    let names: Vec<Arg> = projections.iter().map(|p| Arg::from(p.name())).collect();
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let sql =
        format!("SELECT name, txid, position FROM projection_checkpoints WHERE name IN ({}) ORDER BY name{lock}", placeholders.join(", "));
    let mut rows: Vec<NamedCheckpoint> = tx.fetch_all(&sql, &names).await?;
    if rows.len() < projections.len() {
        for projection in projections {
            lock_checkpoint(tx, db, projection.name()).await?;
        }
        rows = tx.fetch_all(&sql, &names).await?;
    }
    Ok(projections
        .iter()
        .map(|p| {
            rows.iter()
                .find(|row| row.name == p.name())
                .map(|row| Checkpoint { txid: row.txid, position: row.position })
                .unwrap_or_default()
        })
        .collect())
}

pub(super) async fn lock_checkpoint(tx: &mut Tx, db: &Db, name: &str) -> Result<Checkpoint, ProjectionError> {
    tx.execute("INSERT INTO projection_checkpoints (name, txid, position) VALUES ($1, 0, 0) ON CONFLICT (name) DO NOTHING", args![name])
        .await?;
    let sql = match db.backend() {
        Backend::Postgres => "SELECT txid, position FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
        // BEGIN IMMEDIATE already holds SQLite's single write lock.
        Backend::Sqlite => "SELECT txid, position FROM projection_checkpoints WHERE name = $1",
    };
    let checkpoint: Option<Checkpoint> = tx.fetch_optional(sql, args![name]).await?;
    Ok(checkpoint.unwrap_or_default())
}

/// Empties a projection's tables and rewinds its checkpoint, in one transaction; the tailing
/// task (or `catch_up`) then rebuilds it from the first event.
pub async fn reset(db: &Db, projection: &dyn Projection) -> Result<(), ProjectionError> {
    let mut tx = db.begin_system().await?;
    reset_in(&mut tx, db, projection).await?;
    tx.commit().await?;
    Ok(())
}

/// `reset` inside the caller's transaction: until it ends, the checkpoint stays locked and no
/// projector refills the tables.
pub async fn reset_in(tx: &mut Tx, db: &Db, projection: &dyn Projection) -> Result<(), ProjectionError> {
    lock_checkpoint(tx, db, projection.name()).await?;
    for table in projection.tables() {
        tx.execute(&format!("DELETE FROM {table}"), &[]).await?;
    }
    tx.execute("UPDATE projection_checkpoints SET txid = 0, position = 0 WHERE name = $1", args![projection.name()]).await?;
    Ok(())
}

/// Applies batches to all `projections` together (one pass over the events) until each has
/// seen every committed event.
pub async fn catch_up_all(db: &Db, personal: &PersonalData, projections: &[Arc<dyn Projection>]) -> Result<Checkpoint, ProjectionError> {
    loop {
        let (reached, applied, _) = run_all(db, personal, projections).await?;
        if applied == 0 {
            return Ok(reached.into_iter().flatten().min().unwrap_or_default());
        }
    }
}

/// Applies batches until the projection has seen every committed event.
pub async fn catch_up(db: &Db, personal: &PersonalData, projection: &dyn Projection) -> Result<Checkpoint, ProjectionError> {
    loop {
        let (checkpoint, applied) = run_batch(db, personal, projection).await?;
        if applied == 0 {
            return Ok(checkpoint);
        }
    }
}
