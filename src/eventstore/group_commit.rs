//! Group commit of single-event appends on PostgreSQL. Concurrent commands' events go into the
//! store together: one multi-row INSERT (and its request origins) in one implicit transaction,
//! so a busy server pays one statement, one commit and one WAL flush for many commands instead
//! of one each. A lone command is never held back: up to `WRITERS` statements run at once, and
//! only appends arriving while they all run wait, to go together in the next statement.
//!
//! Each event keeps its own optimistic-concurrency check: the statement skips (ON CONFLICT DO
//! NOTHING) an event whose (aggregate, sequence) is taken and reports it back as a lost race for
//! that command alone; the others commit. Only single-event appends come here, so a command is
//! never half written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use serde_json::Value;
use tokio::sync::oneshot;

use super::{Checkpoint, RequestOrigin};
use crate::db::Quiet;

/// Statements in flight at once. More would let a busy server write every command alone again;
/// fewer would make a lone command wait for another's commit.
const WRITERS: usize = 2;
/// Events in one statement at most (the rest wait for the next).
const MAX_BATCH: usize = 256;

const APPEND: &str = "WITH batch AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[],
                             $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[]) WITH ORDINALITY
            AS b(aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata,
                 origin_tenant, request_id, client_ip, user_agent, recorded_at, n)
    ), appended AS (
        INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
        SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload::json, metadata::json
          FROM batch ORDER BY n
        ON CONFLICT (aggregate_type, aggregate_id, sequence) DO NOTHING
        RETURNING aggregate_type, aggregate_id, sequence, txid, position
    ), origins AS (
        INSERT INTO request_origins (tenant_id, request_id, client_ip, user_agent, recorded_at)
        SELECT b.origin_tenant, b.request_id, b.client_ip, b.user_agent, b.recorded_at
          FROM batch b JOIN appended a USING (aggregate_type, aggregate_id, sequence)
         WHERE b.origin_tenant IS NOT NULL
        ON CONFLICT (tenant_id, request_id) DO NOTHING
    )
    SELECT aggregate_type, aggregate_id, sequence, txid::text::bigint AS txid, position FROM appended";

/// Appends single events, several commands' at a time (see the module's comment).
#[derive(Clone)]
pub(super) struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    connections: Quiet,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    queue: Vec<Pending>,
    writers: usize,
}

struct Pending {
    event: SerializedEvent,
    origin: Option<RequestOrigin>,
    reply: oneshot::Sender<Result<Checkpoint, Failure>>,
}

/// Why an append failed, for each command of a statement (`PersistenceError` is not `Clone`).
#[derive(Debug, Clone)]
enum Failure {
    Conflict,
    Connection(String),
    Other(String),
}

impl From<Failure> for PersistenceError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Conflict => PersistenceError::OptimisticLockError,
            Failure::Connection(message) => PersistenceError::ConnectionError(message.into()),
            Failure::Other(message) => PersistenceError::UnknownError(message.into()),
        }
    }
}

impl Failure {
    fn of(err: &sqlx::Error) -> Self {
        match err {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                Self::Connection(err.to_string())
            }
            _ => Self::Other(err.to_string()),
        }
    }
}

/// An event's place in its aggregate's history: what the store's unique key holds.
type Key = (String, String, i64);

fn key_of(event: &SerializedEvent) -> Key {
    (event.aggregate_type.clone(), event.aggregate_id.clone(), event.sequence as i64)
}

impl GroupCommit {
    pub(super) fn new(connections: Quiet) -> Self {
        Self { inner: Arc::new(Inner { connections, state: Mutex::new(State::default()) }) }
    }

    /// Appends one (sealed) event, with the request's origin when given, and returns its place
    /// in the global stream; a lost race is `OptimisticLockError`.
    pub(super) async fn append(&self, event: SerializedEvent, origin: Option<RequestOrigin>) -> Result<Checkpoint, PersistenceError> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut state = self.inner.state.lock().expect("group commit state");
            state.queue.push(Pending { event, origin, reply });
            (state.writers < WRITERS).then(|| {
                state.writers += 1;
                take_batch(&mut state.queue)
            })
        };
        if let Some(batch) = lead {
            // Its own task: the statement and every waiting command's answer must not depend on
            // the request that happened to start it staying alive.
            tokio::spawn(self.inner.clone().write_while_queued(batch));
        }
        match answer.await {
            Ok(result) => result.map_err(PersistenceError::from),
            Err(_) => Err(PersistenceError::UnknownError("the event store's writer stopped".into())),
        }
    }
}

fn take_batch(queue: &mut Vec<Pending>) -> Vec<Pending> {
    let rest = queue.split_off(queue.len().min(MAX_BATCH));
    std::mem::replace(queue, rest)
}

/// Gives a writer slot back however its task ends.
struct Slot(Arc<Inner>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.state.lock() {
            state.writers -= 1;
        }
    }
}

impl Inner {
    /// Writes the batch, then whatever queued meanwhile, until nothing waits.
    async fn write_while_queued(self: Arc<Self>, mut batch: Vec<Pending>) {
        let slot = Slot(self.clone());
        loop {
            self.write(batch).await;
            let mut state = slot.0.state.lock().expect("group commit state");
            if state.queue.is_empty() {
                return;
            }
            batch = take_batch(&mut state.queue);
        }
    }

    /// One statement for the batch. Two commands racing for the same place in one history lose
    /// to the first of them here already. Should the statement fail for another reason than a
    /// lost connection, each command is tried alone, so only the one at fault fails.
    async fn write(&self, batch: Vec<Pending>) {
        let mut seen = std::collections::HashSet::with_capacity(batch.len());
        let mut batch: Vec<Pending> = batch
            .into_iter()
            .filter_map(|pending| {
                if seen.insert(key_of(&pending.event)) {
                    Some(pending)
                } else {
                    let _ = pending.reply.send(Err(Failure::Conflict));
                    None
                }
            })
            .collect();
        match self.insert(&batch).await {
            Ok(mut appended) => {
                for pending in batch {
                    let result = appended.remove(&key_of(&pending.event)).ok_or(Failure::Conflict);
                    let _ = pending.reply.send(result);
                }
            }
            Err(err) if batch.len() == 1 || matches!(Failure::of(&err), Failure::Connection(_)) => {
                let failure = Failure::of(&err);
                batch.into_iter().for_each(|pending| drop(pending.reply.send(Err(failure.clone()))));
            }
            Err(_) => {
                for pending in batch.drain(..) {
                    Box::pin(self.write(vec![pending])).await;
                }
            }
        }
    }

    async fn insert(&self, batch: &[Pending]) -> Result<HashMap<Key, Checkpoint>, sqlx::Error> {
        let n = batch.len();
        let (mut types, mut ids, mut sequences, mut event_types, mut versions) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut payloads, mut metadata): (Vec<Value>, Vec<Value>) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut tenants, mut requests, mut ips, mut agents) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let mut recorded: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(n);
        for Pending { event, origin, .. } in batch {
            types.push(event.aggregate_type.as_str());
            ids.push(event.aggregate_id.as_str());
            sequences.push(event.sequence as i64);
            event_types.push(event.event_type.as_str());
            versions.push(event.event_version.as_str());
            payloads.push(event.payload.clone());
            metadata.push(event.metadata.clone());
            tenants.push(origin.as_ref().map(|o| o.tenant_id.as_str()));
            requests.push(origin.as_ref().map(|o| o.request_id.as_str()));
            ips.push(origin.as_ref().and_then(|o| o.client_ip.as_deref()));
            agents.push(origin.as_ref().and_then(|o| o.user_agent.as_deref()));
            recorded.push(origin.as_ref().map(|o| o.recorded_at));
        }
        let mut conn = self.connections.lease().await?;
        let rows = sqlx::query_as::<_, AppendedRow>(APPEND)
            .bind(types)
            .bind(ids)
            .bind(sequences)
            .bind(event_types)
            .bind(versions)
            .bind(payloads)
            .bind(metadata)
            .bind(tenants)
            .bind(requests)
            .bind(ips)
            .bind(agents)
            .bind(recorded)
            .fetch_all(&mut *conn)
            .await;
        conn.finish(&rows);
        Ok(rows?
            .into_iter()
            .map(|row| ((row.aggregate_type, row.aggregate_id, row.sequence), Checkpoint { txid: row.txid, position: row.position }))
            .collect())
    }
}

#[derive(sqlx::FromRow)]
struct AppendedRow {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    txid: i64,
    position: i64,
}
