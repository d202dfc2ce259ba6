//! Typed event payloads for auditors: one object per aggregate type, with the fields its events
//! carry (which ones are set depends on `eventType`). Secrets' verifiers are never included.

use async_graphql::{SimpleObject, Union};

use crate::domain::api_key::ApiKeyEvent;
use crate::domain::claim::ClaimEvent;
use crate::domain::custom_domain::DomainEvent;
use crate::domain::group::GroupEvent;
use crate::domain::tenant::TenantEvent;
use crate::domain::user::UserEvent;
use crate::read::audit::AuditEventRow;

#[derive(Union)]
pub enum AuditPayload {
    Tenant(TenantPayload),
    Domain(DomainPayload),
    User(UserPayload),
    Group(GroupPayload),
    ApiKey(ApiKeyPayload),
    Claim(ClaimPayload),
}

#[derive(SimpleObject, Default)]
pub struct TenantPayload {
    pub event: String,
    pub tenant_id: Option<String>,
    pub name: Option<String>,
    pub usage_location: Option<String>,
    pub sku_ids: Option<Vec<String>>,
    pub deprovision_action: Option<String>,
    pub mfa_policy: Option<String>,
}

#[derive(SimpleObject, Default)]
pub struct DomainPayload {
    pub event: String,
    pub name: Option<String>,
    pub txt_record: Option<String>,
}

#[derive(SimpleObject, Default)]
pub struct UserPayload {
    pub event: String,
    pub user_id: Option<String>,
    pub user_principal_name: Option<String>,
    pub immutable_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub usage_location: Option<String>,
    pub sku_id: Option<String>,
    /// The user's personal values in this event were forgotten (they are null here).
    pub personal_data_forgotten: bool,
}

#[derive(SimpleObject, Default)]
pub struct GroupPayload {
    pub event: String,
    pub group_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub user_id: Option<String>,
}

#[derive(SimpleObject, Default)]
pub struct ApiKeyPayload {
    pub event: String,
    pub key_id: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
}

#[derive(SimpleObject, Default)]
pub struct ClaimPayload {
    pub event: String,
    pub owner: Option<String>,
}

fn text<T: serde::Serialize>(value: &T) -> Option<String> {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned))
}

/// The payload decoded (old shapes upcast) into its typed form; `None` if it does not decode.
pub fn typed(row: &AuditEventRow) -> Option<AuditPayload> {
    let payload = crate::eventstore::upcast_payload(&row.event_type, &row.event_version, &row.payload);
    let event = row.event_type.clone();
    Some(match row.aggregate_type.as_str() {
        "Tenant" => AuditPayload::Tenant(match serde_json::from_value::<TenantEvent>(payload).ok()? {
            TenantEvent::TenantCreated { tenant_id, name } => {
                TenantPayload { event, tenant_id: Some(tenant_id.to_string()), name: Some(name.to_string()), ..Default::default() }
            }
            TenantEvent::TenantRenamed { name } => TenantPayload { event, name: Some(name.to_string()), ..Default::default() },
            TenantEvent::DefaultUsageLocationSet { usage_location } => {
                TenantPayload { event, usage_location: usage_location.map(String::from), ..Default::default() }
            }
            TenantEvent::DefaultLicensesSet { sku_ids } => {
                TenantPayload { event, sku_ids: Some(sku_ids.iter().map(ToString::to_string).collect()), ..Default::default() }
            }
            TenantEvent::DeprovisionActionSet { action, .. } => {
                TenantPayload { event, deprovision_action: text(&action), ..Default::default() }
            }
            TenantEvent::MfaPolicySet { policy } => TenantPayload { event, mfa_policy: text(&policy), ..Default::default() },
            TenantEvent::TenantSuspended
            | TenantEvent::TenantReactivated
            | TenantEvent::ReplyUrlsSet { .. }
            | TenantEvent::TokenLifetimeSet { .. } => TenantPayload { event, ..Default::default() },
        }),
        "Domain" => AuditPayload::Domain(match serde_json::from_value::<DomainEvent>(payload).ok()? {
            DomainEvent::DomainAdded { name, .. } => DomainPayload { event, name: Some(name.to_string()), ..Default::default() },
            DomainEvent::DomainVerified { txt_record } => DomainPayload { event, txt_record: Some(txt_record), ..Default::default() },
            _ => DomainPayload { event, ..Default::default() },
        }),
        "User" => AuditPayload::User(match serde_json::from_value::<UserEvent>(payload).ok()? {
            UserEvent::UserCreated { user_id, upn, immutable_id, profile, usage_location, .. } => {
                let p = profile.value();
                UserPayload {
                    event,
                    user_id: Some(user_id.to_string()),
                    user_principal_name: upn.value().map(ToString::to_string),
                    immutable_id: Some(immutable_id.to_string()),
                    display_name: p.map(|p| p.display_name.to_string()),
                    given_name: p.and_then(|p| p.given_name.as_ref()).map(ToString::to_string),
                    surname: p.and_then(|p| p.surname.as_ref()).map(ToString::to_string),
                    mail: p.and_then(|p| p.mail.clone()),
                    usage_location: usage_location.map(String::from),
                    personal_data_forgotten: upn.is_forgotten() || profile.is_forgotten(),
                    ..Default::default()
                }
            }
            UserEvent::UserProfileUpdated { profile } => {
                let p = profile.value();
                UserPayload {
                    event,
                    display_name: p.map(|p| p.display_name.to_string()),
                    given_name: p.and_then(|p| p.given_name.as_ref()).map(ToString::to_string),
                    surname: p.and_then(|p| p.surname.as_ref()).map(ToString::to_string),
                    mail: p.and_then(|p| p.mail.clone()),
                    personal_data_forgotten: profile.is_forgotten(),
                    ..Default::default()
                }
            }
            UserEvent::UsageLocationSet { usage_location } => {
                UserPayload { event, usage_location: Some(String::from(usage_location)), ..Default::default() }
            }
            UserEvent::LicenseGranted { sku_id } | UserEvent::LicenseRevoked { sku_id } => {
                UserPayload { event, sku_id: Some(sku_id.to_string()), ..Default::default() }
            }
            // UserPasswordSet carries only a sealed hash: never served.
            _ => UserPayload { event, ..Default::default() },
        }),
        "Group" => AuditPayload::Group(match serde_json::from_value::<GroupEvent>(payload).ok()? {
            GroupEvent::GroupCreated { group_id, name, description, .. } => GroupPayload {
                event,
                group_id: Some(group_id.to_string()),
                name: Some(name.to_string()),
                description,
                ..Default::default()
            },
            GroupEvent::GroupRenamed { name } => GroupPayload { event, name: Some(name.to_string()), ..Default::default() },
            GroupEvent::GroupMemberAdded { user_id } | GroupEvent::GroupMemberRemoved { user_id } => {
                GroupPayload { event, user_id: Some(user_id.to_string()), ..Default::default() }
            }
            GroupEvent::GroupDeleted => GroupPayload { event, ..Default::default() },
        }),
        "ApiKey" => AuditPayload::ApiKey(match serde_json::from_value::<ApiKeyEvent>(payload).ok()? {
            ApiKeyEvent::ApiKeyCreated { key_id, name, role, .. } => ApiKeyPayload {
                event,
                key_id: Some(key_id.to_string()),
                name: Some(name.to_string()),
                role: Some(role.as_str().to_owned()),
            },
            ApiKeyEvent::ApiKeyRevoked => ApiKeyPayload { event, ..Default::default() },
        }),
        "UniqueClaim" => AuditPayload::Claim(match serde_json::from_value::<ClaimEvent>(payload).ok()? {
            ClaimEvent::Claimed { owner } | ClaimEvent::Released { owner } => ClaimPayload { event, owner: Some(owner) },
        }),
        _ => return None,
    })
}
