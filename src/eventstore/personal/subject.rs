//! Whose personal data an event holds: the subject whose data key seals it. Decided here, at
//! the storage edge, per aggregate type; an event with personal data and no subject is refused
//! (so a new aggregate cannot store personal data in clear by accident).

use serde_json::Value;

use crate::domain::values::{Pseudonym, UserId};

/// The subject of a user's own data.
pub fn user(user_id: &UserId) -> String {
    format!("user:{user_id}")
}

/// The subject of what was recorded under a UPN that named no user (failed sign-ins): the UPN's
/// pseudonym.
pub fn account(upn: &Pseudonym) -> String {
    format!("account:{upn}")
}

/// Whether an aggregate of this type is its subject's own record, so that its first event is
/// the first anything says about the subject (a user's creation).
pub fn is_own_record(aggregate_type: &str) -> bool {
    aggregate_type == "User"
}

/// The subject of an event's personal values, if its aggregate type has one.
pub fn of(aggregate_type: &str, aggregate_id: &str, payload: &Value) -> Option<String> {
    match aggregate_type {
        // `{tenant}/{user}`
        "User" => aggregate_id.split_once('/').map(|(_, user)| format!("user:{user}")),
        // The user signing in, or (a UPN that named nobody) the pseudonym of what was typed.
        "SignIn" => {
            let details = payload.as_object()?.values().next()?.get("details")?;
            match details.get("user_id").and_then(Value::as_str) {
                Some(user) => Some(format!("user:{user}")),
                None => details.get("account").and_then(Value::as_str).map(|a| format!("account:{a}")),
            }
        }
        // A job's outcome for one user: that user, or (nobody in Tessera holds the UPN) the
        // pseudonym of the UPN.
        "JobItem" => {
            let item = payload.as_object()?.values().next()?;
            match item.get("user_id").and_then(Value::as_str) {
                Some(user) => Some(format!("user:{user}")),
                None => item.get("upn_pseudonym").and_then(Value::as_str).map(|a| format!("account:{a}")),
            }
        }
        // A provisioning attempt's failure about a person (the task's user, or a group task's
        // member): Graph's message may quote their data.
        "ProvisioningTask" => {
            let user = payload.as_object()?.values().next()?.get("user_id")?.as_str()?;
            Some(format!("user:{user}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn users_and_sign_ins_have_subjects() {
        assert_eq!(of("User", "t/u1", &json!({})).as_deref(), Some("user:u1"));
        let known = json!({ "SignInSucceeded": { "details": { "user_id": "u1", "account": "ab" } } });
        assert_eq!(of("SignIn", "t/a", &known).as_deref(), Some("user:u1"));
        let unknown = json!({ "SignInFailed": { "details": { "user_id": null, "account": "ab" } } });
        assert_eq!(of("SignIn", "t/a", &unknown).as_deref(), Some("account:ab"));
        assert_eq!(of("SignIn", "t/a", &json!({ "SignInFailed": { "details": {} } })), None);
        assert_eq!(of("Group", "t/g", &json!({})), None);
        let failed = json!({ "ProvisioningTaskFailed": { "target": "group:g", "user_id": "u2" } });
        assert_eq!(of("ProvisioningTask", "t/k", &failed).as_deref(), Some("user:u2"));
        assert_eq!(of("ProvisioningTask", "t/k", &json!({ "ProvisioningTaskFailed": { "target": "domain:d" } })), None);
    }
}
