use serde_json::Value;

use crate::db::{Backend, DbError, Tx};

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
}

impl StoredEvent {
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint { txid: self.txid, position: self.position }
    }

    pub fn tenant_id(&self) -> Option<&str> {
        self.metadata.get("tenant_id").and_then(Value::as_str)
    }

    pub fn occurred_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.metadata
            .get("occurred_at")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default()
    }
}

/// The next events after `after`, in commit order, only from transactions that can no longer
/// be overtaken: on PostgreSQL, those below the oldest transaction still in flight.
pub async fn read_after(tx: &mut Tx, backend: Backend, after: Checkpoint, limit: i64) -> Result<Vec<StoredEvent>, DbError> {
    match backend {
        Backend::Postgres => {
            tx.fetch_all(
                "SELECT txid::text::bigint AS txid, position, aggregate_type, aggregate_id, sequence, event_type, event_version,
                        payload, metadata
                   FROM events
                  WHERE (txid, position) > ($1::text::xid8, $2)
                    AND txid < pg_snapshot_xmin(pg_current_snapshot())
                  -- Qualified: a bare `txid` here names the output column (the bigint cast),
                  -- which no index orders, so each batch would sort the whole table.
                  ORDER BY events.txid, events.position
                  LIMIT $3",
                crate::args![after.txid.to_string(), after.position, limit],
            )
            .await
        }
        Backend::Sqlite => {
            tx.fetch_all(
                "SELECT 0 AS txid, position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
                   FROM events
                  WHERE position > $1
                  ORDER BY position
                  LIMIT $2",
                crate::args![after.position, limit],
            )
            .await
        }
    }
}

/// An event as read for a rebuild: payload and metadata as JSON text, parsed later (off the
/// async threads, several pages at once) by `decode`.
#[derive(Debug, Clone, sqlx::FromRow)]
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

impl RawEvent {
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint { txid: self.txid, position: self.position }
    }

    pub fn decode(self) -> Result<StoredEvent, serde_json::Error> {
        Ok(StoredEvent {
            payload: serde_json::from_str(&self.payload)?,
            metadata: serde_json::from_str(&self.metadata)?,
            txid: self.txid,
            position: self.position,
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            sequence: self.sequence,
            event_type: self.event_type,
            event_version: self.event_version,
        })
    }
}

/// `read_after` with the JSON left as text.
pub async fn read_raw_after(tx: &mut Tx, backend: Backend, after: Checkpoint, limit: i64) -> Result<Vec<RawEvent>, DbError> {
    match backend {
        Backend::Postgres => {
            tx.fetch_all(
                "SELECT txid::text::bigint AS txid, position, aggregate_type, aggregate_id, sequence, event_type, event_version,
                        payload::text AS payload, metadata::text AS metadata
                   FROM events
                  WHERE (txid, position) > ($1::text::xid8, $2)
                    AND txid < pg_snapshot_xmin(pg_current_snapshot())
                  ORDER BY events.txid, events.position
                  LIMIT $3",
                crate::args![after.txid.to_string(), after.position, limit],
            )
            .await
        }
        Backend::Sqlite => {
            tx.fetch_all(
                "SELECT 0 AS txid, position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
                   FROM events
                  WHERE position > $1
                  ORDER BY position
                  LIMIT $2",
                crate::args![after.position, limit],
            )
            .await
        }
    }
}
