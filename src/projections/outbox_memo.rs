//! What the outbox projection knows of users and tenants while it applies one batch: read for
//! all the batch's users in one statement (instead of one look-up per event), kept up to date
//! by the projection's own writes, and forgotten at the first event that is not a user's (task
//! outcomes, connections, groups and jobs change these rows by statements of their own). The
//! users' `assigned` flags are written once, at the end (or before any other statement that
//! reads or changes `outbox_users`).

use std::collections::{BTreeMap, HashMap, HashSet};

use cqrs_es::Aggregate as _;

use super::ProjectionError;
use super::fold::{Key, upsert_rows};
use super::outbox::{NEEDS_FACTS, TenantState};
use super::{local_id, tenant_of};
use crate::args;
use crate::db::{Arg, Tx, key_list};
use crate::domain::user::User;
use crate::eventstore::StoredEvent;

/// A user as the outbox's decisions see it.
#[derive(Clone, Copy, Default)]
pub(super) struct UserFacts {
    pub assigned: bool,
    /// Microsoft 365 holds the user (a Graph object id is known).
    pub provisioned: bool,
    /// A DELETE_USER task waits out its grace period.
    pub pending_delete: bool,
}

#[derive(sqlx::FromRow)]
struct FactsRow {
    tenant_id: String,
    user_id: String,
    assigned: bool,
    provisioned: bool,
    pending_delete: bool,
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    tenant_id: String,
    #[sqlx(flatten)]
    state: TenantState,
}

/// A user's facts with their tenant's state, from one statement.
#[derive(sqlx::FromRow)]
struct OneRow {
    assigned: Option<bool>,
    provisioned: Option<bool>,
    pending_delete: bool,
    connected: Option<bool>,
    deprovision_action: Option<String>,
    delete_grace_hours: Option<i64>,
}

const FACTS: &str = "u.assigned, u.graph_object_id IS NOT NULL AS provisioned,
                     EXISTS (SELECT 1 FROM outbox_tasks t WHERE t.tenant_id = u.tenant_id AND t.user_id = u.user_id
                                AND t.kind = 'DELETE_USER' AND t.status = 'PENDING') AS pending_delete";

#[derive(Default)]
pub(super) struct Memo {
    users: HashMap<Key, UserFacts>,
    tenants: HashMap<String, TenantState>,
    /// `outbox_users.assigned` as the batch left it, written by `flush` in one statement.
    assigned: BTreeMap<Key, bool>,
}

impl Memo {
    /// Reads ahead the facts of every user whose events in `events` need them (a user whose
    /// first event here creates it has none yet), and their tenants' state. Nothing to gain
    /// for a single user: the look-up on first use reads both in one statement.
    pub async fn read_ahead(tx: &mut Tx, events: &[&StoredEvent]) -> Result<Self, ProjectionError> {
        let mut memo = Self::default();
        let (mut seen, mut wanted) = (HashSet::new(), Vec::new());
        for event in events.iter().filter(|e| e.aggregate_type == User::TYPE) {
            let key = (tenant_of(event)?, local_id(event).to_owned());
            if seen.insert(key.clone()) && event.event_type != "UserCreated" && NEEDS_FACTS.contains(&event.event_type.as_str()) {
                wanted.push(key);
            }
        }
        if wanted.len() < 2 {
            return Ok(memo);
        }
        let sql =
            tx.select_by_keys(&format!("SELECT u.tenant_id, u.user_id, {FACTS} FROM outbox_users u"), &["u.tenant_id", "u.user_id"], 1);
        let rows: Vec<FactsRow> = tx.fetch_all(&sql, &[key_list(wanted.iter().map(|(t, u)| [t.as_str(), u.as_str()]))]).await?;
        let tenants: HashSet<String> = wanted.iter().map(|(t, _)| t.clone()).collect();
        let sql = tx.select_by_keys(
            "SELECT tenant_id, connected, deprovision_action, CAST(delete_grace_hours AS BIGINT) AS delete_grace_hours FROM outbox_tenants",
            &["tenant_id"],
            1,
        );
        let states: Vec<TenantRow> = tx.fetch_all(&sql, &[key_list(tenants.iter().map(|t| [t.as_str()]))]).await?;
        // A user without a row was never assigned (nor provisioned, nor given tasks).
        memo.users = wanted.into_iter().map(|key| (key, UserFacts::default())).collect();
        for row in rows {
            memo.users.insert(
                (row.tenant_id, row.user_id),
                UserFacts { assigned: row.assigned, provisioned: row.provisioned, pending_delete: row.pending_delete },
            );
        }
        memo.tenants = tenants.into_iter().map(|t| (t, TenantState::unconnected())).collect();
        for row in states {
            memo.tenants.insert(row.tenant_id, row.state);
        }
        Ok(memo)
    }

    /// The user's facts and their tenant's state: remembered, or read in one statement.
    pub async fn user(&mut self, tx: &mut Tx, key: &Key) -> Result<(UserFacts, TenantState), ProjectionError> {
        if let (Some(facts), Some(state)) = (self.users.get(key), self.tenants.get(&key.0)) {
            return Ok((*facts, state.clone()));
        }
        // No flush needed first: only a user the memo knows can have an assignment waiting, and
        // for such a user the memo's facts are kept over the row read here.
        let sql = format!(
            "SELECT {}, t.connected, t.deprovision_action, CAST(t.delete_grace_hours AS BIGINT) AS delete_grace_hours
               FROM (SELECT 1 AS one) o
               LEFT JOIN outbox_users u ON u.tenant_id = $1 AND u.user_id = $2
               LEFT JOIN outbox_tenants t ON t.tenant_id = $1",
            FACTS.replace("t.tenant_id = u.tenant_id AND t.user_id = u.user_id", "t.tenant_id = $1 AND t.user_id = $2")
        );
        let row: Option<OneRow> = tx.fetch_optional(&sql, args![key.0.clone(), key.1.clone()]).await?;
        let (facts, state) = match row {
            Some(row) => {
                let facts = UserFacts {
                    assigned: row.assigned.unwrap_or(false),
                    provisioned: row.provisioned.unwrap_or(false),
                    pending_delete: row.pending_delete,
                };
                let state = match (row.connected, row.deprovision_action, row.delete_grace_hours) {
                    (Some(connected), Some(deprovision_action), Some(delete_grace_hours)) => {
                        TenantState { connected, deprovision_action, delete_grace_hours }
                    }
                    _ => TenantState::unconnected(),
                };
                (facts, state)
            }
            None => (UserFacts::default(), TenantState::unconnected()),
        };
        // What the memo knew of the user is newer than the row (a user created in this batch).
        let facts = *self.users.entry(key.clone()).or_insert(facts);
        self.tenants.insert(key.0.clone(), state.clone());
        Ok((facts, state))
    }

    /// A user just created: no row before this event, so nothing assigned, held or queued.
    pub fn created(&mut self, key: Key) {
        self.users.insert(key.clone(), UserFacts::default());
        self.assigned.insert(key, false);
    }

    /// The user is (no longer) assigned to Microsoft 365; its row says so after `flush`.
    pub fn assign(&mut self, key: &Key, assigned: bool) {
        self.update(key, |f| f.assigned = assigned);
        self.assigned.insert(key.clone(), assigned);
    }

    /// Writes the rows the batch changed; before any other statement on `outbox_users`.
    pub async fn flush(&mut self, tx: &mut Tx) -> Result<(), ProjectionError> {
        let rows: Vec<Vec<Arg>> = std::mem::take(&mut self.assigned)
            .into_iter()
            .map(|((tenant, user), assigned)| vec![Arg::from(tenant), Arg::from(user), Arg::from(assigned)])
            .collect();
        let key = ["tenant_id", "user_id"];
        upsert_rows(tx, "outbox_users", &["tenant_id", "user_id", "assigned"], &key, "DO UPDATE SET assigned = excluded.assigned", rows)
            .await?;
        Ok(())
    }

    /// Records a change the projection made to the user's facts (if it knows the user).
    pub fn update(&mut self, key: &Key, change: impl FnOnce(&mut UserFacts)) {
        if let Some(facts) = self.users.get_mut(key) {
            change(facts);
        }
    }

    /// Another kind of event may read or change any of it: written, then forgotten.
    pub async fn forget(&mut self, tx: &mut Tx) -> Result<(), ProjectionError> {
        self.flush(tx).await?;
        self.users.clear();
        self.tenants.clear();
        Ok(())
    }
}
