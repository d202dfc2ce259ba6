//! Read models kept by reducers that tail the global event stream. Each projection owns its
//! tables and a checkpoint written in the same transaction as its rows, so a crash anywhere
//! loses nothing and replays nothing twice.

mod api_keys;
mod domains;
mod fold;
mod groups;
mod jobs;
pub mod microsoft365;
mod outbox;
mod outbox_memo;
mod pages;
mod rebuild;
mod runner;
mod sign_ins;
pub mod signing_keys;
pub mod tenants;
mod users;

use std::sync::Arc;

pub use fold::{Fold, FoldedTable};
pub use outbox::DEFAULT_GRACE_HOURS;
pub use rebuild::{Folded, RebuildMode, fold_into, rebuild};
pub use runner::{ProjectionError, Projector, ProjectorHandle, catch_up, catch_up_all, reset, reset_in, run_batch};

use crate::db::Tx;
use crate::eventstore::StoredEvent;

/// What read models show in place of a personal value whose subject was forgotten.
pub const FORGOTTEN: &str = "(forgotten)";

/// A reducer from events to the rows of the tables it owns.
#[async_trait::async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Stable name: the checkpoint's key and the CLI's `projections rebuild NAME`.
    fn name(&self) -> &'static str;
    /// The tables it owns, emptied by a rebuild.
    fn tables(&self) -> &'static [&'static str];
    /// Whether events of this aggregate type can change its tables; the runner skips the others.
    fn handles(&self, aggregate_type: &str) -> bool;
    /// Whether a command waits for this projection before answering (read-your-writes). The
    /// audit chain does not: no mutation's answer is read from it.
    fn read_your_writes(&self) -> bool {
        true
    }
    /// Whether it reads personal values: then it gets events with them opened (or, for
    /// forgotten subjects, marked forgotten); the others get the stored bytes.
    fn reads_personal_data(&self) -> bool {
        false
    }
    /// The same reducer over rows held in memory, for rebuilds and replay: a million events
    /// folded in memory and written once, instead of a statement or two per event. `None`
    /// (read models that see few events) applies them one by one with `apply`.
    fn fold(&self) -> Option<Box<dyn Fold>> {
        None
    }
    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError>;
    /// Called once the transaction that applied events to it has committed (caches of the
    /// read model learn of the change here).
    fn committed(&self) {}
    /// Applies a batch, in order, inside one transaction. One event at a time unless a
    /// projection carries state across the batch (the audit chain keeps its chain heads in
    /// memory rather than reading each back per event).
    async fn apply_batch(&self, tx: &mut Tx, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        for event in events {
            self.apply(tx, event).await?;
        }
        Ok(())
    }
}

/// Every projection this build knows.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(tenants::TenantsProjection),
        Arc::new(domains::DomainsProjection),
        Arc::new(users::UsersProjection),
        Arc::new(groups::GroupsProjection),
        Arc::new(api_keys::ApiKeysProjection),
        Arc::new(signing_keys::SigningKeysProjection),
        Arc::new(sign_ins::SignInsProjection),
        Arc::new(microsoft365::Microsoft365Projection),
        Arc::new(outbox::OutboxProjection),
        Arc::new(jobs::JobsProjection),
    ]
}

/// Decodes an event payload of the aggregate type the projection cares about, old shapes
/// upcast to the current one.
fn decode<E: serde::de::DeserializeOwned + Clone + 'static>(event: &StoredEvent) -> Result<E, ProjectionError> {
    decode_ref::<E>(event).map(std::borrow::Cow::into_owned)
}

/// As `decode`, borrowing the event the reader already parsed (see `StoredEvent::decoded`).
fn decode_ref<E: serde::de::DeserializeOwned + Clone + 'static>(event: &StoredEvent) -> Result<std::borrow::Cow<'_, E>, ProjectionError> {
    let failed = |message: String| ProjectionError::Decode { position: event.position, event_type: event.event_type.clone(), message };
    if let Some(decoded) = &event.decoded {
        return decoded
            .downcast_ref::<E>()
            .map(std::borrow::Cow::Borrowed)
            .ok_or_else(|| failed(format!("read as another type than {}", std::any::type_name::<E>())));
    }
    let payload = crate::eventstore::upcast_ref(&event.event_type, &event.event_version, &event.payload);
    E::deserialize(&*payload).map(std::borrow::Cow::Owned).map_err(|e| failed(e.to_string()))
}

/// The tenant an event belongs to, which every read row leads with.
fn tenant_of(event: &StoredEvent) -> Result<String, ProjectionError> {
    event.tenant_id().map(str::to_owned).ok_or_else(|| ProjectionError::Decode {
        position: event.position,
        event_type: event.event_type.clone(),
        message: "event metadata has no tenant_id".into(),
    })
}

/// The part of an aggregate id after `tenant/`.
fn local_id(event: &StoredEvent) -> &str {
    event.aggregate_id.split_once('/').map_or(event.aggregate_id.as_str(), |(_, id)| id)
}
