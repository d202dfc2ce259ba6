//! Group commit of single-event appends on PostgreSQL. Concurrent commands' events go into the
//! store together: one multi-row INSERT (and its request origins) in one implicit transaction,
//! so a busy server pays one statement, one commit and one WAL flush for many commands instead
//! of one each. A lone command is never held back: up to `WRITERS` statements run at once, and
//! only appends arriving while they all run wait, to go together in the next statement.
//!
//! A new person's data key goes in with their first event (`NewKey`), only if the event does.
//!
//! Each event keeps its own optimistic-concurrency check: the statement skips (ON CONFLICT DO
//! NOTHING) an event whose (aggregate, sequence) is taken and reports it back as a lost race for
//! that command alone; the others commit. Only single-event appends come here, so a command is
//! never half written.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use serde_json::Value;

use super::batches::{BatchJob, Batches, Failure};
use super::personal::NewKey;
use super::{Checkpoint, RequestOrigin};
use crate::db::Quiet;

/// Statements in flight at once. More would let a busy server write every command alone again;
/// fewer would make a lone command wait for another's commit.
const WRITERS: usize = 2;
/// Events in one statement at most (the rest wait for the next).
const MAX_BATCH: usize = 256;

const APPEND: &str = "WITH batch AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[],
                             $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[],
                             $13::text[], $14::text[], $15::text[], $16::text[]) WITH ORDINALITY
            AS b(aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata,
                 origin_tenant, request_id, client_ip, user_agent, recorded_at,
                 key_tenant, key_id, key_subject, wrapped_key, n)
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
    ), keys AS (
        INSERT INTO personal_data_keys (tenant_id, key_id, subject, wrapped_key, created_at)
        SELECT b.key_tenant, b.key_id, b.key_subject, b.wrapped_key, now()
          FROM batch b JOIN appended a USING (aggregate_type, aggregate_id, sequence)
         WHERE b.key_id IS NOT NULL
    )
    SELECT aggregate_type, aggregate_id, sequence, txid::text::bigint AS txid, position FROM appended";

/// Appends single events, several commands' at a time (see the module's comment).
#[derive(Clone)]
pub(super) struct GroupCommit {
    batches: Batches<Appends>,
}

/// The batch job: one statement per batch.
struct Appends {
    connections: Quiet,
}

struct Pending {
    event: SerializedEvent,
    origin: Option<RequestOrigin>,
    key: Option<NewKey>,
}

/// An event's place in its aggregate's history: what the store's unique key holds.
type Key = (String, String, i64);

fn key_of(event: &SerializedEvent) -> Key {
    (event.aggregate_type.clone(), event.aggregate_id.clone(), event.sequence as i64)
}

impl GroupCommit {
    pub(super) fn new(connections: Quiet) -> Self {
        Self { batches: Batches::new(Appends { connections }, WRITERS, MAX_BATCH) }
    }

    /// Appends one (sealed) event, with the request's origin and the new data key that sealed
    /// it when given, and returns its place in the global stream; a lost race is
    /// `OptimisticLockError` (and stores neither).
    pub(super) async fn append(
        &self,
        event: SerializedEvent,
        origin: Option<RequestOrigin>,
        key: Option<NewKey>,
    ) -> Result<Checkpoint, PersistenceError> {
        match self.batches.submit(Pending { event, origin, key }).await {
            Some(result) => result.map_err(PersistenceError::from),
            None => Err(PersistenceError::UnknownError("the event store's writer stopped".into())),
        }
    }
}

impl BatchJob for Appends {
    type Item = Pending;
    type Output = Result<Checkpoint, Failure>;

    /// One statement for the batch. Two commands racing for the same place in one history lose
    /// to the first of them here already. Should the statement fail for another reason than a
    /// lost connection, each command is tried alone, so only the one at fault fails.
    async fn run(&self, batch: Vec<Pending>) -> Vec<Result<Checkpoint, Failure>> {
        let mut seen = HashSet::with_capacity(batch.len());
        let first: Vec<bool> = batch.iter().map(|pending| seen.insert(key_of(&pending.event))).collect();
        let unique: Vec<&Pending> = batch.iter().zip(&first).filter(|(_, first)| **first).map(|(pending, _)| pending).collect();
        let appended = match self.insert(&unique).await {
            Ok(appended) => appended,
            Err(err) if unique.len() <= 1 || matches!(Failure::of(&err), Failure::Connection(_)) => {
                let failure = Failure::of(&err);
                return first.iter().map(|first| Err(if *first { failure.clone() } else { Failure::Conflict })).collect();
            }
            Err(_) => {
                let mut outcomes = Vec::with_capacity(batch.len());
                for (pending, first) in batch.iter().zip(first) {
                    outcomes.push(if first { self.alone(pending).await } else { Err(Failure::Conflict) });
                }
                return outcomes;
            }
        };
        batch
            .iter()
            .zip(first)
            .map(|(pending, first)| match appended.get(&key_of(&pending.event)) {
                Some(checkpoint) if first => Ok(*checkpoint),
                _ => Err(Failure::Conflict),
            })
            .collect()
    }
}

impl Appends {
    async fn alone(&self, pending: &Pending) -> Result<Checkpoint, Failure> {
        match self.insert(&[pending]).await {
            Ok(appended) => appended.get(&key_of(&pending.event)).copied().ok_or(Failure::Conflict),
            Err(err) => Err(Failure::of(&err)),
        }
    }

    async fn insert(&self, batch: &[&Pending]) -> Result<HashMap<Key, Checkpoint>, sqlx::Error> {
        let n = batch.len();
        let (mut types, mut ids, mut sequences, mut event_types, mut versions) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut payloads, mut metadata): (Vec<&Value>, Vec<&Value>) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut tenants, mut requests, mut ips, mut agents) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let mut recorded: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(n);
        let (mut key_tenants, mut key_ids, mut subjects, mut wrapped) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for Pending { event, origin, key } in batch.iter().copied() {
            types.push(event.aggregate_type.as_str());
            ids.push(event.aggregate_id.as_str());
            sequences.push(event.sequence as i64);
            event_types.push(event.event_type.as_str());
            versions.push(event.event_version.as_str());
            payloads.push(&event.payload);
            metadata.push(&event.metadata);
            tenants.push(origin.as_ref().map(|o| o.tenant_id.as_str()));
            requests.push(origin.as_ref().map(|o| o.request_id.as_str()));
            ips.push(origin.as_ref().and_then(|o| o.client_ip.as_deref()));
            agents.push(origin.as_ref().and_then(|o| o.user_agent.as_deref()));
            recorded.push(origin.as_ref().map(|o| o.recorded_at));
            key_tenants.push(key.as_ref().map(|k| k.tenant.as_str()));
            key_ids.push(key.as_ref().map(|k| k.key_id.as_str()));
            subjects.push(key.as_ref().map(|k| k.subject.as_str()));
            wrapped.push(key.as_ref().map(|k| k.wrapped.as_str()));
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
            .bind(key_tenants)
            .bind(key_ids)
            .bind(subjects)
            .bind(wrapped)
            .fetch_all(&mut *conn)
            .await;
        Ok(conn
            .finish(rows)?
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
