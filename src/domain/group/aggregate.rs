use std::collections::BTreeSet;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use crate::domain::DomainError;
use crate::domain::values::{DisplayName, GroupId, TenantId, UserId};

use super::commands::GroupCommand;
use super::events::GroupEvent;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Group {
    pub tenant_id: Option<TenantId>,
    pub group_id: Option<GroupId>,
    pub name: Option<DisplayName>,
    pub members: BTreeSet<UserId>,
    pub deleted: bool,
}

impl Group {
    pub fn exists(&self) -> bool {
        self.group_id.is_some() && !self.deleted
    }
}

impl Aggregate for Group {
    const TYPE: &'static str = "Group";
    type Command = GroupCommand;
    type Event = GroupEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: GroupCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        if let GroupCommand::CreateGroup { tenant_id, group_id, name, description } = command {
            if self.group_id.is_some() {
                return Err(DomainError::Conflict("the group already exists".into()));
            }
            sink.write(GroupEvent::GroupCreated { tenant_id, group_id, name, description }, self).await;
            return Ok(());
        }
        if !self.exists() {
            return Err(DomainError::NotFound("group"));
        }
        let event = match command {
            GroupCommand::CreateGroup { .. } => None,
            GroupCommand::RenameGroup { name } => (self.name.as_ref() != Some(&name)).then_some(GroupEvent::GroupRenamed { name }),
            GroupCommand::AddGroupMember { user_id } => {
                (!self.members.contains(&user_id)).then_some(GroupEvent::GroupMemberAdded { user_id })
            }
            GroupCommand::RemoveGroupMember { user_id } => {
                self.members.contains(&user_id).then_some(GroupEvent::GroupMemberRemoved { user_id })
            }
            GroupCommand::DeleteGroup => Some(GroupEvent::GroupDeleted),
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: GroupEvent) {
        match event {
            GroupEvent::GroupCreated { tenant_id, group_id, name, .. } => {
                self.tenant_id = Some(tenant_id);
                self.group_id = Some(group_id);
                self.name = Some(name);
            }
            GroupEvent::GroupRenamed { name } => self.name = Some(name),
            GroupEvent::GroupMemberAdded { user_id } => {
                self.members.insert(user_id);
            }
            GroupEvent::GroupMemberRemoved { user_id } => {
                self.members.remove(&user_id);
            }
            GroupEvent::GroupDeleted => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    type Given = TestFramework<Group>;

    fn created() -> GroupEvent {
        GroupEvent::GroupCreated {
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            group_id: GroupId::from_uuid(uuid::Uuid::nil()),
            name: DisplayName::parse("name", "Sales").unwrap(),
            description: None,
        }
    }

    #[test]
    fn membership_changes_once() {
        let user_id = UserId::from_uuid(uuid::Uuid::max());
        Given::with(())
            .given(vec![created()])
            .when(GroupCommand::AddGroupMember { user_id })
            .then_expect_events(vec![GroupEvent::GroupMemberAdded { user_id }]);
        Given::with(())
            .given(vec![created(), GroupEvent::GroupMemberAdded { user_id }])
            .when(GroupCommand::AddGroupMember { user_id })
            .then_expect_events(vec![]);
        Given::with(()).given(vec![created()]).when(GroupCommand::RemoveGroupMember { user_id }).then_expect_events(vec![]);
        Given::with(())
            .given(vec![created(), GroupEvent::GroupDeleted])
            .when(GroupCommand::RenameGroup { name: DisplayName::parse("name", "X").unwrap() })
            .then_expect_error(DomainError::NotFound("group"));
    }
}
