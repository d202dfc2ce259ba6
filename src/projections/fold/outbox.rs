//! The outbox's tables folded in memory: mirrors `projections/outbox.rs` statement by
//! statement (task derivation, cancellation, outcomes). Claim columns (`lease_until`,
//! `claimed_by`) are the workers' and start empty, as after a per-event rebuild.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashMap;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;

use super::{Fold, FoldedTable, Key, in_key_order};
use crate::db::Arg;
use crate::domain::custom_domain::{CustomDomain, DomainEvent};
use crate::domain::group::{Group, GroupEvent};
use crate::domain::job::{JobEvent, TenantJobs, export_task_id};
use crate::domain::microsoft365::{Microsoft365Connection, Microsoft365Event};
use crate::domain::provisioning::{ProvisioningTask, TaskEvent, TaskKind};
use crate::domain::signing_key::{KeyRole, SigningKeyEvent, SigningKeys};
use crate::domain::tenant::{Tenant, TenantEvent};
use crate::domain::user::{User, UserEvent};
use crate::eventstore::StoredEvent;
use crate::projections::outbox::{DEFAULT_GRACE_HOURS, TenantState, action_text, error_json, forgotten_error, millis, reconciled, task_id};
use crate::projections::{ProjectionError, decode, local_id, tenant_of};

fn new_tenant(connected: bool) -> TenantState {
    TenantState { connected, ..TenantState::unconnected() }
}

#[derive(Default)]
struct GroupState {
    graph_object_id: Option<String>,
    deleted: bool,
}

#[derive(Default)]
struct UserState {
    assigned: bool,
    graph_object_id: Option<String>,
    suspended: bool,
    /// A change Microsoft 365 missed while the tenant was not connected.
    missed: bool,
}

struct Task {
    tenant: String,
    task_id: String,
    seq: i64,
    target: String,
    kind: &'static str,
    user_id: Option<String>,
    sku_id: Option<String>,
    status: &'static str,
    attempts: i64,
    round_attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    graph_object_id: Option<String>,
    detail: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct OutboxFold {
    tenants: HashMap<String, TenantState>,
    users: HashMap<Key, UserState>,
    domains: BTreeSet<Key>,
    groups: HashMap<Key, GroupState>,
    /// (tenant, group, user) → whether its ADD_GROUP_MEMBER task exists.
    members: BTreeMap<(String, String, String), bool>,
    /// (tenant, user) → groups, for the memberships a newly assigned user brings.
    memberships: HashMap<Key, BTreeSet<String>>,
    /// In `seq` order (seq = index + 1).
    tasks: Vec<Task>,
    by_id: HashMap<Key, usize>,
    /// (tenant, user) → that user's tasks, for the cancellation on re-assignment.
    by_user: HashMap<Key, Vec<usize>>,
}

/// A task about to be derived.
struct NewTask<'a> {
    tenant: &'a str,
    task_id: String,
    target: String,
    kind: TaskKind,
    user_id: Option<String>,
    sku_id: Option<String>,
    due: DateTime<Utc>,
    at: DateTime<Utc>,
}

impl OutboxFold {
    fn connected(&self, tenant: &str) -> bool {
        self.tenants.get(tenant).is_some_and(|t| t.connected)
    }

    fn assigned(&self, key: &Key) -> bool {
        self.users.get(key).is_some_and(|u| u.assigned)
    }

    fn set_assigned(&mut self, key: &Key, value: bool) {
        self.users.entry(key.clone()).or_default().assigned = value;
    }

    /// `INSERT … ON CONFLICT (tenant_id, task_id) DO NOTHING`, seq one past the largest.
    fn insert(&mut self, new: NewTask<'_>) {
        let id = (new.tenant.to_owned(), new.task_id);
        if self.by_id.contains_key(&id) {
            return;
        }
        let index = self.tasks.len();
        if let Some(user) = &new.user_id {
            self.by_user.entry((new.tenant.to_owned(), user.clone())).or_default().push(index);
        }
        self.tasks.push(Task {
            tenant: new.tenant.to_owned(),
            task_id: id.1.clone(),
            seq: index as i64 + 1,
            target: new.target,
            kind: new.kind.as_str(),
            user_id: new.user_id,
            sku_id: new.sku_id,
            status: "PENDING",
            attempts: 0,
            round_attempts: 0,
            next_attempt_at: millis(new.due),
            last_error: None,
            graph_object_id: None,
            detail: None,
            created_at: new.at,
            updated_at: new.at,
        });
        self.by_id.insert(id, index);
    }

    /// `UPDATE outbox_users SET missed … AND graph_object_id IS NOT NULL`.
    fn mark_missed(&mut self, key: &Key) {
        if let Some(state) = self.users.get_mut(key)
            && state.graph_object_id.is_some()
        {
            state.missed = true;
        }
    }

    fn mark_queued(&mut self, tenant: &str, group: &str, user: &str) {
        if let Some(queued) = self.members.get_mut(&(tenant.to_owned(), group.to_owned(), user.to_owned())) {
            *queued = true;
        }
    }

    fn live_group(&self, tenant: &str, group: &str) -> bool {
        self.groups.get(&(tenant.to_owned(), group.to_owned())).is_some_and(|g| !g.deleted)
    }

    fn user_task(&mut self, event: &StoredEvent, made: &mut usize, key: &Key, kind: TaskKind, sku: Option<String>, due: DateTime<Utc>) {
        let id = task_id(event, *made);
        *made += 1;
        let at = event.occurred_at();
        self.insert(NewTask {
            tenant: &key.0,
            task_id: id,
            target: format!("user:{}", key.1),
            kind,
            user_id: Some(key.1.clone()),
            sku_id: sku,
            due,
            at,
        });
    }

    fn apply_user(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        let key = (tenant_of(event)?, local_id(event).to_owned());
        let at = event.occurred_at();
        let was_assigned = self.assigned(&key);
        // A borrow, not a copy of the tenant's settings: most events need only this flag.
        let connected = self.tenants.get(&key.0).is_some_and(|t| t.connected);
        let mut made = 0;
        // Decided by the event type first: only a change to an assigned user of a connected
        // tenant needs the payload, and most events of a long history are none of that.
        match event.event_type.as_str() {
            "UserCreated" => self.set_assigned(&key, false),
            "UserForgotten" => {
                for &index in self.by_user.get(&key).into_iter().flatten() {
                    let task = &mut self.tasks[index];
                    if let Some(scrubbed) = task.last_error.as_deref().and_then(forgotten_error) {
                        task.last_error = Some(scrubbed);
                        task.updated_at = at;
                    }
                }
            }
            "UserAssigned" => {
                self.set_assigned(&key, true);
                for &index in self.by_user.get(&key).into_iter().flatten() {
                    let task = &mut self.tasks[index];
                    if task.kind == TaskKind::DeleteUser.as_str() && task.status == "PENDING" {
                        task.status = "CANCELLED";
                        task.detail = Some("re-assigned within the grace period".to_owned());
                        task.updated_at = at;
                    }
                }
                if !connected {
                    self.mark_missed(&key);
                } else {
                    self.user_task(event, &mut made, &key, TaskKind::ProvisionUser, None, at);
                    // Memberships made while the user was not assigned reach Microsoft 365 now.
                    let groups: Vec<String> =
                        self.memberships.get(&key).into_iter().flatten().filter(|g| self.live_group(&key.0, g)).cloned().collect();
                    for group in groups {
                        self.mark_queued(&key.0, &group, &key.1);
                        let id = task_id(event, made);
                        made += 1;
                        self.insert(NewTask {
                            tenant: &key.0,
                            task_id: id,
                            target: format!("group:{group}"),
                            kind: TaskKind::AddGroupMember,
                            user_id: Some(key.1.clone()),
                            sku_id: None,
                            due: at,
                            at,
                        });
                    }
                }
            }
            "UserUnassigned" | "UserDeleted" if was_assigned => {
                self.set_assigned(&key, false);
                if !connected {
                    self.mark_missed(&key);
                } else if let Some((kind, due)) =
                    reconciled(&self.tenants.get(&key.0).map_or_else(|| new_tenant(false), Clone::clone), false, false, at)
                {
                    self.user_task(event, &mut made, &key, kind, None, due);
                }
            }
            "UserSuspended" | "UserReactivated" => {
                let suspended = event.event_type == "UserSuspended";
                if let Some(user) = self.users.get_mut(&key) {
                    user.suspended = suspended;
                }
                if was_assigned && connected {
                    let kind = if suspended { TaskKind::DisableUser } else { TaskKind::EnableUser };
                    self.user_task(event, &mut made, &key, kind, None, at);
                } else if was_assigned {
                    self.mark_missed(&key);
                }
            }
            _ if was_assigned && connected => {
                let (kind, sku) = match decode::<UserEvent>(event)? {
                    UserEvent::UserProfileUpdated { .. } | UserEvent::UsageLocationSet { .. } => (TaskKind::UpdateUser, None),
                    UserEvent::LicenseGranted { sku_id } => (TaskKind::GrantLicense, Some(sku_id.to_string())),
                    UserEvent::LicenseRevoked { sku_id } => (TaskKind::RevokeLicense, Some(sku_id.to_string())),
                    _ => return Ok(()),
                };
                self.user_task(event, &mut made, &key, kind, sku, at);
            }
            _ => {}
        }
        Ok(())
    }

    fn apply_group(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        let tenant = tenant_of(event)?;
        let group = local_id(event).to_owned();
        let key = (tenant.clone(), group.clone());
        let group_event = decode::<GroupEvent>(event)?;
        // Tracked while not connected too, so connecting later pushes them (`backfill`).
        match &group_event {
            GroupEvent::GroupCreated { .. } => {
                self.groups.entry(key.clone()).or_default();
            }
            GroupEvent::GroupMemberAdded { user_id } => {
                let user = user_id.to_string();
                self.members.entry((tenant.clone(), group.clone(), user.clone())).or_insert(false);
                self.memberships.entry((tenant.clone(), user)).or_default().insert(group.clone());
            }
            GroupEvent::GroupMemberRemoved { user_id } => {
                let user = user_id.to_string();
                self.members.remove(&(tenant.clone(), group.clone(), user.clone()));
                if let Some(groups) = self.memberships.get_mut(&(tenant.clone(), user)) {
                    groups.remove(&group);
                }
            }
            GroupEvent::GroupDeleted => {
                let gone: Vec<String> = self
                    .members
                    .range((tenant.clone(), group.clone(), String::new())..)
                    .take_while(|((t, g, _), _)| *t == tenant && *g == group)
                    .map(|((_, _, u), _)| u.clone())
                    .collect();
                for user in gone {
                    self.members.remove(&(tenant.clone(), group.clone(), user.clone()));
                    if let Some(groups) = self.memberships.get_mut(&(tenant.clone(), user)) {
                        groups.remove(&group);
                    }
                }
                if let Some(state) = self.groups.get_mut(&key) {
                    state.deleted = true;
                }
            }
            GroupEvent::GroupRenamed { .. } => {}
        }
        if !self.connected(&tenant) {
            return Ok(());
        }
        let (kind, member) = match group_event {
            GroupEvent::GroupCreated { .. } => (TaskKind::ProvisionGroup, None),
            GroupEvent::GroupRenamed { .. } => (TaskKind::UpdateGroup, None),
            GroupEvent::GroupMemberAdded { user_id } => (TaskKind::AddGroupMember, Some(user_id.to_string())),
            GroupEvent::GroupMemberRemoved { user_id } => (TaskKind::RemoveGroupMember, Some(user_id.to_string())),
            GroupEvent::GroupDeleted => (TaskKind::DeleteGroup, None),
        };
        if !self.groups.contains_key(&key) {
            return Ok(());
        }
        if let Some(user) = &member
            && !self.assigned(&(tenant.clone(), user.clone()))
        {
            return Ok(());
        }
        if kind == TaskKind::AddGroupMember {
            self.mark_queued(&tenant, &group, member.as_deref().unwrap_or_default());
        }
        let at = event.occurred_at();
        self.insert(NewTask {
            tenant: &tenant,
            task_id: task_id(event, 0),
            target: format!("group:{group}"),
            kind,
            user_id: member,
            sku_id: None,
            due: at,
            at,
        });
        Ok(())
    }

    /// What a tenant owes Microsoft 365 when it connects (mirrors the projection's `backfill`):
    /// assigned users and live groups not pushed nor queued, then unqueued memberships of
    /// assigned users.
    fn backfill(&mut self, event: &StoredEvent, tenant: &str) {
        let pending = |t: &Task| t.status == "PENDING" || t.status == "FAILED";
        let mut users: Vec<String> = self
            .users
            .iter()
            .filter(|((t, _), u)| t == tenant && u.assigned && u.graph_object_id.is_none())
            .map(|((_, user), _)| user.clone())
            .filter(|user| {
                !self.by_user.get(&(tenant.to_owned(), user.clone())).into_iter().flatten().any(|&i| {
                    let t = &self.tasks[i];
                    t.kind == TaskKind::ProvisionUser.as_str() && t.user_id.as_deref() == Some(user.as_str()) && pending(t)
                })
            })
            .collect();
        users.sort();
        let mut groups: Vec<String> = self
            .groups
            .iter()
            .filter(|((t, _), g)| t == tenant && !g.deleted && g.graph_object_id.is_none())
            .map(|((_, group), _)| group.clone())
            .filter(|group| {
                let target = format!("group:{group}");
                !self
                    .tasks
                    .iter()
                    .any(|t| t.tenant == tenant && t.target == target && t.kind == TaskKind::ProvisionGroup.as_str() && pending(t))
            })
            .collect();
        groups.sort();
        let members: Vec<(String, String)> = self
            .members
            .range((tenant.to_owned(), String::new(), String::new())..)
            .take_while(|((t, _, _), _)| t == tenant)
            .filter(|((t, g, u), queued)| !**queued && self.assigned(&(t.clone(), u.clone())) && self.live_group(t, g))
            .map(|((_, g, u), _)| (g.clone(), u.clone()))
            .collect();
        let at = event.occurred_at();
        let state = self.tenants.get(tenant).map_or_else(|| new_tenant(true), Clone::clone);
        let mut missed: Vec<(String, bool, bool)> = self
            .users
            .iter()
            .filter(|((t, _), u)| t == tenant && u.missed && u.graph_object_id.is_some())
            .map(|((_, user), u)| (user.clone(), u.assigned, u.suspended))
            .collect();
        missed.sort();
        let mut deleted: Vec<String> = self
            .groups
            .iter()
            .filter(|((t, _), g)| t == tenant && g.deleted && g.graph_object_id.is_some())
            .map(|((_, group), _)| group.clone())
            .filter(|group| {
                let target = format!("group:{group}");
                !self.tasks.iter().any(|t| t.tenant == tenant && t.target == target && t.kind == TaskKind::DeleteGroup.as_str())
            })
            .collect();
        deleted.sort();
        let owed = users
            .into_iter()
            .map(|u| (format!("user:{u}"), TaskKind::ProvisionUser, Some(u), at))
            .chain(groups.into_iter().map(|g| (format!("group:{g}"), TaskKind::ProvisionGroup, None, at)))
            .chain(members.into_iter().map(|(g, u)| (format!("group:{g}"), TaskKind::AddGroupMember, Some(u), at)))
            .chain(missed.into_iter().filter_map(|(user, assigned, suspended)| {
                let (kind, due) = reconciled(&state, assigned, suspended, at)?;
                Some((format!("user:{user}"), kind, Some(user), due))
            }))
            .chain(deleted.into_iter().map(|g| (format!("group:{g}"), TaskKind::DeleteGroup, None, at)));
        let owed: Vec<_> = owed.collect();
        for (index, (target, kind, user, due)) in owed.into_iter().enumerate() {
            if kind == TaskKind::AddGroupMember {
                let group = target.strip_prefix("group:").unwrap_or_default().to_owned();
                self.mark_queued(tenant, &group, user.as_deref().unwrap_or_default());
            }
            self.insert(NewTask { tenant, task_id: task_id(event, index), target, kind, user_id: user, sku_id: None, due, at });
        }
        for ((t, _), user) in &mut self.users {
            if t == tenant {
                user.missed = false;
            }
        }
    }

    fn apply_domain(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        let key = (tenant_of(event)?, local_id(event).to_owned());
        match decode::<DomainEvent>(event)? {
            DomainEvent::DomainFederated { .. } | DomainEvent::DomainDefederationFailed { .. } => {
                self.domains.insert(key);
            }
            DomainEvent::DomainDefederationRequested | DomainEvent::DomainDefederated | DomainEvent::DomainRemoved => {
                self.domains.remove(&key);
            }
            _ => {}
        }
        Ok(())
    }

    fn apply_signing_keys(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        let rollover = match decode::<SigningKeyEvent>(event)? {
            SigningKeyEvent::SigningKeyGenerated { role, .. } => role == KeyRole::Next,
            SigningKeyEvent::NextSigningKeyActivated { .. } => true,
        };
        let tenant = tenant_of(event)?;
        if !rollover || !self.connected(&tenant) {
            return Ok(());
        }
        let domains: Vec<String> = self.domains.iter().filter(|(t, _)| *t == tenant).map(|(_, d)| d.clone()).collect();
        let at = event.occurred_at();
        for (index, domain) in domains.into_iter().enumerate() {
            self.insert(NewTask {
                tenant: &tenant,
                task_id: task_id(event, index),
                target: format!("domain:{domain}"),
                kind: TaskKind::UpdateFederation,
                user_id: None,
                sku_id: None,
                due: at,
                at,
            });
        }
        Ok(())
    }

    fn apply_task(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        let tenant = tenant_of(event)?;
        let at = event.occurred_at();
        let Some(&index) = self.by_id.get(&(tenant.clone(), local_id(event).to_owned())) else {
            // The statements update nothing when the task is unknown.
            return Ok(());
        };
        let task = &mut self.tasks[index];
        match decode::<TaskEvent>(event)? {
            TaskEvent::ProvisioningAttemptFailed { attempt, error, retry_at, .. } => {
                task.attempts = i64::from(attempt);
                task.round_attempts += 1;
                task.last_error = Some(error_json(&error));
                task.next_attempt_at = millis(retry_at);
                task.updated_at = at;
            }
            TaskEvent::ProvisioningTaskSucceeded { attempt, graph_object_id, detail, .. } => {
                task.status = "SUCCEEDED";
                task.attempts = i64::from(attempt);
                task.round_attempts += 1;
                task.graph_object_id.clone_from(&graph_object_id);
                task.detail = Some(detail);
                task.updated_at = at;
                let (kind, user, target) = (task.kind, task.user_id.clone(), task.target.clone());
                if kind == TaskKind::ProvisionGroup.as_str() {
                    let group = target.strip_prefix("group:").unwrap_or_default().to_owned();
                    if let Some(state) = self.groups.get_mut(&(tenant.clone(), group)) {
                        state.graph_object_id.clone_from(&graph_object_id);
                    }
                }
                if let Some(user) = user
                    && kind != TaskKind::AddGroupMember.as_str()
                    && kind != TaskKind::RemoveGroupMember.as_str()
                {
                    // Later tasks address the user by its Graph object id; a deleted one has none.
                    let deleted = kind == TaskKind::DeleteUser.as_str();
                    let object_id = if deleted { None } else { graph_object_id };
                    if (object_id.is_some() || deleted)
                        && let Some(state) = self.users.get_mut(&(tenant, user))
                    {
                        state.graph_object_id = object_id;
                    }
                }
            }
            TaskEvent::ProvisioningTaskFailed { attempt, error, .. } => {
                if task.status != "CANCELLED" {
                    task.status = "FAILED";
                }
                task.attempts = i64::from(attempt);
                task.round_attempts += 1;
                task.last_error = Some(error_json(&error));
                task.updated_at = at;
            }
            TaskEvent::ProvisioningTaskRetried => {
                task.status = "PENDING";
                task.round_attempts = 0;
                task.next_attempt_at = millis(at);
                task.updated_at = at;
            }
            TaskEvent::ProvisioningTaskCancelled => {
                task.status = "CANCELLED";
                task.updated_at = at;
            }
        }
        Ok(())
    }

    /// An export job's users: one PROVISION_USER each, still assigned, the tenant still connected.
    fn apply_export(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        let JobEvent::JobUsersQueued { job_id, user_ids } = decode::<JobEvent>(event)? else { return Ok(()) };
        let tenant = tenant_of(event)?;
        if !self.connected(&tenant) {
            return Ok(());
        }
        let at = event.occurred_at();
        for user in user_ids.iter().map(ToString::to_string) {
            if !self.assigned(&(tenant.clone(), user.clone())) {
                continue;
            }
            self.insert(NewTask {
                tenant: &tenant,
                task_id: export_task_id(&job_id, &user),
                target: format!("user:{user}"),
                kind: TaskKind::ProvisionUser,
                user_id: Some(user),
                sku_id: None,
                due: at,
                at,
            });
        }
        Ok(())
    }

    fn apply_connection(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        let connected = match decode::<Microsoft365Event>(event)? {
            Microsoft365Event::Microsoft365Connected { .. } => true,
            Microsoft365Event::Microsoft365Disconnected => false,
            _ => return Ok(()),
        };
        let tenant = tenant_of(event)?;
        let was_connected = self.connected(&tenant);
        self.tenants.entry(tenant.clone()).or_insert_with(|| new_tenant(connected)).connected = connected;
        if connected && !was_connected {
            self.backfill(event, &tenant);
        }
        Ok(())
    }

    fn apply_tenant(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        if let TenantEvent::DeprovisionActionSet { action, grace_hours } = decode::<TenantEvent>(event)? {
            let state = self.tenants.entry(tenant_of(event)?).or_insert_with(|| new_tenant(false));
            state.deprovision_action = action_text(action).to_owned();
            state.delete_grace_hours = grace_hours.map_or(DEFAULT_GRACE_HOURS, i64::from);
        }
        Ok(())
    }
}

impl Fold for OutboxFold {
    fn apply(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        match event.aggregate_type.as_str() {
            t if t == User::TYPE => self.apply_user(event),
            t if t == ProvisioningTask::TYPE => self.apply_task(event),
            t if t == CustomDomain::TYPE => self.apply_domain(event),
            t if t == SigningKeys::TYPE => self.apply_signing_keys(event),
            t if t == Group::TYPE => self.apply_group(event),
            t if t == Microsoft365Connection::TYPE => self.apply_connection(event),
            t if t == Tenant::TYPE => self.apply_tenant(event),
            t if t == TenantJobs::TYPE => self.apply_export(event),
            _ => Ok(()),
        }
    }

    fn into_tables(self: Box<Self>) -> Vec<FoldedTable> {
        let Self { tenants, users, domains, groups, members, tasks, .. } = *self;
        let tenants = FoldedTable::new(
            "outbox_tenants",
            &["tenant_id", "connected", "deprovision_action", "delete_grace_hours"],
            in_key_order(tenants).into_iter().map(|(tenant, t)| {
                vec![Arg::from(tenant), Arg::from(t.connected), Arg::from(t.deprovision_action), Arg::from(t.delete_grace_hours)]
            }),
        );
        let users = FoldedTable::new(
            "outbox_users",
            &["tenant_id", "user_id", "assigned", "graph_object_id", "suspended", "missed"],
            in_key_order(users).into_iter().map(|((tenant, user), u)| {
                vec![
                    Arg::from(tenant),
                    Arg::from(user),
                    Arg::from(u.assigned),
                    Arg::from(u.graph_object_id),
                    Arg::from(u.suspended),
                    Arg::from(u.missed),
                ]
            }),
        );
        let domains = FoldedTable::new(
            "outbox_domains",
            &["tenant_id", "domain"],
            domains.into_iter().map(|(tenant, domain)| vec![Arg::from(tenant), Arg::from(domain)]),
        );
        let groups = FoldedTable::new(
            "outbox_groups",
            &["tenant_id", "group_id", "graph_object_id", "deleted"],
            in_key_order(groups)
                .into_iter()
                .map(|((tenant, group), g)| vec![Arg::from(tenant), Arg::from(group), Arg::from(g.graph_object_id), Arg::from(g.deleted)]),
        );
        let members = FoldedTable::new(
            "outbox_group_members",
            &["tenant_id", "group_id", "user_id", "queued"],
            members
                .into_iter()
                .map(|((tenant, group, user), queued)| vec![Arg::from(tenant), Arg::from(group), Arg::from(user), Arg::from(queued)]),
        );
        let tasks = FoldedTable::new(
            "outbox_tasks",
            &[
                "tenant_id",
                "task_id",
                "seq",
                "target",
                "kind",
                "user_id",
                "sku_id",
                "status",
                "attempts",
                "round_attempts",
                "next_attempt_at",
                "last_error",
                "graph_object_id",
                "detail",
                "created_at",
                "updated_at",
            ],
            tasks.into_iter().map(|t| {
                vec![
                    Arg::from(t.tenant),
                    Arg::from(t.task_id),
                    Arg::from(t.seq),
                    Arg::from(t.target),
                    Arg::from(t.kind),
                    Arg::from(t.user_id),
                    Arg::from(t.sku_id),
                    Arg::from(t.status),
                    Arg::from(t.attempts),
                    Arg::from(t.round_attempts),
                    Arg::from(t.next_attempt_at),
                    Arg::from(t.last_error),
                    Arg::from(t.graph_object_id),
                    Arg::from(t.detail),
                    Arg::from(t.created_at),
                    Arg::from(t.updated_at),
                ]
            }),
        );
        vec![tenants, users, domains, groups, members, tasks]
    }
}
