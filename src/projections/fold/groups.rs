//! `groups` and `group_members` folded in memory: mirrors `projections/groups.rs`.

use std::collections::BTreeSet;

use foldhash::HashMap;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;

use super::{Fold, FoldedTable, Key, in_key_order};
use crate::db::Arg;
use crate::domain::group::{Group, GroupEvent};
use crate::eventstore::StoredEvent;
use crate::projections::{ProjectionError, decode, local_id, tenant_of};

struct GroupState {
    name: String,
    description: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct GroupsFold {
    groups: HashMap<Key, GroupState>,
    /// (tenant, group) → members.
    members: HashMap<Key, BTreeSet<String>>,
    /// (tenant, user) → groups, so a deleted user leaves them without a scan.
    memberships: HashMap<Key, BTreeSet<String>>,
}

impl GroupsFold {
    fn remove_member(&mut self, tenant: &str, group: &str, user: &str) {
        if let Some(members) = self.members.get_mut(&(tenant.to_owned(), group.to_owned())) {
            members.remove(user);
        }
        if let Some(groups) = self.memberships.get_mut(&(tenant.to_owned(), user.to_owned())) {
            groups.remove(group);
        }
    }
}

impl Fold for GroupsFold {
    fn apply(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type != Group::TYPE && event.event_type != "UserDeleted" {
            // Only a user's deletion matters here (the projection decodes nothing else either).
            return Ok(());
        }
        let tenant = tenant_of(event)?;
        let id = local_id(event).to_owned();
        if event.aggregate_type != Group::TYPE {
            for group in self.memberships.remove(&(tenant.clone(), id.clone())).unwrap_or_default() {
                if let Some(members) = self.members.get_mut(&(tenant.clone(), group)) {
                    members.remove(&id);
                }
            }
            return Ok(());
        }
        match decode::<GroupEvent>(event)? {
            GroupEvent::GroupCreated { name, description, .. } => {
                self.groups.insert((tenant, id), GroupState { name: name.to_string(), description, created_at: event.occurred_at() });
            }
            GroupEvent::GroupRenamed { name } => {
                if let Some(group) = self.groups.get_mut(&(tenant, id)) {
                    group.name = name.to_string();
                }
            }
            GroupEvent::GroupMemberAdded { user_id } => {
                let user = user_id.to_string();
                self.memberships.entry((tenant.clone(), user.clone())).or_default().insert(id.clone());
                self.members.entry((tenant, id)).or_default().insert(user);
            }
            GroupEvent::GroupMemberRemoved { user_id } => self.remove_member(&tenant, &id, &user_id.to_string()),
            GroupEvent::GroupDeleted => {
                for user in self.members.remove(&(tenant.clone(), id.clone())).unwrap_or_default() {
                    if let Some(groups) = self.memberships.get_mut(&(tenant.clone(), user)) {
                        groups.remove(&id);
                    }
                }
                self.groups.remove(&(tenant, id));
            }
        }
        Ok(())
    }

    fn into_tables(self: Box<Self>) -> Vec<FoldedTable> {
        let Self { groups, members, .. } = *self;
        vec![
            FoldedTable::new(
                "groups",
                &["tenant_id", "group_id", "name", "description", "created_at"],
                in_key_order(groups).into_iter().map(|((tenant, group), g)| {
                    vec![Arg::from(tenant), Arg::from(group), Arg::from(g.name), Arg::from(g.description), Arg::from(g.created_at)]
                }),
            ),
            FoldedTable::new(
                "group_members",
                &["tenant_id", "group_id", "user_id"],
                in_key_order(members).into_iter().flat_map(|((tenant, group), users)| {
                    users.into_iter().map(move |user| vec![Arg::from(tenant.clone()), Arg::from(group.clone()), Arg::from(user)])
                }),
            ),
        ]
    }
}
