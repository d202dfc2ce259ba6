use std::collections::{BTreeMap, BTreeSet};

use cqrs_es::Aggregate;

use super::fold::{Fold as _, Key, StoredUser, USER_COLUMNS, UsersFold, replace_columns, upsert_rows};
use super::{FORGOTTEN, Projection, ProjectionError, decode_ref, local_id, tenant_of};
use crate::args;
use crate::db::{Arg, Tx, key_list};
use crate::domain::Personal;
use crate::domain::user::{User, UserEvent, UserProfile};
use crate::eventstore::StoredEvent;

pub struct UsersProjection;

#[async_trait::async_trait]
impl Projection for UsersProjection {
    fn name(&self) -> &'static str {
        "users"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["users", "user_licenses"]
    }

    fn reads_personal_data(&self) -> bool {
        true
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        aggregate_type == User::TYPE
    }

    fn fold(&self) -> Option<Box<dyn super::Fold>> {
        Some(Box::new(super::fold::UsersFold::default()))
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        self.apply_batch(tx, &[event]).await
    }

    /// The batch folded in memory by the rebuild's own reducer (`fold::UsersFold`), starting
    /// from the stored rows of the users it touches, then written back: a few statements per
    /// batch instead of one or two per event.
    async fn apply_batch(&self, tx: &mut Tx, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        let events: Vec<&StoredEvent> = events.iter().copied().filter(|e| e.aggregate_type == User::TYPE).collect();
        if events.is_empty() {
            return Ok(());
        }
        // A user whose first event here creates it has no row to read.
        let mut touched: BTreeSet<Key> = BTreeSet::new();
        let mut stored: BTreeSet<Key> = BTreeSet::new();
        for event in &events {
            let key = (tenant_of(event)?, local_id(event).to_owned());
            if touched.insert(key.clone()) && event.event_type != "UserCreated" {
                stored.insert(key);
            }
        }
        let rows: Vec<StoredUser> = if stored.is_empty() {
            Vec::new()
        } else {
            let sql = tx.select_by_keys(&format!("SELECT {} FROM users", USER_COLUMNS.join(", ")), &["tenant_id", "user_id"], 1);
            tx.fetch_all(&sql, &[key_list(stored.iter().map(|(t, u)| [t.as_str(), u.as_str()]))]).await?
        };
        let mut fold = UsersFold::from_stored(rows);
        let mut licenses = Licenses::default();
        for event in &events {
            fold.apply(event)?;
            licenses.apply(event)?;
        }
        // Deletions are rare: a statement each, by the key.
        let gone: Vec<&Key> = touched.iter().filter(|k| !fold.holds(k)).collect();
        for (tenant, user) in &gone {
            tx.execute("DELETE FROM user_licenses WHERE tenant_id = $1 AND user_id = $2", args![tenant.as_str(), user.as_str()]).await?;
            tx.execute("DELETE FROM users WHERE tenant_id = $1 AND user_id = $2", args![tenant.as_str(), user.as_str()]).await?;
        }
        let tables = Box::new(fold).into_tables();
        if let Some(users) = tables.into_iter().find(|t| t.table == "users") {
            let key = ["tenant_id", "user_id"];
            upsert_rows(tx, "users", USER_COLUMNS, &key, &replace_columns(USER_COLUMNS, &key), users.rows.collect()).await?;
        }
        licenses.write(tx, &gone).await
    }
}

/// Licenses granted and revoked in a batch, the last word per (user, SKU). Written without
/// reading them first: the grants in one statement (each inserts or finds its row), each
/// revoke (rare) deletes its row.
#[derive(Default)]
struct Licenses {
    last: BTreeMap<(Key, String), bool>,
}

impl Licenses {
    fn apply(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        if !matches!(event.event_type.as_str(), "LicenseGranted" | "LicenseRevoked") {
            return Ok(());
        }
        let key = (tenant_of(event)?, local_id(event).to_owned());
        match &*decode_ref::<UserEvent>(event)? {
            UserEvent::LicenseGranted { sku_id } => self.last.insert((key, sku_id.to_string()), true),
            UserEvent::LicenseRevoked { sku_id } => self.last.insert((key, sku_id.to_string()), false),
            _ => None,
        };
        Ok(())
    }

    /// Users deleted in the batch (`gone`) lost every license with their row.
    async fn write(self, tx: &mut Tx, gone: &[&Key]) -> Result<(), ProjectionError> {
        let mut granted = Vec::new();
        for ((key, sku), held) in self.last {
            if gone.contains(&&key) {
                continue;
            }
            let ((tenant, user), sku) = (key, sku);
            if held {
                granted.push(vec![Arg::from(tenant), Arg::from(user), Arg::from(sku)]);
            } else {
                tx.execute("DELETE FROM user_licenses WHERE tenant_id = $1 AND user_id = $2 AND sku_id = $3", args![tenant, user, sku])
                    .await?;
            }
        }
        let columns = ["tenant_id", "user_id", "sku_id"];
        upsert_rows(tx, "user_licenses", &columns, &columns, "DO NOTHING", granted).await?;
        Ok(())
    }
}

/// A profile as the `users` columns hold it; a forgotten one leaves the marker in the one
/// required column and nothing in the others.
#[derive(sqlx::FromRow)]
pub(super) struct Columns {
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
}

impl Columns {
    pub fn forgotten() -> Self {
        Self { display_name: FORGOTTEN.to_owned(), given_name: None, surname: None, mail: None }
    }

    pub fn of_ref(profile: &Personal<UserProfile>) -> Self {
        match profile.value() {
            Some(p) => Self {
                display_name: p.display_name.to_string(),
                given_name: p.given_name.as_ref().map(|n| n.to_string()),
                surname: p.surname.as_ref().map(|n| n.to_string()),
                mail: p.mail.clone(),
            },
            None => Self::forgotten(),
        }
    }
}
