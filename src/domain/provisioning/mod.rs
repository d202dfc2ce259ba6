//! A provisioning task of the outbox: one change to push to Microsoft 365. The outbox
//! projection derives tasks from events; this aggregate records what became of them, one event
//! per attempt, so the audit trail shows every call's outcome and the outbox table can be
//! rebuilt from events without redoing anything. Aggregate id: `{tenant}/{task id}`.

mod aggregate;
mod failure;
mod kind;

pub use aggregate::{AttemptOutcome, ProvisioningTask, TaskCommand, TaskEvent, TaskStatus};
pub use failure::{FORGOTTEN_TEXT, GraphText, ShownFailure, TASK_FAILURE_VERSION, TaskFailure};
pub use kind::TaskKind;
