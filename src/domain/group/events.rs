use serde::{Deserialize, Serialize};

use crate::domain::EVENT_VERSION;
use crate::domain::values::{DisplayName, GroupId, TenantId, UserId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GroupEvent {
    GroupCreated { tenant_id: TenantId, group_id: GroupId, name: DisplayName, description: Option<String> },
    GroupRenamed { name: DisplayName },
    GroupMemberAdded { user_id: UserId },
    GroupMemberRemoved { user_id: UserId },
    GroupDeleted,
}

impl cqrs_es::DomainEvent for GroupEvent {
    fn event_type(&self) -> String {
        match self {
            Self::GroupCreated { .. } => "GroupCreated",
            Self::GroupRenamed { .. } => "GroupRenamed",
            Self::GroupMemberAdded { .. } => "GroupMemberAdded",
            Self::GroupMemberRemoved { .. } => "GroupMemberRemoved",
            Self::GroupDeleted => "GroupDeleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}
