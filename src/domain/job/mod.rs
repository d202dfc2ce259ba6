//! Import and export jobs. `TenantJobs` (aggregate id: the tenant id) is the write-side guard of
//! "one job per tenant at a time": a job starts only by an event of this aggregate, which refuses
//! a second start while one runs (optimistic concurrency settles races). Each user a job handles
//! gets a `JobItem` (`{tenant}/{job}/{key}`) with one outcome event, so the personal data in it
//! (the UPN) is sealed for that one person and a resumed job never counts a user twice.

mod item;
mod tenant_jobs;

pub use item::{ItemOutcome, JobItem, JobItemCommand, JobItemEvent};
pub use tenant_jobs::{JobCommand, JobEnd, JobEvent, JobKind, TenantJobs};

use sha2::{Digest as _, Sha256};

/// The provisioning task an export queues for a user: derived from the job and the user, so the
/// outbox projection (which makes it) and the job (which waits for it) agree without a lookup.
pub fn export_task_id(job_id: &uuid::Uuid, user_id: &str) -> String {
    let digest = Sha256::digest(format!("export|{job_id}|{user_id}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}
