use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use crate::domain::{DomainError, EVENT_VERSION};

#[derive(Debug, Clone, PartialEq)]
pub enum ClaimCommand {
    /// Take the value for `owner`; idempotent for the same owner.
    Claim { owner: String },
    /// Give the value up; only its owner can.
    Release { owner: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClaimEvent {
    Claimed { owner: String },
    Released { owner: String },
}

impl cqrs_es::DomainEvent for ClaimEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Claimed { .. } => "Claimed",
            Self::Released { .. } => "Released",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct UniqueClaim {
    pub owner: Option<String>,
}

impl Aggregate for UniqueClaim {
    const TYPE: &'static str = "UniqueClaim";
    type Command = ClaimCommand;
    type Event = ClaimEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: ClaimCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            ClaimCommand::Claim { owner } => match &self.owner {
                Some(current) if *current == owner => Ok(()),
                Some(_) => Err(DomainError::Conflict("the value is already taken".into())),
                None => {
                    sink.write(ClaimEvent::Claimed { owner }, self).await;
                    Ok(())
                }
            },
            ClaimCommand::Release { owner } => {
                if self.owner.as_ref() == Some(&owner) {
                    sink.write(ClaimEvent::Released { owner }, self).await;
                }
                Ok(())
            }
        }
    }

    fn apply(&mut self, event: ClaimEvent) {
        match event {
            ClaimEvent::Claimed { owner } => self.owner = Some(owner),
            ClaimEvent::Released { .. } => self.owner = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    type Given = TestFramework<UniqueClaim>;

    #[test]
    fn one_owner_at_a_time() {
        let claimed = ClaimEvent::Claimed { owner: "a".into() };
        Given::with(())
            .given_no_previous_events()
            .when(ClaimCommand::Claim { owner: "a".into() })
            .then_expect_events(vec![claimed.clone()]);
        Given::with(()).given(vec![claimed.clone()]).when(ClaimCommand::Claim { owner: "a".into() }).then_expect_events(vec![]);
        Given::with(())
            .given(vec![claimed.clone()])
            .when(ClaimCommand::Claim { owner: "b".into() })
            .then_expect_error(DomainError::Conflict("the value is already taken".into()));
        Given::with(()).given(vec![claimed.clone()]).when(ClaimCommand::Release { owner: "b".into() }).then_expect_events(vec![]);
        Given::with(())
            .given(vec![claimed, ClaimEvent::Released { owner: "a".into() }])
            .when(ClaimCommand::Claim { owner: "b".into() })
            .then_expect_events(vec![ClaimEvent::Claimed { owner: "b".into() }]);
    }
}
