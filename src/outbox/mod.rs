//! The outbox: workers that claim provisioning tasks (derived from events by the `outbox`
//! projection) and push them to Microsoft 365 through Microsoft Graph, recording every
//! attempt's outcome as an event.

pub(crate) mod backoff;
mod batching;
mod claim;
mod claim_batch;
pub(crate) mod execute;
pub mod graph;
mod groups;
mod password;
mod worker;

use std::time::Duration;

pub use worker::spawn;

/// Worker settings (README, configuration table: `TESSERA_OUTBOX_*`).
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// Concurrent workers in this process; 0 turns the outbox off here.
    pub workers: usize,
    /// How often an idle worker looks for due tasks.
    pub poll_interval: Duration,
    /// How long a claimed task stays a worker's before another may take it over.
    pub lease: Duration,
    /// Attempts before a task failing transiently is marked FAILED.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Claim up to 20 due tasks of a tenant at once and send their Graph requests together in
    /// JSON `$batch` requests (`TESSERA_GRAPH_BATCH`).
    pub batch: bool,
}
