//! The GraphQL face of forgetting a person (docs/personal-data.md).

use async_graphql::{ID, SimpleObject};

use crate::app::ForgetReport;

/// What forgetting a user destroyed (or, with `preview`, would destroy).
#[derive(SimpleObject)]
pub struct ForgetUserResult {
    pub user_id: ID,
    /// True when nothing was changed: the counts are what forgetting would give.
    pub preview: bool,
    /// Data keys destroyed: the user's, and those of failed sign-ins under their UPN.
    pub data_keys: u64,
    /// Sign-in records whose personal data is forgotten.
    pub sign_ins: u64,
    /// Sign-in sessions ended.
    pub sessions: u64,
    /// Events from before personal data was sealed (schema 1.0) that keep the user's personal
    /// data in clear: forgetting cannot reach them without breaking the audit chain.
    pub plaintext_events: u64,
}

impl From<ForgetReport> for ForgetUserResult {
    fn from(r: ForgetReport) -> Self {
        Self {
            user_id: ID(r.user_id.to_string()),
            preview: r.preview,
            data_keys: r.data_keys,
            sign_ins: r.sign_ins,
            sessions: r.sessions,
            plaintext_events: r.plaintext_events,
        }
    }
}
