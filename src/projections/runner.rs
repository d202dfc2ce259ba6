use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::Projection;
use crate::args;
use crate::db::{Db, DbError, Tx};
use crate::eventstore::{Checkpoint, PersonalData, read_after};

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
}

/// Events applied per transaction: large enough to amortize the commit, small enough to keep
/// write transactions short (long ones hold back every reader's `xmin`).
const BATCH: i64 = 500;

/// Runs every projection, each in its own task with its own checkpoint.
pub struct Projector {
    db: Db,
    personal: PersonalData,
    projections: Vec<Arc<dyn Projection>>,
    wake: Vec<Arc<Notify>>,
    progress: Vec<watch::Sender<Checkpoint>>,
    poll_interval: Duration,
}

/// What the rest of the application holds: wake the projectors after a commit, wait for them to
/// reach a position, read their lag.
#[derive(Clone)]
pub struct ProjectorHandle {
    wake: Vec<Arc<Notify>>,
    progress: Vec<watch::Receiver<Checkpoint>>,
}

impl ProjectorHandle {
    /// A hint that new events exist; projectors also poll, so a lost hint only costs latency.
    pub fn wake(&self) {
        for notify in &self.wake {
            notify.notify_one();
        }
    }

    /// Waits until every projection has applied `target`, at most `timeout`. Returns whether
    /// it got there.
    pub async fn wait_for(&self, target: Checkpoint, timeout: Duration) -> bool {
        if target == Checkpoint::default() {
            return true;
        }
        self.wake();
        let all = async {
            for progress in &self.progress {
                let mut rx = progress.clone();
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
        self.progress.iter().map(|rx| *rx.borrow()).min().unwrap_or_default()
    }
}

impl Projector {
    pub fn new(db: Db, personal: PersonalData, projections: Vec<Arc<dyn Projection>>, poll_interval: Duration) -> Self {
        let wake = projections.iter().map(|_| Arc::new(Notify::new())).collect();
        let progress = projections.iter().map(|_| watch::channel(Checkpoint::default()).0).collect();
        Self { db, personal, projections, wake, progress, poll_interval }
    }

    pub fn handle(&self) -> ProjectorHandle {
        ProjectorHandle { wake: self.wake.clone(), progress: self.progress.iter().map(watch::Sender::subscribe).collect() }
    }

    /// Spawns one tailing task per projection; they stop when `shutdown` fires.
    pub fn spawn(self, shutdown: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        for ((projection, wake), progress) in self.projections.into_iter().zip(self.wake).zip(self.progress) {
            let db = self.db.clone();
            let personal = self.personal.clone();
            let shutdown = shutdown.clone();
            let poll = self.poll_interval;
            tasks.push(tokio::spawn(async move {
                let mut failures = 0u32;
                loop {
                    match run_batch(&db, &personal, projection.as_ref()).await {
                        Ok((checkpoint, applied)) => {
                            failures = 0;
                            progress.send_replace(checkpoint);
                            if applied == BATCH as usize {
                                continue;
                            }
                        }
                        Err(error) => {
                            // Stall rather than skip: the event stays unapplied and readiness
                            // reports the lag until the cause is fixed.
                            failures = failures.saturating_add(1);
                            tracing::error!(projection = projection.name(), %error, "projection failed; retrying");
                        }
                    }
                    let pause = if failures == 0 { poll } else { poll.saturating_mul(failures.min(50)) };
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = wake.notified() => {}
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            }));
        }
        tasks
    }
}

/// Applies the next batch in one transaction together with the checkpoint. The checkpoint row
/// is locked first, so several Tessera instances never apply the same event twice.
pub async fn run_batch(db: &Db, personal: &PersonalData, projection: &dyn Projection) -> Result<(Checkpoint, usize), ProjectionError> {
    let mut tx = db.begin_system().await?;
    let checkpoint = lock_checkpoint(&mut tx, db, projection.name()).await?;
    let mut events = read_after(&mut tx, db.backend(), checkpoint, BATCH).await?;
    if projection.reads_personal_data() {
        // Keys read in this transaction: a subject forgotten before it is forgotten here too.
        personal.open_stored(&mut tx, &mut events).await?;
    }
    let Some(last) = events.last().map(|e| e.checkpoint()) else {
        tx.commit().await?;
        return Ok((checkpoint, 0));
    };
    for event in &events {
        projection.apply(&mut tx, event).await?;
    }
    tx.execute(
        "UPDATE projection_checkpoints SET txid = $1, position = $2, updated_at = $3 WHERE name = $4",
        args![last.txid, last.position, chrono::Utc::now(), projection.name()],
    )
    .await?;
    tx.commit().await?;
    crate::observability::record_projected(projection.name(), events.iter().map(|e| e.occurred_at()));
    Ok((last, events.len()))
}

async fn lock_checkpoint(tx: &mut Tx, db: &Db, name: &str) -> Result<Checkpoint, ProjectionError> {
    tx.execute("INSERT INTO projection_checkpoints (name, txid, position) VALUES ($1, 0, 0) ON CONFLICT (name) DO NOTHING", args![name])
        .await?;
    let sql = match db.backend() {
        crate::db::Backend::Postgres => "SELECT txid, position FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
        // BEGIN IMMEDIATE already holds SQLite's single write lock.
        crate::db::Backend::Sqlite => "SELECT txid, position FROM projection_checkpoints WHERE name = $1",
    };
    let checkpoint: Option<Checkpoint> = tx.fetch_optional(sql, args![name]).await?;
    Ok(checkpoint.unwrap_or_default())
}

/// Empties a projection's tables and rewinds its checkpoint, in one transaction; its tailing
/// task (or `catch_up`) then rebuilds it from the first event.
pub async fn reset(db: &Db, projection: &dyn Projection) -> Result<(), ProjectionError> {
    let mut tx = db.begin_system().await?;
    lock_checkpoint(&mut tx, db, projection.name()).await?;
    for table in projection.tables() {
        tx.execute(&format!("DELETE FROM {table}"), &[]).await?;
    }
    tx.execute("UPDATE projection_checkpoints SET txid = 0, position = 0 WHERE name = $1", args![projection.name()]).await?;
    tx.commit().await?;
    Ok(())
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
