//! `users` and `user_licenses` folded in memory: mirrors `projections/users.rs`.

use std::collections::BTreeSet;

use foldhash::HashMap;

use chrono::{DateTime, Utc};

use super::{Fold, FoldedTable, Key, in_key_order};
use crate::db::Arg;
use crate::domain::user::UserEvent;
use crate::eventstore::StoredEvent;
use crate::projections::users::Columns;
use crate::projections::{FORGOTTEN, ProjectionError, decode_ref, local_id, tenant_of};

/// A user's row but its key; read back as stored (`StoredUser`) when a live batch folds on.
#[derive(sqlx::FromRow)]
struct UserState {
    upn: String,
    domain: String,
    immutable_id: String,
    #[sqlx(flatten)]
    profile: Columns,
    #[sqlx(try_from = "String")]
    status: Status,
    assigned: bool,
    usage_location: Option<String>,
    password_set: bool,
    mfa_enrolled: bool,
    forgotten: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// `users.status`, without an allocation per user.
#[derive(Clone, Copy)]
struct Status(&'static str);

impl From<String> for Status {
    fn from(stored: String) -> Self {
        Self(if stored == "SUSPENDED" { "SUSPENDED" } else { "ACTIVE" })
    }
}

/// The `users` columns the projection writes, in the order of a folded row.
pub const USER_COLUMNS: &[&str] = &[
    "tenant_id",
    "user_id",
    "upn",
    "domain",
    "immutable_id",
    "display_name",
    "given_name",
    "surname",
    "mail",
    "status",
    "assigned",
    "usage_location",
    "password_set",
    "mfa_enrolled",
    "forgotten",
    "created_at",
    "updated_at",
];

/// A `users` row as stored, read back so that a live batch folds on from it.
#[derive(sqlx::FromRow)]
pub struct StoredUser {
    tenant_id: String,
    user_id: String,
    #[sqlx(flatten)]
    state: UserState,
}

#[derive(Default)]
pub struct UsersFold {
    users: HashMap<Key, UserState>,
    licenses: HashMap<Key, BTreeSet<String>>,
}

impl UsersFold {
    /// A fold that starts from stored rows (a live batch's users) instead of from nothing.
    pub fn from_stored(rows: Vec<StoredUser>) -> Self {
        let users = rows.into_iter().map(|r| ((r.tenant_id, r.user_id), r.state)).collect();
        Self { users, licenses: HashMap::default() }
    }

    /// Whether the user has a row (created and not deleted).
    pub fn holds(&self, key: &Key) -> bool {
        self.users.contains_key(key)
    }

    fn touch(&mut self, key: &Key, at: DateTime<Utc>, change: impl FnOnce(&mut UserState)) {
        if let Some(user) = self.users.get_mut(key) {
            change(user);
            user.updated_at = at;
        }
    }
}

impl Fold for UsersFold {
    fn apply(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        let key = (tenant_of(event)?, local_id(event).to_owned());
        let at = event.occurred_at();
        match &*decode_ref::<UserEvent>(event)? {
            UserEvent::UserCreated { upn, immutable_id, profile, usage_location, .. } => {
                let forgotten = upn.is_forgotten() || profile.is_forgotten();
                let (upn, domain) =
                    upn.value().map_or_else(|| (FORGOTTEN.to_owned(), FORGOTTEN.to_owned()), |u| (u.to_string(), u.domain().to_string()));
                self.users.insert(
                    key,
                    UserState {
                        upn,
                        domain,
                        immutable_id: immutable_id.to_string(),
                        profile: Columns::of_ref(profile),
                        status: Status("ACTIVE"),
                        assigned: false,
                        usage_location: usage_location.clone().map(String::from),
                        password_set: false,
                        mfa_enrolled: false,
                        forgotten,
                        created_at: at,
                        updated_at: at,
                    },
                );
            }
            UserEvent::UserProfileUpdated { profile } => {
                let forgotten = profile.is_forgotten();
                let columns = Columns::of_ref(profile);
                self.touch(&key, at, |u| {
                    u.profile = columns;
                    u.forgotten |= forgotten;
                });
            }
            UserEvent::UserPasswordSet { .. } => self.touch(&key, at, |u| u.password_set = true),
            UserEvent::TotpEnrolled { .. } => self.touch(&key, at, |u| u.mfa_enrolled = true),
            UserEvent::TotpRemoved => self.touch(&key, at, |u| u.mfa_enrolled = false),
            UserEvent::RecoveryCodeUsed { .. } => {}
            UserEvent::UserSuspended => self.touch(&key, at, |u| u.status = Status("SUSPENDED")),
            UserEvent::UserReactivated => self.touch(&key, at, |u| u.status = Status("ACTIVE")),
            UserEvent::UserDeleted => {
                self.licenses.remove(&key);
                self.users.remove(&key);
            }
            UserEvent::UserAssigned => self.touch(&key, at, |u| u.assigned = true),
            UserEvent::UserUnassigned => self.touch(&key, at, |u| u.assigned = false),
            UserEvent::UsageLocationSet { usage_location } => {
                self.touch(&key, at, |u| u.usage_location = Some(String::from(usage_location.clone())));
            }
            UserEvent::LicenseGranted { sku_id } => {
                self.licenses.entry(key.clone()).or_default().insert(sku_id.to_string());
                self.touch(&key, at, |_| {});
            }
            UserEvent::LicenseRevoked { sku_id } => {
                if let Some(skus) = self.licenses.get_mut(&key) {
                    skus.remove(&sku_id.to_string());
                    if skus.is_empty() {
                        self.licenses.remove(&key);
                    }
                }
                self.touch(&key, at, |_| {});
            }
            UserEvent::UserForgotten { .. } => {
                // Unlike the others this statement leaves updated_at alone.
                if let Some(u) = self.users.get_mut(&key) {
                    u.upn = FORGOTTEN.to_owned();
                    u.domain = FORGOTTEN.to_owned();
                    u.profile = Columns::forgotten();
                    u.forgotten = true;
                }
            }
        }
        Ok(())
    }

    fn into_tables(self: Box<Self>) -> Vec<FoldedTable> {
        let Self { users, licenses } = *self;
        let users = FoldedTable::new(
            "users",
            USER_COLUMNS,
            in_key_order(users).into_iter().map(|((tenant, user), u)| {
                vec![
                    Arg::from(tenant),
                    Arg::from(user),
                    Arg::from(u.upn),
                    Arg::from(u.domain),
                    Arg::from(u.immutable_id),
                    Arg::from(u.profile.display_name),
                    Arg::from(u.profile.given_name),
                    Arg::from(u.profile.surname),
                    Arg::from(u.profile.mail),
                    Arg::from(u.status.0),
                    Arg::from(u.assigned),
                    Arg::from(u.usage_location),
                    Arg::from(u.password_set),
                    Arg::from(u.mfa_enrolled),
                    Arg::from(u.forgotten),
                    Arg::from(u.created_at),
                    Arg::from(u.updated_at),
                ]
            }),
        );
        let licenses = FoldedTable::new(
            "user_licenses",
            &["tenant_id", "user_id", "sku_id"],
            in_key_order(licenses).into_iter().flat_map(|((tenant, user), skus)| {
                skus.into_iter().map(move |sku| vec![Arg::from(tenant.clone()), Arg::from(user.clone()), Arg::from(sku)])
            }),
        );
        vec![users, licenses]
    }
}
