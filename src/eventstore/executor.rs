use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventUpcaster, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, DomainEvent, EventEnvelope};

use super::{Checkpoint, EventMetadata, PersonalData, Repo, RequestOrigin};
use crate::db::{Db, DbError};
use crate::domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("the {0} was changed concurrently too often; try again")]
    Conflict(&'static str),
    #[error("event store: {0}")]
    Storage(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn persistence(err: PersistenceError) -> StoreError {
    StoreError::Storage(err.to_string())
}

impl From<AggregateError<DomainError>> for StoreError {
    fn from(err: AggregateError<DomainError>) -> Self {
        match err {
            AggregateError::UserError(e) => Self::Domain(e),
            AggregateError::AggregateConflict => Self::Conflict("object"),
            other => Self::Storage(other.to_string()),
        }
    }
}

/// Where a command's last event landed in the global stream, so a caller can wait for the
/// projections to reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Committed {
    pub checkpoint: Checkpoint,
    pub events: usize,
    /// Whether the append recorded the request's origin too (see `execute_on`).
    pub origin_recorded: bool,
}

/// An aggregate the event store keeps (every one of the domain's: they decide with no services
/// and fail with `DomainError`).
pub trait Stored: Aggregate<Error = DomainError, Services = ()> {}

impl<A: Aggregate<Error = DomainError, Services = ()>> Stored for A {}

/// An aggregate's state as a command decides on it, and the sequence of its last event (the
/// next one must take the one after, or the append is refused as a lost race).
#[derive(Debug)]
pub struct Loaded<A> {
    pub state: A,
    pub sequence: usize,
}

impl<A: Default> Loaded<A> {
    /// An aggregate whose id was just made (a UUIDv7): nothing to load. Should the guess be wrong,
    /// the append is refused and the command decided again on the stored history.
    pub fn new_aggregate() -> Self {
        Self { state: A::default(), sequence: 0 }
    }
}

/// Aggregates' histories read together (`EventStore::load_many`), folded one by one.
pub struct Histories<'a> {
    events: Vec<SerializedEvent>,
    upcasters: &'a [Box<dyn EventUpcaster>],
}

impl Histories<'_> {
    /// The state of one of the aggregates read (its default when it has no events).
    pub fn take<A: Stored>(&mut self, aggregate_id: &str) -> Result<Loaded<A>, StoreError> {
        let mut loaded = Loaded { state: A::default(), sequence: 0 };
        let (mine, rest) = std::mem::take(&mut self.events)
            .into_iter()
            .partition(|e: &SerializedEvent| e.aggregate_type == A::TYPE && e.aggregate_id == aggregate_id);
        self.events = rest;
        for mut event in mine {
            for upcaster in self.upcasters {
                if upcaster.can_upcast(&event.event_type, &event.event_version) {
                    event = upcaster.upcast(event);
                }
            }
            let envelope = EventEnvelope::<A>::try_from(event).map_err(persistence)?;
            loaded.sequence = envelope.sequence;
            loaded.state.apply(envelope.payload);
        }
        Ok(loaded)
    }
}

/// The store: loads aggregates from their events and appends what commands decide, through
/// postgres-es or sqlite-es (`Repo`).
pub struct EventStore {
    db: Db,
    personal: PersonalData,
    repo: Repo,
    upcasters: Vec<Box<dyn EventUpcaster>>,
}

/// How often a command is re-decided on fresh state after losing an optimistic-concurrency race
/// before the caller gets `CONFLICT`.
const MAX_ATTEMPTS: usize = 8;

impl EventStore {
    pub fn new(db: Db, personal: PersonalData) -> Self {
        Self { repo: Repo::new(&db, personal.clone()), upcasters: super::upcasters(), db, personal }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The sealing and opening of personal values (shared with the repositories).
    pub fn personal(&self) -> &PersonalData {
        &self.personal
    }

    /// Loads the aggregate, lets it decide, appends its events with optimistic concurrency.
    /// On a lost race the command is decided again on the new state: the aggregate, not the
    /// caller, decides whether it still holds.
    pub async fn execute<A: Stored>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Committed, StoreError>
    where
        A::Command: Clone,
    {
        Ok(self.execute_on::<A>(aggregate_id, None, command, metadata, true, None).await?.0)
    }

    /// `execute`, deciding first on `loaded` when given (read together with other aggregates by
    /// `load_many`, or a new aggregate) instead of reading the history again. Returns the
    /// aggregate as the command left it too. Without `position`, the committed checkpoint is
    /// left at its default where finding it would cost a look-up (for callers that never wait
    /// for the projections). `origin` is recorded with the events where the store can do that in
    /// the same statement (`Committed::origin_recorded` says whether it did).
    pub async fn execute_on<A: Stored>(
        &self,
        aggregate_id: &str,
        mut loaded: Option<Loaded<A>>,
        command: A::Command,
        metadata: &EventMetadata,
        position: bool,
        origin: Option<&RequestOrigin>,
    ) -> Result<(Committed, Loaded<A>), StoreError>
    where
        A::Command: Clone,
    {
        for attempt in 1..=MAX_ATTEMPTS {
            let guessed = loaded.is_some();
            let Loaded { mut state, sequence } = match loaded.take() {
                Some(loaded) => loaded,
                None => self.load_many(&[(A::TYPE, aggregate_id)]).await?.take::<A>(aggregate_id)?,
            };
            let sink = EventSink::<A>::default();
            state.handle(command.clone(), &(), &sink).await.map_err(StoreError::Domain)?;
            let events = sink.collect().await;
            if events.is_empty() {
                return Ok((Committed::default(), Loaded { state, sequence }));
            }
            match self.append::<A>(aggregate_id, sequence, &events, metadata, origin).await {
                Ok(checkpoint) => {
                    let origin_recorded = origin.is_some() && checkpoint.is_some();
                    let count = events.len();
                    let checkpoint = match checkpoint {
                        Some(checkpoint) => checkpoint,
                        None if position => self.position_of(A::TYPE, aggregate_id, sequence + count).await?,
                        None => Checkpoint::default(),
                    };
                    events.into_iter().for_each(|event| state.apply(event));
                    return Ok((Committed { checkpoint, events: count, origin_recorded }, Loaded { state, sequence: sequence + count }));
                }
                Err(StoreError::Conflict(_)) if attempt < MAX_ATTEMPTS => {
                    // A stale guess is simply re-decided on the stored history; a race lost on
                    // stored state waits a little, so racing writers do not collide in lockstep.
                    if !guessed {
                        let pause = rand::random::<u64>() % (attempt as u64 * 3 + 1);
                        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Conflict(A::TYPE))
    }

    /// Records the events of a command on an aggregate that is new by construction (its id was
    /// just made, like a sign-in attempt's UUIDv7): no load of its (empty) history and no lookup
    /// of the global position, which only callers waiting for the projections need. Should the
    /// id exist after all, the store's unique (aggregate, sequence) key refuses the append and
    /// the command is decided on the stored history.
    pub async fn append_new<A: Stored>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<usize, StoreError>
    where
        A::Command: Clone,
    {
        let (committed, _) = self.execute_on::<A>(aggregate_id, Some(Loaded::new_aggregate()), command, metadata, false, None).await?;
        Ok(committed.events)
    }

    /// Several aggregates' histories, `(aggregate type, aggregate id)`, in one read: a command's
    /// own aggregate and those its rules consult (the tenant, say) for one round trip.
    pub async fn load_many(&self, ids: &[(&str, &str)]) -> Result<Histories<'_>, StoreError> {
        let events = self.repo.histories(ids).await.map_err(persistence)?;
        Ok(Histories { events, upcasters: &self.upcasters })
    }

    /// The current state of an aggregate, folded from its events (the write side's truth).
    pub async fn load<A: Stored>(&self, aggregate_id: &str) -> Result<A, StoreError> {
        Ok(self.load_many(&[(A::TYPE, aggregate_id)]).await?.take::<A>(aggregate_id)?.state)
    }

    /// Appends events decided on the aggregate at `sequence`, as cqrs-es would (same envelope,
    /// same serialization); a lost race is `Conflict`.
    async fn append<A: Stored>(
        &self,
        aggregate_id: &str,
        sequence: usize,
        events: &[A::Event],
        metadata: &EventMetadata,
        origin: Option<&RequestOrigin>,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let metadata = serde_json::to_value(metadata.to_map()).map_err(|e| StoreError::Storage(e.to_string()))?;
        let serialized = events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                Ok(SerializedEvent {
                    aggregate_id: aggregate_id.to_owned(),
                    sequence: sequence + i + 1,
                    aggregate_type: A::TYPE.to_owned(),
                    event_type: event.event_type(),
                    event_version: event.event_version(),
                    payload: serde_json::to_value(event).map_err(|e| StoreError::Storage(e.to_string()))?,
                    metadata: metadata.clone(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.repo.append::<A>(&serialized, origin).await.map_err(|e| match e {
            PersistenceError::OptimisticLockError => StoreError::Conflict(A::TYPE),
            other => persistence(other),
        })
    }

    async fn position_of(&self, aggregate_type: &str, aggregate_id: &str, sequence: usize) -> Result<Checkpoint, StoreError> {
        let sql = match self.db.backend() {
            crate::db::Backend::Postgres => {
                "SELECT txid::text::bigint AS txid, position FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3"
            }
            crate::db::Backend::Sqlite => {
                "SELECT 0 AS txid, position FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3"
            }
        };
        let checkpoint: Option<Checkpoint> =
            self.db.read_optional(sql, crate::args![aggregate_type, aggregate_id, sequence as i64]).await?;
        checkpoint.ok_or_else(|| StoreError::Storage("a committed event is missing from the store".into()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::group::Group;

    fn event(aggregate_id: &str, sequence: usize, event_type: &str, version: &str, payload: serde_json::Value) -> SerializedEvent {
        SerializedEvent {
            aggregate_id: aggregate_id.into(),
            sequence,
            aggregate_type: "Group".into(),
            event_type: event_type.into(),
            event_version: version.into(),
            payload,
            metadata: json!({}),
        }
    }

    #[test]
    fn histories_read_together_fold_each_aggregate_apart_and_upcast() {
        let (tenant, a, b) =
            ("01a20358-2767-7517-a3b8-6dd003b8923a", "01a20358-2767-7517-a3b8-6dd003b8923b", "01a20358-2767-7517-a3b8-6dd003b8923c");
        let created = |group: &str, field: &str| json!({ "GroupCreated": { "tenant_id": tenant, "group_id": group, field: "Sales", "description": null } });
        let upcasters = crate::eventstore::upcasters();
        let mut histories = Histories {
            events: vec![
                // A pre-1.0 creation (its name field was `display_name`) and a current one.
                event(&format!("{tenant}/{a}"), 1, "GroupCreated", "0.9", created(a, "display_name")),
                event(&format!("{tenant}/{a}"), 2, "GroupRenamed", "1.0", json!({ "GroupRenamed": { "name": "Sales EMEA" } })),
                event(&format!("{tenant}/{b}"), 1, "GroupCreated", "1.0", created(b, "name")),
                event(&format!("{tenant}/{b}"), 2, "GroupDeleted", "1.0", json!("GroupDeleted")),
            ],
            upcasters: &upcasters,
        };
        let first = histories.take::<Group>(&format!("{tenant}/{a}")).unwrap();
        assert_eq!((first.sequence, first.state.name.as_ref().map(|n| n.to_string())), (2, Some("Sales EMEA".to_owned())));
        assert!(first.state.exists());
        let second = histories.take::<Group>(&format!("{tenant}/{b}")).unwrap();
        assert_eq!(second.sequence, 2);
        assert!(!second.state.exists(), "deleted");
        let none = histories.take::<Group>(&format!("{tenant}/{a}")).unwrap();
        assert_eq!(none.sequence, 0, "each history is taken once");
        assert!(!none.state.exists());
    }
}
