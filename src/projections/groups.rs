use cqrs_es::Aggregate;

use super::{Projection, ProjectionError, decode, local_id, tenant_of};
use crate::args;
use crate::db::Tx;
use crate::domain::group::{Group, GroupEvent};
use crate::domain::user::{User, UserEvent};
use crate::eventstore::StoredEvent;

pub struct GroupsProjection;

#[async_trait::async_trait]
impl Projection for GroupsProjection {
    fn name(&self) -> &'static str {
        "groups"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["groups", "group_members"]
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        aggregate_type == Group::TYPE || aggregate_type == User::TYPE
    }

    fn fold(&self) -> Option<Box<dyn super::Fold>> {
        Some(Box::new(super::fold::GroupsFold::default()))
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type == User::TYPE {
            // A deleted user leaves every group's member list; no other user event matters,
            // and most events are user events, so skip them before decoding.
            if event.event_type != "UserDeleted" {
                return Ok(());
            }
            if let UserEvent::UserDeleted = decode::<UserEvent>(event)? {
                tx.execute("DELETE FROM group_members WHERE tenant_id = $1 AND user_id = $2", args![tenant_of(event)?, local_id(event)])
                    .await?;
            }
            return Ok(());
        }
        if event.aggregate_type != Group::TYPE {
            return Ok(());
        }
        let tenant = tenant_of(event)?;
        let group = local_id(event).to_owned();
        match decode::<GroupEvent>(event)? {
            GroupEvent::GroupCreated { name, description, .. } => {
                tx.execute(
                    "INSERT INTO groups (tenant_id, group_id, name, description, created_at) VALUES ($1, $2, $3, $4, $5)",
                    args![tenant, group, name.to_string(), description, event.occurred_at()],
                )
                .await?;
            }
            GroupEvent::GroupRenamed { name } => {
                tx.execute("UPDATE groups SET name = $1 WHERE tenant_id = $2 AND group_id = $3", args![name.to_string(), tenant, group])
                    .await?;
            }
            GroupEvent::GroupMemberAdded { user_id } => {
                tx.execute(
                    "INSERT INTO group_members (tenant_id, group_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    args![tenant, group, user_id.to_string()],
                )
                .await?;
            }
            GroupEvent::GroupMemberRemoved { user_id } => {
                tx.execute(
                    "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = $3",
                    args![tenant, group, user_id.to_string()],
                )
                .await?;
            }
            GroupEvent::GroupDeleted => {
                tx.execute("DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2", args![tenant.clone(), group.clone()])
                    .await?;
                tx.execute("DELETE FROM groups WHERE tenant_id = $1 AND group_id = $2", args![tenant, group]).await?;
            }
        }
        Ok(())
    }
}
