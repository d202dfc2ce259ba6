//! A failed attempt's error as recorded in a task's events. Graph's messages are free text that
//! can quote personal data (an `IMMUTABLE_ID_CONFLICT` names the UPN it found), so the message
//! of a task about a person travels as that person's `Personal` value: sealed under their data
//! key, unreadable once they are forgotten. Events written before (schema 1.0) carry it as a
//! plain string, which still reads.

use serde::{Deserialize, Serialize};

use crate::domain::Personal;
use crate::domain::microsoft365::GraphFailure;

/// The text shown for a message whose subject was forgotten.
pub const FORGOTTEN_TEXT: &str = "(forgotten)";

/// Schema of the failure events since the message became personal data (1.0: a plain string).
pub const TASK_FAILURE_VERSION: &str = "1.1";

/// Free text from Microsoft: personal data of the task's person, or plain (a task about no
/// person, or an event from before 1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GraphText {
    Personal(Personal<String>),
    Plain(String),
}

impl GraphText {
    /// The text, unless its subject was forgotten (or it is still sealed).
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Personal(p) => p.value().map(String::as_str),
            Self::Plain(text) => Some(text),
        }
    }
}

/// `GraphFailure` with its message as `GraphText`; the same JSON shape as `GraphFailure` when
/// the message is plain, so 1.0 events decode as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    pub status: Option<u16>,
    pub code: String,
    pub message: GraphText,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
}

impl TaskFailure {
    /// `personal`: the task is about a person (its event names them as the subject).
    pub fn new(failure: GraphFailure, personal: bool) -> Self {
        let message = if personal { GraphText::Personal(Personal::new(failure.message)) } else { GraphText::Plain(failure.message) };
        Self {
            status: failure.status,
            code: failure.code,
            message,
            request_id: failure.request_id,
            client_request_id: failure.client_request_id,
        }
    }

    /// As shown in read models: the message, or `(forgotten)` with the flag set.
    pub fn shown(&self) -> ShownFailure {
        let text = self.message.text();
        ShownFailure {
            status: self.status,
            code: self.code.clone(),
            message: text.unwrap_or(FORGOTTEN_TEXT).to_owned(),
            request_id: self.request_id.clone(),
            client_request_id: self.client_request_id.clone(),
            personal_data_forgotten: text.is_none(),
        }
    }
}

/// A failure as the outbox read model keeps it (JSON in `outbox_tasks.last_error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownFailure {
    pub status: Option<u16>,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub personal_data_forgotten: bool,
}

/// A connection test's failure holds no personal data: shown as it is.
impl From<GraphFailure> for ShownFailure {
    fn from(f: GraphFailure) -> Self {
        Self {
            status: f.status,
            code: f.code,
            message: f.message,
            request_id: f.request_id,
            client_request_id: f.client_request_id,
            personal_data_forgotten: false,
        }
    }
}

impl ShownFailure {
    /// The person was forgotten: their message goes.
    pub fn forget(&mut self) {
        FORGOTTEN_TEXT.clone_into(&mut self.message);
        self.personal_data_forgotten = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn graph() -> GraphFailure {
        GraphFailure {
            status: Some(409),
            code: "IMMUTABLE_ID_CONFLICT".into(),
            message: "the Microsoft 365 user adele@contoso.com has another onPremisesImmutableId".into(),
            request_id: Some("r".into()),
            client_request_id: None,
        }
    }

    #[test]
    fn a_graph_failure_is_shown_as_it_is() {
        let shown = ShownFailure::from(graph());
        assert_eq!(shown, TaskFailure::new(graph(), false).shown());
        assert!(!shown.personal_data_forgotten);
        assert_eq!(serde_json::to_value(&shown).unwrap(), serde_json::to_value(graph()).unwrap(), "same JSON as the failure");
    }

    #[test]
    fn a_persons_message_is_personal_and_a_plain_1_0_message_still_reads() {
        let personal = TaskFailure::new(graph(), true);
        let json = serde_json::to_value(&personal).unwrap();
        assert_eq!(json["message"], json!({ "personal": graph().message }));
        assert_eq!(serde_json::from_value::<TaskFailure>(json).unwrap(), personal);

        // 1.0: exactly a GraphFailure.
        let old = serde_json::to_value(graph()).unwrap();
        let read: TaskFailure = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(read.message, GraphText::Plain(graph().message));
        assert_eq!(serde_json::to_value(&read).unwrap(), old, "a plain message serializes back unchanged");
        assert_eq!(TaskFailure::new(graph(), false), read);

        let mut forgotten = old;
        forgotten["message"] = json!({ "forgotten": true });
        let shown = serde_json::from_value::<TaskFailure>(forgotten).unwrap().shown();
        assert_eq!((shown.message.as_str(), shown.personal_data_forgotten), (FORGOTTEN_TEXT, true));
        let mut known = personal.shown();
        assert!(!known.personal_data_forgotten && known.message.contains("adele@"));
        known.forget();
        assert_eq!(known, shown);
    }
}
