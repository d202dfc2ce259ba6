use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::domain::values::UserId;
use crate::domain::{DomainError, EVENT_VERSION, Reason};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobKind {
    /// Microsoft 365 users of chosen (or the federated) domains into Tessera.
    ImportUsers,
    /// Every assigned Tessera user not yet provisioned into Microsoft 365.
    ExportUsers,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ImportUsers => "IMPORT_USERS",
            Self::ExportUsers => "EXPORT_USERS",
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobEnd {
    /// Every user was handled (some may have failed: see the report).
    Completed,
    /// The job itself could not go on (e.g. Microsoft 365 disconnected, listing users failed).
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobCommand {
    Start {
        job_id: uuid::Uuid,
        kind: JobKind,
        domains: Vec<String>,
    },
    CountTotal {
        job_id: uuid::Uuid,
        total: u64,
    },
    /// An export hands these users to the outbox (one PROVISION_USER task each).
    QueueExport {
        job_id: uuid::Uuid,
        user_ids: Vec<UserId>,
    },
    Finish {
        job_id: uuid::Uuid,
        end: JobEnd,
        error: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobEvent {
    JobStarted { job_id: uuid::Uuid, kind: JobKind, domains: Vec<String> },
    JobTotalCounted { job_id: uuid::Uuid, total: u64 },
    JobUsersQueued { job_id: uuid::Uuid, user_ids: Vec<UserId> },
    JobFinished { job_id: uuid::Uuid, end: JobEnd, error: Option<String> },
}

impl DomainEvent for JobEvent {
    fn event_type(&self) -> String {
        match self {
            Self::JobStarted { .. } => "JobStarted",
            Self::JobTotalCounted { .. } => "JobTotalCounted",
            Self::JobUsersQueued { .. } => "JobUsersQueued",
            Self::JobFinished { .. } => "JobFinished",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TenantJobs {
    /// The job running now, if any.
    pub running: Option<(uuid::Uuid, JobKind)>,
}

impl TenantJobs {
    fn require_running(&self, job_id: uuid::Uuid) -> Result<(), DomainError> {
        match self.running {
            Some((running, _)) if running == job_id => Ok(()),
            _ => Err(DomainError::precondition(Reason::JobNotRunning, format!("job {job_id} is not running"))),
        }
    }
}

impl Aggregate for TenantJobs {
    const TYPE: &'static str = "TenantJobs";
    type Command = JobCommand;
    type Event = JobEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: JobCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        let event = match command {
            JobCommand::Start { job_id, kind, domains } => {
                if let Some((running, running_kind)) = self.running {
                    if running == job_id {
                        return Ok(());
                    }
                    return Err(DomainError::Conflict(format!(
                        "job {running} ({}) is still running for this tenant; one import or export job runs at a time",
                        running_kind.as_str()
                    )));
                }
                JobEvent::JobStarted { job_id, kind, domains }
            }
            JobCommand::CountTotal { job_id, total } => {
                self.require_running(job_id)?;
                JobEvent::JobTotalCounted { job_id, total }
            }
            JobCommand::QueueExport { job_id, user_ids } => {
                self.require_running(job_id)?;
                if user_ids.is_empty() {
                    return Ok(());
                }
                JobEvent::JobUsersQueued { job_id, user_ids }
            }
            JobCommand::Finish { job_id, end, error } => {
                // A repeated finish (a resumed worker) changes nothing.
                if self.running.is_none_or(|(running, _)| running != job_id) {
                    return Ok(());
                }
                JobEvent::JobFinished { job_id, end, error }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: JobEvent) {
        match event {
            JobEvent::JobStarted { job_id, kind, .. } => self.running = Some((job_id, kind)),
            JobEvent::JobFinished { .. } => self.running = None,
            JobEvent::JobTotalCounted { .. } | JobEvent::JobUsersQueued { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    type Given = TestFramework<TenantJobs>;

    fn started(job_id: uuid::Uuid) -> JobEvent {
        JobEvent::JobStarted { job_id, kind: JobKind::ImportUsers, domains: vec!["contoso.com".into()] }
    }

    #[test]
    fn one_job_at_a_time() {
        let first = uuid::Uuid::now_v7();
        let second = uuid::Uuid::now_v7();
        Given::with(())
            .given_no_previous_events()
            .when(JobCommand::Start { job_id: first, kind: JobKind::ImportUsers, domains: vec!["contoso.com".into()] })
            .then_expect_events(vec![started(first)]);
        let result = Given::with(())
            .given(vec![started(first)])
            .when(JobCommand::Start { job_id: second, kind: JobKind::ExportUsers, domains: vec![] })
            .inspect_result();
        assert!(matches!(result, Err(DomainError::Conflict(_))), "{result:?}");
        let finished = JobEvent::JobFinished { job_id: first, end: JobEnd::Completed, error: None };
        Given::with(())
            .given(vec![started(first), finished.clone()])
            .when(JobCommand::Start { job_id: second, kind: JobKind::ExportUsers, domains: vec![] })
            .then_expect_events(vec![JobEvent::JobStarted { job_id: second, kind: JobKind::ExportUsers, domains: vec![] }]);
    }

    #[test]
    fn only_the_running_job_progresses_and_finishing_twice_is_a_no_op() {
        let job = uuid::Uuid::now_v7();
        let finished = JobEvent::JobFinished { job_id: job, end: JobEnd::Completed, error: None };
        Given::with(())
            .given(vec![started(job), finished.clone()])
            .when(JobCommand::Finish { job_id: job, end: JobEnd::Failed, error: None })
            .then_expect_events(vec![]);
        let result =
            Given::with(()).given(vec![started(job), finished]).when(JobCommand::CountTotal { job_id: job, total: 3 }).inspect_result();
        assert!(matches!(result, Err(DomainError::Precondition { reason: Reason::JobNotRunning, .. })));
        Given::with(())
            .given(vec![started(job)])
            .when(JobCommand::CountTotal { job_id: job, total: 3 })
            .then_expect_events(vec![JobEvent::JobTotalCounted { job_id: job, total: 3 }]);
    }
}
