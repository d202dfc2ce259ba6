use cqrs_es::Aggregate;
use cqrs_es::persist::{PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;

use super::StoredEvent;
use super::personal::{PersonalData, PersonalError};
use crate::db::Db;

/// postgres-es or sqlite-es, chosen at start-up; keeps the rest of the code free of a backend
/// type parameter. Personal values are sealed on the way in and opened on the way out, so
/// aggregates work with plain `Personal` values while the store holds only ciphertext.
pub struct Repo {
    backend: Backend,
    db: Db,
    personal: PersonalData,
}

enum Backend {
    Postgres(PostgresEventRepository),
    Sqlite(SqliteEventRepository),
}

impl Repo {
    pub fn new(db: &Db, personal: PersonalData) -> Self {
        let backend = match db {
            Db::Postgres { system, .. } => Backend::Postgres(PostgresEventRepository::new(system.clone())),
            Db::Sqlite(pool) => Backend::Sqlite(SqliteEventRepository::new(pool.clone())),
        };
        Self { backend, db: db.clone(), personal }
    }

    async fn opened(&self, mut events: Vec<SerializedEvent>) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.personal.open_serialized(&self.db, &mut events).await.map_err(storage)?;
        Ok(events)
    }

    /// The events as the stream cqrs-es's replay wants (buffered whole: they are already read).
    async fn stream_of(events: Vec<SerializedEvent>) -> Result<ReplayStream, PersistenceError> {
        let (mut feed, stream) = ReplayStream::new(events.len().max(1));
        for event in events {
            feed.push(Ok(event)).await?;
        }
        Ok(stream)
    }
}

/// One event on PostgreSQL, as postgres-es writes it but in the statement's own implicit
/// transaction: one round trip instead of BEGIN, INSERT, COMMIT. Most commands (and every
/// sign-in) append a single event. The unique (aggregate, sequence) key still refuses a lost
/// race, which cqrs-es turns into a retry on fresh state.
async fn insert_one<A: Aggregate>(pool: &sqlx::PgPool, event: &SerializedEvent) -> Result<(), PersistenceError> {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(A::TYPE)
    .bind(event.aggregate_id.as_str())
    .bind(event.sequence as i32)
    .bind(&event.event_type)
    .bind(&event.event_version)
    .bind(&event.payload)
    .bind(&event.metadata)
    .execute(pool)
    .await
    .map(drop)
    .map_err(|err| match &err {
        sqlx::Error::Database(e) if e.code().as_deref() == Some("23505") => PersistenceError::OptimisticLockError,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => PersistenceError::ConnectionError(Box::new(err)),
        _ => PersistenceError::UnknownError(Box::new(err)),
    })
}

fn storage(err: PersonalError) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(err))
}

macro_rules! delegate {
    ($self:ident, $repo:ident => $call:expr) => {
        match &$self.backend {
            Backend::Postgres($repo) => $call,
            Backend::Sqlite($repo) => $call,
        }
    };
}

impl PersistedEventRepository for Repo {
    async fn get_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = delegate!(self, r => r.get_events::<A>(aggregate_id).await)?;
        self.opened(events).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = delegate!(self, r => r.get_last_events::<A>(aggregate_id, last_sequence).await)?;
        self.opened(events).await
    }

    async fn get_snapshot<A: Aggregate>(&self, aggregate_id: &str) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        delegate!(self, r => r.get_snapshot::<A>(aggregate_id).await)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        // An aggregate's state holds personal values in clear; a snapshot would store them so.
        if snapshot_update.is_some() {
            return Err(PersistenceError::UnknownError("snapshots are off: they would keep personal data in clear".into()));
        }
        let mut sealed = events.to_vec();
        for event in &mut sealed {
            self.personal.seal_event(&self.db, event).await.map_err(storage)?;
        }
        if let (Db::Postgres { system, .. }, [event]) = (&self.db, sealed.as_slice()) {
            return insert_one::<A>(system, event).await;
        }
        delegate!(self, r => r.persist::<A>(&sealed, None).await)
    }

    async fn stream_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<ReplayStream, PersistenceError> {
        Self::stream_of(self.get_events::<A>(aggregate_id).await?).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let mut tx = self.db.begin_read().await.map_err(|e| storage(e.into()))?;
        let rows: Vec<StoredEvent> = tx
            .fetch_all(
                "SELECT CAST(0 AS BIGINT) AS txid, position, aggregate_type, aggregate_id, sequence, event_type, event_version,
                        payload, metadata
                   FROM events WHERE aggregate_type = $1 ORDER BY position",
                crate::args![A::TYPE],
            )
            .await
            .map_err(|e| storage(e.into()))?;
        tx.commit().await.map_err(|e| storage(e.into()))?;
        let events = rows
            .into_iter()
            .map(|e| SerializedEvent {
                aggregate_id: e.aggregate_id,
                sequence: e.sequence as usize,
                aggregate_type: e.aggregate_type,
                event_type: e.event_type,
                event_version: e.event_version,
                payload: e.payload,
                metadata: e.metadata,
            })
            .collect();
        Self::stream_of(self.opened(events).await?).await
    }
}
