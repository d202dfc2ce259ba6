use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::failure::{TASK_FAILURE_VERSION, TaskFailure};
use crate::domain::microsoft365::GraphFailure;
use crate::domain::{DomainError, EVENT_VERSION, Reason};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// Waiting for its turn, its next attempt, or a worker. A task has no event until its
    /// first attempt ends: the projection made it.
    #[default]
    Pending,
    Succeeded,
    /// Ended by a permanent error (or too many attempts); waits for `retryTask` or `cancelTask`.
    Failed,
    Cancelled,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Succeeded {
        graph_object_id: Option<String>,
        detail: String,
    },
    /// A transient failure: try again at `retry_at`.
    Retrying {
        error: GraphFailure,
        retry_at: DateTime<Utc>,
    },
    Failed {
        error: GraphFailure,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum TaskCommand {
    /// `kind` and `target` describe the task for the audit trail (`PROVISION_USER`, `user:{id}`);
    /// `user_id` is the person the task is about (its user, or the member of a group task),
    /// whose personal data Graph's error message may quote.
    RecordAttempt {
        kind: String,
        target: String,
        user_id: Option<String>,
        outcome: AttemptOutcome,
    },
    Retry,
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TaskEvent {
    /// 1.1: `user_id` names the person whose data key seals the message (the event's subject);
    /// the message is then `Personal`. 1.0 had neither (see `TaskFailure`).
    ProvisioningAttemptFailed {
        kind: String,
        target: String,
        attempt: u32,
        error: TaskFailure,
        retry_at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    ProvisioningTaskSucceeded {
        kind: String,
        target: String,
        attempt: u32,
        graph_object_id: Option<String>,
        detail: String,
    },
    ProvisioningTaskFailed {
        kind: String,
        target: String,
        attempt: u32,
        error: TaskFailure,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    ProvisioningTaskRetried,
    ProvisioningTaskCancelled,
}

impl DomainEvent for TaskEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ProvisioningAttemptFailed { .. } => "ProvisioningAttemptFailed",
            Self::ProvisioningTaskSucceeded { .. } => "ProvisioningTaskSucceeded",
            Self::ProvisioningTaskFailed { .. } => "ProvisioningTaskFailed",
            Self::ProvisioningTaskRetried => "ProvisioningTaskRetried",
            Self::ProvisioningTaskCancelled => "ProvisioningTaskCancelled",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::ProvisioningAttemptFailed { .. } | Self::ProvisioningTaskFailed { .. } => TASK_FAILURE_VERSION,
            _ => EVENT_VERSION,
        }
        .to_owned()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProvisioningTask {
    pub status: TaskStatus,
    pub attempts: u32,
}

impl Aggregate for ProvisioningTask {
    const TYPE: &'static str = "ProvisioningTask";
    type Command = TaskCommand;
    type Event = TaskEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: TaskCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        let event = match command {
            TaskCommand::RecordAttempt { kind, target, user_id, outcome } => {
                // A late outcome of a task that ended meanwhile (its lease ran out and another
                // worker finished it) changes nothing. One of a cancelled task is still a fact
                // worth recording: the call was made.
                if matches!(self.status, TaskStatus::Succeeded | TaskStatus::Failed) {
                    return Ok(());
                }
                let attempt = self.attempts + 1;
                let personal = user_id.is_some();
                match outcome {
                    AttemptOutcome::Succeeded { graph_object_id, detail } => {
                        TaskEvent::ProvisioningTaskSucceeded { kind, target, attempt, graph_object_id, detail }
                    }
                    AttemptOutcome::Retrying { error, retry_at } => TaskEvent::ProvisioningAttemptFailed {
                        kind,
                        target,
                        attempt,
                        error: TaskFailure::new(error, personal),
                        retry_at,
                        user_id,
                    },
                    AttemptOutcome::Failed { error } => {
                        TaskEvent::ProvisioningTaskFailed { kind, target, attempt, error: TaskFailure::new(error, personal), user_id }
                    }
                }
            }
            TaskCommand::Retry => {
                if self.status != TaskStatus::Failed {
                    return Err(DomainError::precondition(Reason::TaskNotFailed, "only a FAILED task can be retried"));
                }
                TaskEvent::ProvisioningTaskRetried
            }
            TaskCommand::Cancel => match self.status {
                TaskStatus::Cancelled => return Ok(()),
                TaskStatus::Succeeded => {
                    return Err(DomainError::precondition(Reason::TaskSucceeded, "the task has already succeeded"));
                }
                TaskStatus::Pending | TaskStatus::Failed => TaskEvent::ProvisioningTaskCancelled,
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: TaskEvent) {
        match event {
            TaskEvent::ProvisioningAttemptFailed { attempt, .. } => self.attempts = attempt,
            TaskEvent::ProvisioningTaskSucceeded { attempt, .. } => {
                self.attempts = attempt;
                self.status = TaskStatus::Succeeded;
            }
            TaskEvent::ProvisioningTaskFailed { attempt, .. } => {
                self.attempts = attempt;
                if self.status != TaskStatus::Cancelled {
                    self.status = TaskStatus::Failed;
                }
            }
            TaskEvent::ProvisioningTaskRetried => self.status = TaskStatus::Pending,
            TaskEvent::ProvisioningTaskCancelled => self.status = TaskStatus::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    type Given = TestFramework<ProvisioningTask>;

    fn failure() -> GraphFailure {
        GraphFailure {
            status: Some(400),
            code: "Request_BadRequest".into(),
            message: "bad".into(),
            request_id: Some("r".into()),
            client_request_id: None,
        }
    }

    fn attempt(outcome: AttemptOutcome) -> TaskCommand {
        TaskCommand::RecordAttempt { kind: "PROVISION_USER".into(), target: "user:1".into(), user_id: Some("1".into()), outcome }
    }

    fn failed(attempt: u32) -> TaskEvent {
        TaskEvent::ProvisioningTaskFailed {
            kind: "PROVISION_USER".into(),
            target: "user:1".into(),
            attempt,
            error: TaskFailure::new(failure(), true),
            user_id: Some("1".into()),
        }
    }

    #[test]
    fn attempts_are_numbered_and_a_finished_task_ignores_late_outcomes() {
        let retry_at = chrono::Utc::now();
        Given::with(())
            .given(vec![TaskEvent::ProvisioningAttemptFailed {
                kind: "PROVISION_USER".into(),
                target: "user:1".into(),
                attempt: 1,
                error: TaskFailure::new(failure(), true),
                retry_at,
                user_id: Some("1".into()),
            }])
            .when(attempt(AttemptOutcome::Failed { error: failure() }))
            .then_expect_events(vec![failed(2)]);
        Given::with(())
            .given(vec![failed(1)])
            .when(attempt(AttemptOutcome::Succeeded { graph_object_id: None, detail: String::new() }))
            .then_expect_events(vec![]);
    }

    #[test]
    fn only_failed_tasks_are_retried_and_succeeded_ones_not_cancelled() {
        Given::with(()).given(vec![failed(1)]).when(TaskCommand::Retry).then_expect_events(vec![TaskEvent::ProvisioningTaskRetried]);
        let result = Given::with(()).given_no_previous_events().when(TaskCommand::Retry).inspect_result();
        assert!(matches!(result, Err(DomainError::Precondition { reason: Reason::TaskNotFailed, .. })));
        Given::with(()).given(vec![failed(1)]).when(TaskCommand::Cancel).then_expect_events(vec![TaskEvent::ProvisioningTaskCancelled]);
        let done = TaskEvent::ProvisioningTaskSucceeded {
            kind: "PROVISION_USER".into(),
            target: "user:1".into(),
            attempt: 1,
            graph_object_id: None,
            detail: String::new(),
        };
        let result = Given::with(()).given(vec![done]).when(TaskCommand::Cancel).inspect_result();
        assert!(matches!(result, Err(DomainError::Precondition { reason: Reason::TaskSucceeded, .. })));
    }
}
