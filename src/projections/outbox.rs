//! The outbox projection: derives provisioning tasks from events (none lost: it is checkpointed
//! like every read model) and follows each task's outcome events. Tasks are derived only for
//! tenants connected to Microsoft 365 and for users assigned to it.

use chrono::{DateTime, TimeDelta, Utc};
use cqrs_es::Aggregate;
use sha2::{Digest as _, Sha256};

use super::outbox_memo::Memo;
use super::{Projection, ProjectionError, decode, local_id, tenant_of};
use crate::args;
use crate::db::Tx;
use crate::domain::custom_domain::{CustomDomain, DomainEvent};
use crate::domain::group::{Group, GroupEvent};
use crate::domain::job::{JobEvent, TenantJobs, export_task_id};
use crate::domain::microsoft365::{Microsoft365Connection, Microsoft365Event};
use crate::domain::provisioning::{ProvisioningTask, ShownFailure, TaskEvent, TaskFailure, TaskKind};
use crate::domain::signing_key::{KeyRole, SigningKeyEvent, SigningKeys};
use crate::domain::tenant::{DeprovisionAction, Tenant, TenantEvent};
use crate::domain::user::{User, UserEvent};
use crate::eventstore::StoredEvent;

/// How long after unassignment the DELETE deprovision action waits unless the tenant set another
/// grace period; re-assignment within it cancels the deletion.
pub const DEFAULT_GRACE_HOURS: i64 = 72;

pub struct OutboxProjection;

/// A task id derived from the event that made it, so a rebuild derives the same ids and finds
/// the outcome events recorded under them.
pub(super) fn task_id(event: &StoredEvent, index: usize) -> String {
    let digest = Sha256::digest(format!("{}|{}|{}|{index}", event.aggregate_type, event.aggregate_id, event.sequence));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

/// A failure as `outbox_tasks.last_error` keeps it: the message, or `(forgotten)` once its person
/// was forgotten.
pub(super) fn error_json(error: &TaskFailure) -> String {
    serde_json::to_string(&error.shown()).unwrap_or_default()
}

/// `last_error` once the task's person was forgotten (a message of theirs in an event from
/// before messages were sealed goes from the read model too).
pub(super) fn forgotten_error(stored: &str) -> Option<String> {
    let mut shown: ShownFailure = serde_json::from_str(stored).ok()?;
    shown.forget();
    serde_json::to_string(&shown).ok()
}

pub(super) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn action_text(action: DeprovisionAction) -> &'static str {
    match action {
        DeprovisionAction::BlockSignIn => "BLOCK_SIGN_IN",
        DeprovisionAction::Delete => "DELETE",
        DeprovisionAction::None => "NONE",
    }
}

#[derive(sqlx::FromRow, Clone)]
pub(super) struct TenantState {
    pub connected: bool,
    pub deprovision_action: String,
    pub delete_grace_hours: i64,
}

impl TenantState {
    /// A tenant the outbox has no row for: never connected, the default deprovision action.
    pub fn unconnected() -> Self {
        Self { connected: false, deprovision_action: "BLOCK_SIGN_IN".to_owned(), delete_grace_hours: DEFAULT_GRACE_HOURS }
    }

    pub fn grace(&self) -> TimeDelta {
        TimeDelta::hours(self.delete_grace_hours)
    }
}

#[derive(sqlx::FromRow)]
struct UserState {
    assigned: bool,
}

#[derive(sqlx::FromRow)]
struct StoredError {
    task_id: String,
    last_error: String,
}

/// The person was forgotten: Graph's messages about them go from their tasks.
async fn forget_errors(tx: &mut Tx, tenant: &str, user: &str, at: DateTime<Utc>) -> Result<(), ProjectionError> {
    let rows: Vec<StoredError> = tx
        .fetch_all(
            "SELECT task_id, last_error FROM outbox_tasks WHERE tenant_id = $1 AND user_id = $2 AND last_error IS NOT NULL ORDER BY seq",
            args![tenant, user],
        )
        .await?;
    for StoredError { task_id, last_error } in rows {
        if let Some(scrubbed) = forgotten_error(&last_error) {
            tx.execute(
                "UPDATE outbox_tasks SET last_error = $1, updated_at = $2 WHERE tenant_id = $3 AND task_id = $4",
                args![scrubbed, at, tenant, task_id],
            )
            .await?;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    kind: String,
    user_id: Option<String>,
    target: String,
}

struct Derive<'a> {
    event: &'a StoredEvent,
    tenant: String,
    user: String,
    at: DateTime<Utc>,
    made: usize,
}

impl Derive<'_> {
    async fn task(&mut self, tx: &mut Tx, kind: TaskKind, sku: Option<String>, due: DateTime<Utc>) -> Result<(), ProjectionError> {
        let id = task_id(self.event, self.made);
        self.made += 1;
        tx.execute(
            "INSERT INTO outbox_tasks (tenant_id, task_id, seq, target, kind, user_id, sku_id, status, attempts, round_attempts,
                                       next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox_tasks), $3, $4, $5, $6, 'PENDING', 0, 0, $7, $8, $9)
             ON CONFLICT (tenant_id, task_id) DO NOTHING",
            args![
                self.tenant.clone(),
                id,
                format!("user:{}", self.user),
                kind.as_str(),
                self.user.clone(),
                sku,
                millis(due),
                self.at,
                self.at,
            ],
        )
        .await?;
        Ok(())
    }

    /// The tenant's deprovision action for a user who is no longer assigned.
    async fn deprovision(&mut self, tx: &mut Tx, state: &TenantState) -> Result<(), ProjectionError> {
        match reconciled(state, false, false, self.at) {
            Some((kind, due)) => self.task(tx, kind, None, due).await,
            None => Ok(()),
        }
    }
}

pub(super) async fn tenant_state(tx: &mut Tx, tenant: &str) -> Result<TenantState, ProjectionError> {
    let row: Option<TenantState> = tx
        .fetch_optional(
            "SELECT connected, deprovision_action, CAST(delete_grace_hours AS BIGINT) AS delete_grace_hours FROM outbox_tenants WHERE tenant_id = $1",
            args![tenant],
        )
        .await?;
    Ok(row.unwrap_or_else(TenantState::unconnected))
}

async fn assigned(tx: &mut Tx, tenant: &str, user: &str) -> Result<bool, ProjectionError> {
    let row: Option<UserState> =
        tx.fetch_optional("SELECT assigned FROM outbox_users WHERE tenant_id = $1 AND user_id = $2", args![tenant, user]).await?;
    Ok(row.is_some_and(|r| r.assigned))
}

async fn set_suspended(tx: &mut Tx, tenant: &str, user: &str, value: bool) -> Result<(), ProjectionError> {
    tx.execute("UPDATE outbox_users SET suspended = $1 WHERE tenant_id = $2 AND user_id = $3", args![value, tenant, user]).await?;
    Ok(())
}

/// A change Microsoft 365 missed while the tenant was not connected, to a user it holds (one
/// provisioned earlier): the next connection reconciles it (`backfill`).
async fn mark_missed(tx: &mut Tx, tenant: &str, user: &str) -> Result<(), ProjectionError> {
    tx.execute(
        "UPDATE outbox_users SET missed = $1 WHERE tenant_id = $2 AND user_id = $3 AND graph_object_id IS NOT NULL",
        args![true, tenant, user],
    )
    .await?;
    Ok(())
}

/// User events that reach Microsoft 365 and so need the user's facts and the tenant's state.
pub(super) const NEEDS_FACTS: &[&str] = &[
    "UserAssigned",
    "UserUnassigned",
    "UserDeleted",
    "UserSuspended",
    "UserReactivated",
    "UserProfileUpdated",
    "UsageLocationSet",
    "LicenseGranted",
    "LicenseRevoked",
];

async fn apply_user(tx: &mut Tx, event: &StoredEvent, memo: &mut Memo) -> Result<(), ProjectionError> {
    let tenant = tenant_of(event)?;
    let user = local_id(event).to_owned();
    let key = (tenant.clone(), user.clone());
    let at = event.occurred_at();
    // Decided by the event alone first: most user events (passwords, TOTP, sign-ins) never
    // reach Microsoft 365, and should not cost a look-up.
    match event.event_type.as_str() {
        "UserCreated" => {
            memo.created(key);
            return Ok(());
        }
        "UserForgotten" => return forget_errors(tx, &tenant, &user, at).await,
        kind if NEEDS_FACTS.contains(&kind) => {}
        _ => return Ok(()),
    }
    let user_event = decode::<UserEvent>(event)?;
    let (facts, state) = memo.user(tx, &key).await?;
    let was_assigned = facts.assigned;
    let mut derive = Derive { event, tenant: tenant.clone(), user: user.clone(), at, made: 0 };
    match user_event {
        UserEvent::UserAssigned => {
            memo.assign(&key, true);
            // Re-assigned within the grace period: the deletion is off.
            if facts.pending_delete {
                tx.execute(
                    "UPDATE outbox_tasks SET status = 'CANCELLED', detail = 're-assigned within the grace period', updated_at = $1
                      WHERE tenant_id = $2 AND user_id = $3 AND kind = 'DELETE_USER' AND status = 'PENDING'",
                    args![at, tenant.clone(), user.clone()],
                )
                .await?;
                memo.update(&key, |f| f.pending_delete = false);
            }
            if !state.connected {
                if facts.provisioned {
                    memo.flush(tx).await?;
                    mark_missed(tx, &tenant, &user).await?;
                }
            } else {
                derive.task(tx, TaskKind::ProvisionUser, None, at).await?;
                // Memberships made while the user was not assigned reach Microsoft 365 now.
                let groups: Vec<Owed> = tx
                    .fetch_all(
                        "SELECT m.group_id AS target_id, m.user_id FROM outbox_group_members m
                           JOIN outbox_groups g ON g.tenant_id = m.tenant_id AND g.group_id = m.group_id AND NOT g.deleted
                          WHERE m.tenant_id = $1 AND m.user_id = $2 ORDER BY m.group_id",
                        args![tenant.clone(), user.clone()],
                    )
                    .await?;
                for Owed { target_id, user_id } in groups {
                    mark_queued(tx, &tenant, &target_id, &user).await?;
                    let id = task_id(event, derive.made);
                    derive.made += 1;
                    insert_task(tx, &tenant, id, format!("group:{target_id}"), TaskKind::AddGroupMember, user_id, at, at).await?;
                }
            }
        }
        UserEvent::UserUnassigned | UserEvent::UserDeleted if was_assigned => {
            memo.assign(&key, false);
            if state.connected {
                derive.deprovision(tx, &state).await?;
                // A DELETE_USER task may wait now (the DELETE action's grace period).
                memo.update(&key, |f| f.pending_delete |= state.deprovision_action == "DELETE");
            } else if facts.provisioned {
                memo.flush(tx).await?;
                mark_missed(tx, &tenant, &user).await?;
            }
        }
        UserEvent::UserSuspended | UserEvent::UserReactivated => {
            let suspended = matches!(user_event, UserEvent::UserSuspended);
            memo.flush(tx).await?;
            set_suspended(tx, &tenant, &user, suspended).await?;
            if was_assigned && state.connected {
                let kind = if suspended { TaskKind::DisableUser } else { TaskKind::EnableUser };
                derive.task(tx, kind, None, at).await?;
            } else if was_assigned && facts.provisioned {
                memo.flush(tx).await?;
                mark_missed(tx, &tenant, &user).await?;
            }
        }
        other if was_assigned && state.connected => {
            let (kind, sku) = match other {
                UserEvent::UserProfileUpdated { .. } | UserEvent::UsageLocationSet { .. } => (TaskKind::UpdateUser, None),
                UserEvent::LicenseGranted { sku_id } => (TaskKind::GrantLicense, Some(sku_id.to_string())),
                UserEvent::LicenseRevoked { sku_id } => (TaskKind::RevokeLicense, Some(sku_id.to_string())),
                _ => return Ok(()),
            };
            derive.task(tx, kind, sku, at).await?;
        }
        _ => {}
    }
    Ok(())
}

/// Inserts a task for `target` (a rebuild derives the same id and finds it there already).
#[allow(clippy::too_many_arguments)]
async fn insert_task(
    tx: &mut Tx,
    tenant: &str,
    id: String,
    target: String,
    kind: TaskKind,
    user: Option<String>,
    due: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    tx.execute(
        "INSERT INTO outbox_tasks (tenant_id, task_id, seq, target, kind, user_id, sku_id, status, attempts, round_attempts,
                                   next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox_tasks), $3, $4, $5, NULL, 'PENDING', 0, 0, $6, $7, $8)
         ON CONFLICT (tenant_id, task_id) DO NOTHING",
        args![tenant, id, target, kind.as_str(), user, millis(due), at, at],
    )
    .await?;
    Ok(())
}

/// Groups become security groups in Microsoft 365 (connected tenants); members are pushed for
/// users assigned to Microsoft 365. Groups and their members are tracked while the tenant is not
/// connected too, so connecting later pushes them (`backfill`).
async fn apply_group(tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
    let tenant = tenant_of(event)?;
    let group = local_id(event).to_owned();
    let group_event = decode::<GroupEvent>(event)?;
    match &group_event {
        GroupEvent::GroupCreated { .. } => {
            tx.execute(
                "INSERT INTO outbox_groups (tenant_id, group_id, graph_object_id) VALUES ($1, $2, NULL)
                 ON CONFLICT (tenant_id, group_id) DO NOTHING",
                args![tenant.clone(), group.clone()],
            )
            .await?;
        }
        GroupEvent::GroupMemberAdded { user_id } => {
            tx.execute(
                "INSERT INTO outbox_group_members (tenant_id, group_id, user_id) VALUES ($1, $2, $3)
                 ON CONFLICT (tenant_id, group_id, user_id) DO NOTHING",
                args![tenant.clone(), group.clone(), user_id.to_string()],
            )
            .await?;
        }
        GroupEvent::GroupMemberRemoved { user_id } => {
            tx.execute(
                "DELETE FROM outbox_group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = $3",
                args![tenant.clone(), group.clone(), user_id.to_string()],
            )
            .await?;
        }
        GroupEvent::GroupDeleted => {
            tx.execute("DELETE FROM outbox_group_members WHERE tenant_id = $1 AND group_id = $2", args![tenant.clone(), group.clone()])
                .await?;
            tx.execute(
                "UPDATE outbox_groups SET deleted = $1 WHERE tenant_id = $2 AND group_id = $3",
                args![true, tenant.clone(), group.clone()],
            )
            .await?;
        }
        GroupEvent::GroupRenamed { .. } => {}
    }
    if !tenant_state(tx, &tenant).await?.connected {
        return Ok(());
    }
    let (kind, member) = match group_event {
        GroupEvent::GroupCreated { .. } => (TaskKind::ProvisionGroup, None),
        GroupEvent::GroupRenamed { .. } => (TaskKind::UpdateGroup, None),
        GroupEvent::GroupMemberAdded { user_id } => (TaskKind::AddGroupMember, Some(user_id.to_string())),
        GroupEvent::GroupMemberRemoved { user_id } => (TaskKind::RemoveGroupMember, Some(user_id.to_string())),
        GroupEvent::GroupDeleted => (TaskKind::DeleteGroup, None),
    };
    // Only groups the outbox tracks can be in Microsoft 365; only assigned users are there.
    let known: Option<FederatedDomain> = tx
        .fetch_optional(
            "SELECT group_id AS domain FROM outbox_groups WHERE tenant_id = $1 AND group_id = $2",
            args![tenant.clone(), group.clone()],
        )
        .await?;
    if known.is_none() {
        return Ok(());
    }
    if let Some(user) = &member
        && !assigned(tx, &tenant, user).await?
    {
        return Ok(());
    }
    if kind == TaskKind::AddGroupMember {
        mark_queued(tx, &tenant, &group, member.as_deref().unwrap_or_default()).await?;
    }
    let at = event.occurred_at();
    insert_task(tx, &tenant, task_id(event, 0), format!("group:{group}"), kind, member, at, at).await
}

/// Records that a membership's ADD_GROUP_MEMBER task exists.
async fn mark_queued(tx: &mut Tx, tenant: &str, group: &str, user: &str) -> Result<(), ProjectionError> {
    tx.execute(
        "UPDATE outbox_group_members SET queued = $1 WHERE tenant_id = $2 AND group_id = $3 AND user_id = $4",
        args![true, tenant, group, user],
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Owed {
    target_id: String,
    user_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Missed {
    user_id: String,
    assigned: bool,
    suspended: bool,
}

/// What a tenant owes Microsoft 365 when it connects: users assigned and groups created while it
/// was not connected (none of them pushed yet, none already queued), then the memberships of
/// assigned users. Each user's provisioning pushes its current profile and licenses; members
/// wait for their group's creation (FIFO per group) and their own. Then what Microsoft 365
/// missed about objects it already holds: users provisioned earlier and unassigned or deleted
/// since get the tenant's deprovision action, those still assigned their status (sign-in
/// blocked while suspended, enabled otherwise); groups pushed earlier and deleted since are
/// deleted. Each after the tasks already queued for its object.
async fn backfill(tx: &mut Tx, event: &StoredEvent, tenant: &str) -> Result<(), ProjectionError> {
    let at = event.occurred_at();
    let state = tenant_state(tx, tenant).await?;
    let users: Vec<Owed> = tx
        .fetch_all(
            "SELECT u.user_id AS target_id, u.user_id FROM outbox_users u
              WHERE u.tenant_id = $1 AND u.assigned AND u.graph_object_id IS NULL
                AND NOT EXISTS (SELECT 1 FROM outbox_tasks t WHERE t.tenant_id = u.tenant_id AND t.user_id = u.user_id
                                   AND t.kind = 'PROVISION_USER' AND t.status IN ('PENDING', 'FAILED'))
              ORDER BY u.user_id",
            args![tenant],
        )
        .await?;
    let groups: Vec<Owed> = tx
        .fetch_all(
            "SELECT g.group_id AS target_id, CAST(NULL AS TEXT) AS user_id FROM outbox_groups g
              WHERE g.tenant_id = $1 AND NOT g.deleted AND g.graph_object_id IS NULL
                AND NOT EXISTS (SELECT 1 FROM outbox_tasks t WHERE t.tenant_id = g.tenant_id AND t.target = 'group:' || g.group_id
                                   AND t.kind = 'PROVISION_GROUP' AND t.status IN ('PENDING', 'FAILED'))
              ORDER BY g.group_id",
            args![tenant],
        )
        .await?;
    let members: Vec<Owed> = tx
        .fetch_all(
            "SELECT m.group_id AS target_id, m.user_id FROM outbox_group_members m
               JOIN outbox_users u ON u.tenant_id = m.tenant_id AND u.user_id = m.user_id AND u.assigned
               JOIN outbox_groups g ON g.tenant_id = m.tenant_id AND g.group_id = m.group_id AND NOT g.deleted
              WHERE m.tenant_id = $1 AND NOT m.queued
              ORDER BY m.group_id, m.user_id",
            args![tenant],
        )
        .await?;
    let missed: Vec<Missed> = tx
        .fetch_all(
            "SELECT user_id, assigned, suspended FROM outbox_users
              WHERE tenant_id = $1 AND missed AND graph_object_id IS NOT NULL ORDER BY user_id",
            args![tenant],
        )
        .await?;
    let deleted: Vec<Owed> = tx
        .fetch_all(
            "SELECT g.group_id AS target_id, CAST(NULL AS TEXT) AS user_id FROM outbox_groups g
              WHERE g.tenant_id = $1 AND g.deleted AND g.graph_object_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM outbox_tasks t WHERE t.tenant_id = g.tenant_id AND t.target = 'group:' || g.group_id
                                   AND t.kind = 'DELETE_GROUP')
              ORDER BY g.group_id",
            args![tenant],
        )
        .await?;
    let owed = users
        .into_iter()
        .map(|o| (format!("user:{}", o.target_id), TaskKind::ProvisionUser, o.user_id, at))
        .chain(groups.into_iter().map(|o| (format!("group:{}", o.target_id), TaskKind::ProvisionGroup, None, at)))
        .chain(members.into_iter().map(|o| (format!("group:{}", o.target_id), TaskKind::AddGroupMember, o.user_id, at)))
        .chain(missed.into_iter().filter_map(|m| {
            let (kind, due) = reconciled(&state, m.assigned, m.suspended, at)?;
            Some((format!("user:{}", m.user_id), kind, Some(m.user_id), due))
        }))
        .chain(deleted.into_iter().map(|o| (format!("group:{}", o.target_id), TaskKind::DeleteGroup, None, at)));
    for (index, (target, kind, user, due)) in owed.enumerate() {
        if kind == TaskKind::AddGroupMember {
            let group = target.strip_prefix("group:").unwrap_or_default();
            mark_queued(tx, tenant, group, user.as_deref().unwrap_or_default()).await?;
        }
        insert_task(tx, tenant, task_id(event, index), target, kind, user, due, at).await?;
    }
    tx.execute("UPDATE outbox_users SET missed = $1 WHERE tenant_id = $2 AND missed", args![false, tenant]).await?;
    Ok(())
}

/// The task that brings a user Microsoft 365 holds to Tessera's state after changes it missed,
/// and when it is due: the deprovision action for one no longer assigned, the status for one
/// still assigned.
pub(super) fn reconciled(state: &TenantState, assigned: bool, suspended: bool, at: DateTime<Utc>) -> Option<(TaskKind, DateTime<Utc>)> {
    if assigned {
        return Some((if suspended { TaskKind::DisableUser } else { TaskKind::EnableUser }, at));
    }
    match state.deprovision_action.as_str() {
        "DELETE" => Some((TaskKind::DeleteUser, at + state.grace())),
        "NONE" => None,
        _ => Some((TaskKind::DisableUser, at)),
    }
}

/// Which domains Microsoft 365 federates with Tessera: a rollover must reach each of them.
async fn apply_domain(tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
    let tenant = tenant_of(event)?;
    let domain = local_id(event).to_owned();
    match decode::<DomainEvent>(event)? {
        DomainEvent::DomainFederated { .. } | DomainEvent::DomainDefederationFailed { .. } => {
            tx.execute(
                "INSERT INTO outbox_domains (tenant_id, domain) VALUES ($1, $2) ON CONFLICT (tenant_id, domain) DO NOTHING",
                args![tenant, domain],
            )
            .await?;
        }
        DomainEvent::DomainDefederationRequested | DomainEvent::DomainDefederated | DomainEvent::DomainRemoved => {
            tx.execute("DELETE FROM outbox_domains WHERE tenant_id = $1 AND domain = $2", args![tenant, domain]).await?;
        }
        _ => {}
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct FederatedDomain {
    domain: String,
}

/// A next key published, or activated: each federated domain's configuration is updated.
async fn apply_signing_keys(tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
    let rollover = match decode::<SigningKeyEvent>(event)? {
        SigningKeyEvent::SigningKeyGenerated { role, .. } => role == KeyRole::Next,
        SigningKeyEvent::NextSigningKeyActivated { .. } => true,
    };
    let tenant = tenant_of(event)?;
    if !rollover || !tenant_state(tx, &tenant).await?.connected {
        return Ok(());
    }
    let domains: Vec<FederatedDomain> =
        tx.fetch_all("SELECT domain FROM outbox_domains WHERE tenant_id = $1 ORDER BY domain", args![tenant.clone()]).await?;
    let at = event.occurred_at();
    for (index, FederatedDomain { domain }) in domains.into_iter().enumerate() {
        tx.execute(
            "INSERT INTO outbox_tasks (tenant_id, task_id, seq, target, kind, user_id, sku_id, status, attempts, round_attempts,
                                       next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox_tasks), $3, $4, NULL, NULL, 'PENDING', 0, 0, $5, $6, $7)
             ON CONFLICT (tenant_id, task_id) DO NOTHING",
            args![
                tenant.clone(),
                task_id(event, index),
                format!("domain:{domain}"),
                TaskKind::UpdateFederation.as_str(),
                millis(at),
                at,
                at
            ],
        )
        .await?;
    }
    Ok(())
}

async fn apply_task(tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
    let tenant = tenant_of(event)?;
    let task = local_id(event).to_owned();
    let at = event.occurred_at();
    match decode::<TaskEvent>(event)? {
        TaskEvent::ProvisioningAttemptFailed { attempt, error, retry_at, .. } => {
            tx.execute(
                "UPDATE outbox_tasks SET attempts = $1, round_attempts = round_attempts + 1, last_error = $2, next_attempt_at = $3,
                        lease_until = NULL, claimed_by = NULL, updated_at = $4
                  WHERE tenant_id = $5 AND task_id = $6",
                args![i64::from(attempt), error_json(&error), millis(retry_at), at, tenant, task],
            )
            .await?;
        }
        TaskEvent::ProvisioningTaskSucceeded { attempt, graph_object_id, detail, .. } => {
            tx.execute(
                "UPDATE outbox_tasks SET status = 'SUCCEEDED', attempts = $1, round_attempts = round_attempts + 1, graph_object_id = $2,
                        detail = $3, lease_until = NULL, claimed_by = NULL, updated_at = $4
                  WHERE tenant_id = $5 AND task_id = $6",
                args![i64::from(attempt), graph_object_id.clone(), detail, at, tenant.clone(), task.clone()],
            )
            .await?;
            let row: Option<TaskRow> = tx
                .fetch_optional(
                    "SELECT kind, user_id, target FROM outbox_tasks WHERE tenant_id = $1 AND task_id = $2",
                    args![tenant.clone(), task],
                )
                .await?;
            let task_target = row.as_ref().map(|r| r.target.clone());
            if let Some(TaskRow { kind, .. }) = &row
                && kind == TaskKind::ProvisionGroup.as_str()
            {
                let group = task_target.as_deref().and_then(|t| t.strip_prefix("group:")).unwrap_or_default().to_owned();
                tx.execute(
                    "UPDATE outbox_groups SET graph_object_id = $1 WHERE tenant_id = $2 AND group_id = $3",
                    args![graph_object_id.clone(), tenant.clone(), group],
                )
                .await?;
            }
            if let Some(TaskRow { kind, user_id: Some(user), .. }) = row
                && kind != TaskKind::AddGroupMember.as_str()
                && kind != TaskKind::RemoveGroupMember.as_str()
            {
                // Later tasks address the user by its Graph object id; a deleted one has none.
                let object_id = if kind == TaskKind::DeleteUser.as_str() { None } else { graph_object_id };
                if object_id.is_some() || kind == TaskKind::DeleteUser.as_str() {
                    tx.execute(
                        "UPDATE outbox_users SET graph_object_id = $1 WHERE tenant_id = $2 AND user_id = $3",
                        args![object_id, tenant, user],
                    )
                    .await?;
                }
            }
        }
        TaskEvent::ProvisioningTaskFailed { attempt, error, .. } => {
            tx.execute(
                "UPDATE outbox_tasks SET status = CASE WHEN status = 'CANCELLED' THEN status ELSE 'FAILED' END, attempts = $1,
                        round_attempts = round_attempts + 1, last_error = $2, lease_until = NULL, claimed_by = NULL, updated_at = $3
                  WHERE tenant_id = $4 AND task_id = $5",
                args![i64::from(attempt), error_json(&error), at, tenant, task],
            )
            .await?;
        }
        TaskEvent::ProvisioningTaskRetried => {
            tx.execute(
                "UPDATE outbox_tasks SET status = 'PENDING', round_attempts = 0, next_attempt_at = $1, lease_until = NULL,
                        claimed_by = NULL, updated_at = $2
                  WHERE tenant_id = $3 AND task_id = $4",
                args![millis(at), at, tenant, task],
            )
            .await?;
        }
        TaskEvent::ProvisioningTaskCancelled => {
            tx.execute(
                "UPDATE outbox_tasks SET status = 'CANCELLED', lease_until = NULL, claimed_by = NULL, updated_at = $1
                  WHERE tenant_id = $2 AND task_id = $3",
                args![at, tenant, task],
            )
            .await?;
        }
    }
    Ok(())
}

/// An export job hands users to the outbox: one PROVISION_USER task each (still assigned, the
/// tenant still connected), with an id the job can derive to follow it.
async fn apply_export(tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
    let JobEvent::JobUsersQueued { job_id, user_ids } = decode::<JobEvent>(event)? else { return Ok(()) };
    let tenant = tenant_of(event)?;
    if !tenant_state(tx, &tenant).await?.connected {
        return Ok(());
    }
    let at = event.occurred_at();
    for user in user_ids.iter().map(ToString::to_string) {
        if !assigned(tx, &tenant, &user).await? {
            continue;
        }
        tx.execute(
            "INSERT INTO outbox_tasks (tenant_id, task_id, seq, target, kind, user_id, sku_id, status, attempts, round_attempts,
                                       next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox_tasks), $3, $4, $5, NULL, 'PENDING', 0, 0, $6, $7, $8)
             ON CONFLICT (tenant_id, task_id) DO NOTHING",
            args![
                tenant.clone(),
                export_task_id(&job_id, &user),
                format!("user:{user}"),
                TaskKind::ProvisionUser.as_str(),
                user.clone(),
                millis(at),
                at,
                at
            ],
        )
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl Projection for OutboxProjection {
    fn name(&self) -> &'static str {
        "outbox"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["outbox_tasks", "outbox_tenants", "outbox_users", "outbox_domains", "outbox_groups", "outbox_group_members"]
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        [
            User::TYPE,
            ProvisioningTask::TYPE,
            Microsoft365Connection::TYPE,
            Tenant::TYPE,
            CustomDomain::TYPE,
            SigningKeys::TYPE,
            Group::TYPE,
            TenantJobs::TYPE,
        ]
        .contains(&aggregate_type)
    }

    /// Graph's messages about a person are theirs (`TaskFailure`).
    fn reads_personal_data(&self) -> bool {
        true
    }

    fn fold(&self) -> Option<Box<dyn super::Fold>> {
        Some(Box::new(super::fold::OutboxFold::default()))
    }

    /// User events (most of a busy batch) decide on facts read ahead for the whole batch.
    async fn apply_batch(&self, tx: &mut Tx, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        let mut memo = Memo::read_ahead(tx, events).await?;
        for event in events {
            if event.aggregate_type == User::TYPE {
                apply_user(tx, event, &mut memo).await?;
            } else {
                memo.forget(tx).await?;
                self.apply(tx, event).await?;
            }
        }
        memo.flush(tx).await
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type == User::TYPE {
            let mut memo = Memo::default();
            apply_user(tx, event, &mut memo).await?;
            return memo.flush(tx).await;
        }
        if event.aggregate_type == ProvisioningTask::TYPE {
            return apply_task(tx, event).await;
        }
        if event.aggregate_type == CustomDomain::TYPE {
            return apply_domain(tx, event).await;
        }
        if event.aggregate_type == SigningKeys::TYPE {
            return apply_signing_keys(tx, event).await;
        }
        if event.aggregate_type == Group::TYPE {
            return apply_group(tx, event).await;
        }
        if event.aggregate_type == TenantJobs::TYPE {
            return apply_export(tx, event).await;
        }
        if event.aggregate_type == Microsoft365Connection::TYPE {
            let connected = match decode::<Microsoft365Event>(event)? {
                Microsoft365Event::Microsoft365Connected { .. } => true,
                Microsoft365Event::Microsoft365Disconnected => false,
                _ => return Ok(()),
            };
            let tenant = tenant_of(event)?;
            let was_connected = tenant_state(tx, &tenant).await?.connected;
            tx.execute(
                "INSERT INTO outbox_tenants (tenant_id, connected, deprovision_action) VALUES ($1, $2, 'BLOCK_SIGN_IN')
                 ON CONFLICT (tenant_id) DO UPDATE SET connected = excluded.connected",
                args![tenant.clone(), connected],
            )
            .await?;
            if connected && !was_connected {
                backfill(tx, event, &tenant).await?;
            }
            return Ok(());
        }
        if event.aggregate_type == Tenant::TYPE
            && let TenantEvent::DeprovisionActionSet { action, grace_hours } = decode::<TenantEvent>(event)?
        {
            let grace = grace_hours.map_or(DEFAULT_GRACE_HOURS, i64::from);
            tx.execute(
                "INSERT INTO outbox_tenants (tenant_id, connected, deprovision_action, delete_grace_hours) VALUES ($1, false, $2, $3)
                 ON CONFLICT (tenant_id) DO UPDATE SET deprovision_action = excluded.deprovision_action,
                                                       delete_grace_hours = excluded.delete_grace_hours",
                args![tenant_of(event)?, action_text(action), grace],
            )
            .await?;
        }
        Ok(())
    }
}
