use cqrs_es::Aggregate;
use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;

use super::group_commit::GroupCommit;
use super::history_reads::HistoryReads;
use super::personal::{PersonalData, PersonalError};
use super::{Checkpoint, RequestOrigin};
use crate::db::Db;

macro_rules! delegate {
    ($self:ident, $repo:ident => $call:expr) => {
        match &$self.backend {
            Backend::Postgres($repo) => $call,
            Backend::Sqlite($repo) => $call,
        }
    };
}

/// The events table on either store: appends through postgres-es or sqlite-es (chosen at
/// start-up; on PostgreSQL single events by group commit and histories read together with other
/// commands'), histories read several aggregates at a time. Personal values are sealed on the way in and opened on the way out, so aggregates
/// work with plain `Personal` values while the store holds only ciphertext.
pub struct Repo {
    backend: Backend,
    /// Single-event appends on PostgreSQL (most commands, every sign-in).
    group_commit: Option<GroupCommit>,
    /// Histories on PostgreSQL, concurrent commands' read together.
    history_reads: Option<HistoryReads>,
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
        let (group_commit, history_reads) = match db {
            Db::Postgres { statements, .. } => (Some(GroupCommit::new(statements.clone())), Some(HistoryReads::new(statements.clone()))),
            Db::Sqlite(_) => (None, None),
        };
        Self { backend, group_commit, history_reads, db: db.clone(), personal }
    }

    async fn opened(&self, mut events: Vec<SerializedEvent>) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.personal.open_serialized(&self.db, &mut events).await.map_err(storage)?;
        Ok(events)
    }

    /// Seals the events' personal values and appends them. Where the store hands back the last
    /// event's place in the global stream with the write (one event on PostgreSQL), so does
    /// this, and records `origin` in the same statement; otherwise `None`, origin not recorded.
    pub async fn append<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        origin: Option<&RequestOrigin>,
    ) -> Result<Option<Checkpoint>, PersistenceError> {
        if let (Some(group), [event]) = (&self.group_commit, events) {
            let mut event = event.clone();
            let key = self.personal.seal_event_keyed(&self.db, &mut event).await.map_err(storage)?;
            let checkpoint = group.append(event, origin.cloned(), key.clone()).await?;
            if let Some(key) = key {
                self.personal.stored(key);
            }
            return Ok(Some(checkpoint));
        }
        let mut sealed = events.to_vec();
        for event in &mut sealed {
            self.personal.seal_event(&self.db, event).await.map_err(storage)?;
        }
        delegate!(self, r => r.persist::<A>(&sealed, None).await)?;
        Ok(None)
    }

    /// The histories of several aggregates, `(aggregate type, aggregate id)`, in one read (one
    /// round trip), ordered by aggregate and sequence, personal values opened.
    pub async fn histories(&self, ids: &[(&str, &str)]) -> Result<Vec<SerializedEvent>, PersistenceError> {
        if let Some(reads) = &self.history_reads {
            let aggregates = ids.iter().map(|(t, i)| ((*t).to_owned(), (*i).to_owned())).collect();
            return self.opened(reads.read(aggregates).await?).await;
        }
        let mut sql = String::new();
        let mut args = Vec::with_capacity(ids.len() * 2);
        for (i, (aggregate_type, aggregate_id)) in ids.iter().enumerate() {
            if i > 0 {
                sql.push_str(" UNION ALL ");
            }
            sql.push_str(&format!(
                "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
                   FROM events WHERE aggregate_type = ${} AND aggregate_id = ${}",
                2 * i + 1,
                2 * i + 2
            ));
            args.push(crate::db::Arg::from(*aggregate_type));
            args.push(crate::db::Arg::from(*aggregate_id));
        }
        sql.push_str(" ORDER BY aggregate_type, aggregate_id, sequence");
        let rows: Vec<HistoryRow> = self.db.read_all(&sql, &args).await.map_err(|e| storage(e.into()))?;
        self.opened(rows.into_iter().map(SerializedEvent::from).collect()).await
    }
}

/// An event of an aggregate's history, as `histories` reads it.
#[derive(sqlx::FromRow)]
pub(super) struct HistoryRow {
    pub aggregate_type: String,
    pub aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    #[sqlx(json)]
    payload: Value,
    #[sqlx(json)]
    metadata: Value,
}

impl From<HistoryRow> for SerializedEvent {
    fn from(row: HistoryRow) -> Self {
        SerializedEvent {
            aggregate_id: row.aggregate_id,
            sequence: row.sequence as usize,
            aggregate_type: row.aggregate_type,
            event_type: row.event_type,
            event_version: row.event_version,
            payload: row.payload,
            metadata: row.metadata,
        }
    }
}

fn storage(err: PersonalError) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(err))
}
