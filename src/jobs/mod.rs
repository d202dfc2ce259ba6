//! The job worker: claims a RUNNING import or export job (the `jobs` read model, derived from
//! `JobStarted` events), runs it, and records each user's outcome and the job's end as events.
//!
//! Restarts: a job is a worker's only while its lease lasts, renewed as the job goes. When the
//! process stops mid-job, the job stays RUNNING; once the lease runs out a worker (of this or
//! another instance) claims it and runs it again from the start. Every step repeats safely: an
//! import matches users by UPN again (those it created now match, anchors it set now agree), an
//! export follows the provisioning tasks it queued (their ids derive from job and user) and
//! queues only users still unprovisioned; a user's outcome is recorded once (`JobItem`).

mod claim;
mod export;
mod import;
mod worker;

use std::time::Duration;

pub use worker::spawn;

/// Job settings (README, configuration table: `TESSERA_JOBS_*`, `TESSERA_IMPORT_PAGE_SIZE`).
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub workers: usize,
    pub poll_interval: Duration,
    pub lease: Duration,
    /// `$top` of an import's user listing.
    pub page_size: u32,
    /// Send an import's anchor updates in `$batch` requests.
    pub batch: bool,
    /// Attempts of one Graph request of a job (throttled or unavailable) before the job gives up.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}
