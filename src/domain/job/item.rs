use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::domain::provisioning::GraphText;
use crate::domain::values::{Pseudonym, UserId};
use crate::domain::{DomainError, Personal};

/// What a job did for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ItemOutcome {
    /// Import: a Tessera user was created (and assigned). Export: the Microsoft 365 user was created.
    Created,
    /// Matched an existing user; nothing needed changing.
    Matched,
    /// Import: matched, and the missing onPremisesImmutableId was set.
    Updated,
    Failed,
}

impl ItemOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Matched => "MATCHED",
            Self::Updated => "UPDATED",
            Self::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobItemCommand {
    Record {
        job_id: uuid::Uuid,
        user_id: Option<UserId>,
        graph_object_id: Option<String>,
        upn: Personal<String>,
        /// The subject of the UPN when no Tessera user holds it.
        upn_pseudonym: Option<Pseudonym>,
        outcome: ItemOutcome,
        error_code: Option<String>,
        error_message: Option<GraphText>,
    },
}

/// 1.1: `error_message` became personal data (1.0 events carry it as a plain string).
pub const JOB_ITEM_VERSION: &str = "1.1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobItemEvent {
    JobItemRecorded {
        job_id: uuid::Uuid,
        user_id: Option<UserId>,
        graph_object_id: Option<String>,
        upn: Personal<String>,
        upn_pseudonym: Option<Pseudonym>,
        outcome: ItemOutcome,
        error_code: Option<String>,
        /// Graph's message, which can quote personal data: the item's subject's `Personal`
        /// value since 1.1, a plain string in 1.0 events (both read).
        error_message: Option<GraphText>,
    },
}

impl DomainEvent for JobItemEvent {
    fn event_type(&self) -> String {
        "JobItemRecorded".to_owned()
    }

    fn event_version(&self) -> String {
        JOB_ITEM_VERSION.to_owned()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct JobItem {
    pub outcome: Option<ItemOutcome>,
    pub error_code: Option<String>,
}

impl Aggregate for JobItem {
    const TYPE: &'static str = "JobItem";
    type Command = JobItemCommand;
    type Event = JobItemEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: JobItemCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        let JobItemCommand::Record { job_id, user_id, graph_object_id, upn, upn_pseudonym, outcome, error_code, error_message } = command;
        // A resumed job handles the user again: a success stands (the second pass only sees
        // what the first did: a created user now matches), and the same failure is not recorded
        // twice; a failure that later succeeds, or fails differently, is recorded again.
        match self.outcome {
            Some(ItemOutcome::Failed) if outcome == ItemOutcome::Failed && self.error_code == error_code => return Ok(()),
            Some(ItemOutcome::Failed) | None => {}
            Some(_) => return Ok(()),
        }
        let event =
            JobItemEvent::JobItemRecorded { job_id, user_id, graph_object_id, upn, upn_pseudonym, outcome, error_code, error_message };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: JobItemEvent) {
        let JobItemEvent::JobItemRecorded { outcome, error_code, .. } = event;
        self.outcome = Some(outcome);
        self.error_code = error_code;
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    fn record(outcome: ItemOutcome) -> JobItemCommand {
        JobItemCommand::Record {
            job_id: uuid::Uuid::nil(),
            user_id: None,
            graph_object_id: Some("g".into()),
            upn: Personal::new("a@contoso.com".into()),
            upn_pseudonym: None,
            outcome,
            error_code: None,
            error_message: None,
        }
    }

    fn recorded(outcome: ItemOutcome) -> JobItemEvent {
        JobItemEvent::JobItemRecorded {
            job_id: uuid::Uuid::nil(),
            user_id: None,
            graph_object_id: Some("g".into()),
            upn: Personal::new("a@contoso.com".into()),
            upn_pseudonym: None,
            outcome,
            error_code: None,
            error_message: None,
        }
    }

    #[test]
    fn a_success_stands_and_a_failure_can_be_superseded() {
        TestFramework::<JobItem>::with(())
            .given(vec![recorded(ItemOutcome::Created)])
            .when(record(ItemOutcome::Matched))
            .then_expect_events(vec![]);
        TestFramework::<JobItem>::with(())
            .given(vec![recorded(ItemOutcome::Failed)])
            .when(record(ItemOutcome::Failed))
            .then_expect_events(vec![]);
        TestFramework::<JobItem>::with(())
            .given(vec![recorded(ItemOutcome::Failed)])
            .when(record(ItemOutcome::Matched))
            .then_expect_events(vec![recorded(ItemOutcome::Matched)]);
    }
}
