//! A user's history as sentences: "license ENTERPRISEPACK granted by admin key 'ops-2' at …".

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::group::GroupEvent;
use crate::domain::user::UserEvent;
use crate::read::audit::AuditEventRow;

/// One line of a timeline.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub position: i64,
    pub at: Option<DateTime<Utc>>,
    pub event_type: String,
    pub actor: String,
    pub text: String,
}

/// Names to put in sentences: API keys (`key id` → "admin key 'ops-2'") and groups.
#[derive(Debug, Default)]
pub struct Names {
    pub keys: HashMap<String, String>,
    pub groups: HashMap<String, String>,
}

impl Names {
    fn actor(&self, actor: Option<&str>) -> String {
        match actor.and_then(|a| a.split_once(':')) {
            Some(("api-key", id)) => self.keys.get(id).cloned().unwrap_or_else(|| format!("API key {id}")),
            Some(("system", worker)) => format!("Tessera ({worker})"),
            Some(("user", id)) => format!("user {id}"),
            _ => actor.unwrap_or("an unknown actor").to_owned(),
        }
    }

    fn group(&self, aggregate_id: &str) -> String {
        let id = aggregate_id.split_once('/').map_or(aggregate_id, |(_, id)| id);
        self.groups.get(id).map_or_else(|| format!("group {id}"), |name| format!("group '{name}'"))
    }
}

/// Well-known Microsoft 365 SKU ids and their part numbers; others are shown by id.
fn sku(id: &str) -> &str {
    match id {
        "6fd2c87f-b296-42f0-b197-1e91e994b900" => "ENTERPRISEPACK",
        "05e9a617-0261-4cee-bb44-138d3ef5d965" => "SPE_E3",
        "06ebc4ee-1bb5-47dd-8120-11324bc54e06" => "SPE_E5",
        other => other,
    }
}

fn what(row: &AuditEventRow, names: &Names) -> String {
    let payload = crate::eventstore::upcast_payload(&row.event_type, &row.event_version, &row.payload);
    if row.aggregate_type == "Group" {
        return match serde_json::from_value::<GroupEvent>(payload) {
            Ok(GroupEvent::GroupMemberAdded { .. }) => format!("added to {}", names.group(&row.aggregate_id)),
            Ok(GroupEvent::GroupMemberRemoved { .. }) => format!("removed from {}", names.group(&row.aggregate_id)),
            _ => row.event_type.clone(),
        };
    }
    match serde_json::from_value::<UserEvent>(payload) {
        Ok(UserEvent::UserCreated { upn, immutable_id, .. }) => {
            let upn = upn.value().map_or_else(|| crate::projections::FORGOTTEN.to_owned(), ToString::to_string);
            format!("created as {upn} (ImmutableID {immutable_id})")
        }
        Ok(UserEvent::UserProfileUpdated { .. }) => "profile updated".into(),
        Ok(UserEvent::UserPasswordSet { .. }) => "password set".into(),
        Ok(UserEvent::TotpEnrolled { .. }) => "authenticator app enrolled".into(),
        Ok(UserEvent::RecoveryCodeUsed { .. }) => "recovery code used".into(),
        Ok(UserEvent::TotpRemoved) => "authenticator app removed".into(),
        Ok(UserEvent::UserSuspended) => "suspended".into(),
        Ok(UserEvent::UserReactivated) => "reactivated".into(),
        Ok(UserEvent::UserDeleted) => "deleted".into(),
        Ok(UserEvent::UserAssigned) => "assigned to Microsoft 365".into(),
        Ok(UserEvent::UserUnassigned) => "unassigned from Microsoft 365".into(),
        Ok(UserEvent::UsageLocationSet { usage_location }) => format!("usage location set to {}", String::from(usage_location)),
        Ok(UserEvent::LicenseGranted { sku_id }) => format!("license {} granted", sku(&sku_id.to_string())),
        Ok(UserEvent::LicenseRevoked { sku_id }) => format!("license {} revoked", sku(&sku_id.to_string())),
        Ok(UserEvent::UserForgotten { .. }) => "forgotten: personal data destroyed".into(),
        Err(_) => row.event_type.clone(),
    }
}

pub fn entry(row: &AuditEventRow, names: &Names) -> HistoryEntry {
    let at = row.meta("occurred_at").and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    let actor = names.actor(row.meta("actor"));
    let when = at.map_or_else(|| "an unknown time".to_owned(), |t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
    HistoryEntry {
        position: row.position,
        at,
        event_type: row.event_type.clone(),
        text: format!("{} by {actor} at {when}", what(row, names)),
        actor,
    }
}
