use crate::domain::values::{DisplayName, GroupId, TenantId, UserId};

#[derive(Debug, Clone, PartialEq)]
pub enum GroupCommand {
    CreateGroup {
        tenant_id: TenantId,
        group_id: GroupId,
        name: DisplayName,
        description: Option<String>,
    },
    RenameGroup {
        name: DisplayName,
    },
    /// The use case has checked that the user exists in the same tenant.
    AddGroupMember {
        user_id: UserId,
    },
    RemoveGroupMember {
        user_id: UserId,
    },
    DeleteGroup,
}
