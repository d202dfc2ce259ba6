use serde_json::Value;

use crate::db::{Arg, Backend, DbError, Tx};

/// A place in the global stream. On PostgreSQL events are ordered by (commit transaction id,
/// position): a checkpoint on position alone would skip an event whose transaction took its
/// position early but committed late. On SQLite, with one writer, txid is always 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, sqlx::FromRow)]
pub struct Checkpoint {
    pub txid: i64,
    pub position: i64,
}

/// An event as read from the global stream.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    pub txid: i64,
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    #[sqlx(json)]
    pub payload: Value,
    #[sqlx(json)]
    pub metadata: Value,
    /// The payload already parsed into its event type, when the reader did that (a rebuild's
    /// user events: see `projections::pages`); `payload` is then `Null`. Projections get it
    /// through `projections::decode`.
    #[sqlx(skip)]
    pub decoded: Option<Decoded>,
    /// The metadata projections read, already parsed, when the reader did that (a rebuild's
    /// events: `metadata` is then `Null`). Read through `tenant_id`, `occurred_at`, `actor`.
    #[sqlx(skip)]
    pub known: Option<KnownMetadata>,
}

/// The metadata fields a projection may read, parsed once by a rebuild's decoding threads
/// rather than looked up in a JSON map (and a time parsed) by every fold, for every event.
#[derive(Debug, Clone)]
pub struct KnownMetadata {
    tenant_id: Option<String>,
    occurred_at: chrono::DateTime<chrono::Utc>,
    actor: Option<String>,
}

/// The tenant an event's metadata names (`known` when a reader parsed it, else the JSON; a
/// `SerializedEvent` about to be stored has only the JSON).
pub fn tenant_in<'a>(known: Option<&'a KnownMetadata>, metadata: &'a Value) -> Option<&'a str> {
    match known {
        Some(known) => known.tenant_id.as_deref(),
        None => metadata.get("tenant_id").and_then(Value::as_str),
    }
}

fn parse_time(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&chrono::Utc)).unwrap_or_default()
}

/// A payload parsed into its (current) event type.
pub type Decoded = std::sync::Arc<dyn std::any::Any + Send + Sync>;

impl StoredEvent {
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint { txid: self.txid, position: self.position }
    }

    pub fn tenant_id(&self) -> Option<&str> {
        tenant_in(self.known.as_ref(), &self.metadata)
    }

    pub fn occurred_at(&self) -> chrono::DateTime<chrono::Utc> {
        match &self.known {
            Some(known) => known.occurred_at,
            None => self.metadata.get("occurred_at").and_then(Value::as_str).map(parse_time).unwrap_or_default(),
        }
    }

    /// Who caused the event (`api_key:…`, `system:…`, …), when recorded.
    pub fn actor(&self) -> Option<&str> {
        match &self.known {
            Some(known) => known.actor.as_deref(),
            None => self.metadata.get("actor").and_then(Value::as_str),
        }
    }
}

/// The next events after `after`, in commit order, only from transactions that can no longer
/// be overtaken: on PostgreSQL, those below the oldest transaction still in flight.
pub async fn read_after(tx: &mut Tx, backend: Backend, after: Checkpoint, limit: i64) -> Result<Vec<StoredEvent>, DbError> {
    // Called on the projector's connections, which plan it generically (see `Db::connect`).
    tx.fetch_all(&page_sql(backend, "payload, metadata"), &page_args(backend, after, limit)).await
}

/// The page query of `read_after` and `read_raw_after`, selecting `json` for the two JSON
/// columns.
fn page_sql(backend: Backend, json: &str) -> String {
    match backend {
        Backend::Postgres => format!(
            "SELECT txid::text::bigint AS txid, position, aggregate_type, aggregate_id, sequence, event_type, event_version, {json}
               FROM events
              WHERE (txid, position) > ($1::text::xid8, $2)
                AND txid < pg_snapshot_xmin(pg_current_snapshot())
              -- Qualified: a bare `txid` here names the output column (the bigint cast),
              -- which no index orders, so each batch would sort the whole table.
              ORDER BY events.txid, events.position
              LIMIT $3"
        ),
        Backend::Sqlite => format!(
            "SELECT 0 AS txid, position, aggregate_type, aggregate_id, sequence, event_type, event_version, {json}
               FROM events
              WHERE position > $1
              ORDER BY position
              LIMIT $2"
        ),
    }
}

fn page_args(backend: Backend, after: Checkpoint, limit: i64) -> Vec<Arg> {
    match backend {
        Backend::Postgres => vec![Arg::from(after.txid.to_string()), Arg::from(after.position), Arg::from(limit)],
        Backend::Sqlite => vec![Arg::from(after.position), Arg::from(limit)],
    }
}

/// An event as read for a rebuild: payload and metadata as JSON text, parsed later (off the
/// async threads, several pages at once) by `decode`.
#[derive(Debug, Clone)]
pub struct RawEvent {
    pub txid: i64,
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
}

/// Columns by position, in `page_sql`'s order: looking each up by name, for every row, was 3 %
/// of a rebuild's CPU.
impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for RawEvent
where
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            txid: row.try_get(0)?,
            position: row.try_get(1)?,
            aggregate_type: row.try_get(2)?,
            aggregate_id: row.try_get(3)?,
            sequence: row.try_get(4)?,
            event_type: row.try_get(5)?,
            event_version: row.try_get(6)?,
            payload: row.try_get(7)?,
            metadata: row.try_get(8)?,
        })
    }
}

impl RawEvent {
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint { txid: self.txid, position: self.position }
    }

    /// The event for the read-model folds. Its metadata keeps only what projections read
    /// (tenant, time, actor): the rest (correlation, causation, request, role) would cost a
    /// dozen allocations per event for nothing.
    pub fn decode(self) -> Result<StoredEvent, Undecodable> {
        match serde_json::from_str(&self.payload) {
            Ok(payload) => self.into_stored(payload, None),
            Err(error) => Err(self.undecodable(error)),
        }
    }

    /// As `decode`, with the payload parsed straight into its event type `E` (which must be
    /// its current shape: see `upcast::is_current`) and kept in `decoded` (`payload` is then
    /// `Null`); sealed values are opened by `opener` as they are parsed, and stay sealed
    /// without one.
    pub fn decode_as<E: serde::de::DeserializeOwned + Send + Sync + 'static>(
        self,
        opener: Option<crate::domain::personal::Opener>,
    ) -> Result<StoredEvent, Undecodable> {
        let parsed: Result<E, _> = match opener {
            Some(opener) => crate::domain::personal::opening(opener, || serde_json::from_str(&self.payload)),
            None => serde_json::from_str(&self.payload),
        };
        match parsed {
            Ok(event) => self.into_stored(Value::Null, Some(std::sync::Arc::new(event))),
            Err(error) => Err(self.undecodable(error)),
        }
    }

    fn undecodable(self, error: serde_json::Error) -> Undecodable {
        Undecodable { position: self.position, event_type: self.event_type, error }
    }

    fn into_stored(self, payload: Value, decoded: Option<Decoded>) -> Result<StoredEvent, Undecodable> {
        let FoldMetadata { tenant_id, occurred_at, actor } = match serde_json::from_str(&self.metadata) {
            Ok(metadata) => metadata,
            Err(error) => return Err(self.undecodable(error)),
        };
        let occurred_at = occurred_at.as_deref().map(parse_time).unwrap_or_default();
        Ok(StoredEvent {
            payload,
            metadata: Value::Null,
            known: Some(KnownMetadata { tenant_id, occurred_at, actor }),
            txid: self.txid,
            position: self.position,
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            sequence: self.sequence,
            event_type: self.event_type,
            event_version: self.event_version,
            decoded,
        })
    }
}

/// A row whose payload or metadata did not parse (the event type is kept for the error, so
/// that no row pays for a copy of it).
#[derive(Debug)]
pub struct Undecodable {
    pub position: i64,
    pub event_type: String,
    pub error: serde_json::Error,
}

/// The metadata fields a projection may read (`StoredEvent::tenant_id`, `occurred_at`,
/// `actor`); serde skips the others without allocating them.
#[derive(serde::Deserialize)]
struct FoldMetadata {
    tenant_id: Option<String>,
    occurred_at: Option<String>,
    actor: Option<String>,
}

/// `read_after` with the JSON left as text, for a rebuild's reader, in a transaction of its
/// own. On PostgreSQL that transaction is switched to generic plans, as the projector's
/// connections are (see `Db::connect`): a custom plan sorts the whole events table per page.
pub async fn read_raw_after(tx: &mut Tx, backend: Backend, after: Checkpoint, limit: i64) -> Result<Vec<RawEvent>, DbError> {
    let json = match backend {
        Backend::Postgres => {
            tx.execute("SET LOCAL plan_cache_mode = force_generic_plan", &[]).await?;
            "payload::text AS payload, metadata::text AS metadata"
        }
        Backend::Sqlite => "payload, metadata",
    };
    tx.fetch_all(&page_sql(backend, json), &page_args(backend, after, limit)).await
}
