use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventStore as _};

use super::{Checkpoint, EventMetadata, PersonalData, Repo};
use crate::db::{Db, DbError};
use crate::domain::DomainError;
use crate::domain::api_key::ApiKey;
use crate::domain::claim::UniqueClaim;
use crate::domain::custom_domain::CustomDomain;
use crate::domain::group::Group;
use crate::domain::job::{JobItem, TenantJobs};
use crate::domain::microsoft365::Microsoft365Connection;
use crate::domain::provisioning::ProvisioningTask;
use crate::domain::sign_in::SignIn;
use crate::domain::signing_key::SigningKeys;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;

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
}

/// Picks the per-aggregate store out of `EventStore`.
pub trait Stored: Aggregate<Error = DomainError, Services = ()> {
    fn store(stores: &EventStore) -> &PersistedEventStore<Repo, Self>;
}

macro_rules! stores {
    ($($field:ident: $agg:ty),* $(,)?) => {
        /// One persisted store per aggregate type, all on the same database.
        pub struct EventStore {
            db: Db,
            personal: PersonalData,
            $($field: PersistedEventStore<Repo, $agg>,)*
        }

        impl EventStore {
            pub fn new(db: Db, personal: PersonalData) -> Self {
                Self { $($field: PersistedEventStore::new_event_store(Repo::new(&db, personal.clone())).with_upcasters(super::upcasters()),)* db, personal }
            }
        }

        $(impl Stored for $agg {
            fn store(stores: &EventStore) -> &PersistedEventStore<Repo, Self> {
                &stores.$field
            }
        })*
    };
}

stores! {
    tenants: Tenant,
    domains: CustomDomain,
    users: User,
    groups: Group,
    claims: UniqueClaim,
    api_keys: ApiKey,
    signing_keys: SigningKeys,
    sign_ins: SignIn,
    microsoft365: Microsoft365Connection,
    provisioning_tasks: ProvisioningTask,
    tenant_jobs: TenantJobs,
    job_items: JobItem,
}

/// How often a command is re-decided on fresh state after losing an optimistic-concurrency race
/// before the caller gets `CONFLICT`.
const MAX_ATTEMPTS: usize = 8;

impl EventStore {
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
        let store = A::store(self);
        for attempt in 1..=MAX_ATTEMPTS {
            let mut context = store.load_aggregate(aggregate_id).await?;
            let sink = EventSink::<A>::default();
            context.aggregate().handle(command.clone(), &(), &sink).await.map_err(StoreError::Domain)?;
            let events = sink.collect().await;
            if events.is_empty() {
                return Ok(Committed::default());
            }
            match store.commit(events, context, metadata.to_map()).await {
                Ok(committed) => {
                    let sequence = committed.last().map_or(0, |e| e.sequence);
                    let checkpoint = self.position_of(A::TYPE, aggregate_id, sequence).await?;
                    return Ok(Committed { checkpoint, events: committed.len() });
                }
                Err(AggregateError::AggregateConflict) if attempt < MAX_ATTEMPTS => {
                    // A little jitter so racing writers do not collide in lockstep.
                    let pause = rand::random::<u64>() % (attempt as u64 * 3 + 1);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(AggregateError::AggregateConflict) => return Err(StoreError::Conflict(A::TYPE)),
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Conflict(A::TYPE))
    }

    /// Records the events of a command on an aggregate that is new by construction (its id was
    /// just made, like a sign-in attempt's UUIDv7): no load of its (empty) history and no lookup
    /// of the global position, which only callers waiting for the projections need. Three
    /// round trips fewer per sign-in. Should the id exist after all, the store's unique
    /// (aggregate, sequence) key refuses the append and the command goes through `execute`.
    pub async fn append_new<A: Stored>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<usize, StoreError>
    where
        A::Command: Clone,
    {
        let mut context = EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_owned(),
            aggregate: A::default(),
            current_sequence: 0,
            current_snapshot: None,
        };
        let sink = EventSink::<A>::default();
        context.aggregate.handle(command.clone(), &(), &sink).await.map_err(StoreError::Domain)?;
        let events = sink.collect().await;
        if events.is_empty() {
            return Ok(0);
        }
        match A::store(self).commit(events, context, metadata.to_map()).await {
            Ok(committed) => Ok(committed.len()),
            Err(AggregateError::AggregateConflict) => Ok(self.execute::<A>(aggregate_id, command, metadata).await?.events),
            Err(other) => Err(other.into()),
        }
    }

    /// The current state of an aggregate, folded from its events (the write side's truth).
    pub async fn load<A: Stored>(&self, aggregate_id: &str) -> Result<A, StoreError> {
        let mut context = A::store(self).load_aggregate(aggregate_id).await?;
        Ok(std::mem::take(context.aggregate()))
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
