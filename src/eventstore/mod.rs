//! The event store: postgres-es or sqlite-es behind one repository type, a command executor
//! that retries optimistic-concurrency conflicts, event metadata, and the global-order reader
//! that projections tail.

mod batches;
mod executor;
mod global;
mod group_commit;
mod history_reads;
mod metadata;
pub mod personal;
mod repo;
mod upcast;

pub use executor::{Committed, EventStore, Histories, Loaded, StoreError, Stored};
pub(crate) use global::tenant_in;
pub use global::{Checkpoint, Decoded, KnownMetadata, RawEvent, StoredEvent, read_after, read_raw_after};
pub use metadata::{EventMetadata, RequestOrigin};
pub use personal::{Openers, PersonalData, PersonalError, WrappedKeys};
pub use repo::Repo;
pub use upcast::{is_current, upcast_payload, upcast_ref, upcasters};
