use chrono::{DateTime, Utc};

use super::scoped;
use crate::app::TenantScope;
use crate::args;
use crate::db::{Arg, Backend, Db, DbError};
use crate::domain::user::{User, UserStatus};
use crate::domain::values::{TenantId, UserId};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UserRow {
    pub tenant_id: String,
    pub user_id: String,
    pub upn: String,
    pub domain: String,
    pub immutable_id: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub status: String,
    pub assigned: bool,
    pub usage_location: Option<String>,
    pub password_set: bool,
    /// Personal data of the user was forgotten (the values show as `(forgotten)`).
    pub forgotten: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    /// A user of whom a mutation's answer shows nothing but the id (no read needed for it);
    /// the other columns are empty and never shown.
    pub fn known_by_id(tenant_id: String, user_id: String) -> Self {
        Self {
            tenant_id,
            user_id,
            upn: String::new(),
            domain: String::new(),
            immutable_id: String::new(),
            display_name: String::new(),
            given_name: None,
            surname: None,
            mail: None,
            status: String::new(),
            assigned: false,
            usage_location: None,
            password_set: false,
            forgotten: false,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }
}

impl UserRow {
    /// A user as the write side holds them after a command (`app::ChangedUser`), for the
    /// mutation's answer: the columns a command decides, as the projection writes them; the
    /// profile and the timestamps are left empty and never shown (the answer reads those back).
    /// `None` for a user that has no row (deleted) or whose UPN is not in clear (forgotten).
    pub fn decided(tenant_id: TenantId, user_id: UserId, user: &User) -> Option<Self> {
        let upn = user.upn.as_ref().filter(|_| !user.forgotten)?;
        let status = match user.status {
            UserStatus::Active => "ACTIVE",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Deleted => return None,
        };
        Some(Self {
            upn: upn.to_string(),
            domain: upn.domain().to_string(),
            immutable_id: user.immutable_id.as_ref()?.to_string(),
            status: status.to_owned(),
            assigned: user.assigned,
            usage_location: user.usage_location.clone().map(String::from),
            password_set: user.password_hash.is_some(),
            ..Self::known_by_id(tenant_id.to_string(), user_id.to_string())
        })
    }
}

const COLUMNS: &str = "tenant_id, user_id, upn, domain, immutable_id, display_name, given_name, surname, mail, status, assigned,
                       usage_location, password_set, forgotten, created_at, updated_at";

/// Filters of the `users` query; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub status: Option<String>,
    pub domain: Option<String>,
    pub assigned: Option<bool>,
    /// Case-insensitive substring of the UPN or display name.
    pub search: Option<String>,
}

/// One page in a stable order (user ids are time-ordered UUIDs, so: creation order), plus
/// whether more follow.
pub async fn page(
    db: &Db,
    scope: &TenantScope,
    filter: &UserFilter,
    first: i64,
    after: Option<&str>,
) -> Result<(Vec<UserRow>, bool), DbError> {
    let mut sql = format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1");
    let mut args: Vec<Arg> = vec![scope.tenant_id().to_string().into()];
    let mut push = |clause: &str, arg: Arg, sql: &mut String| {
        args.push(arg);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(after) = after {
        push(" AND user_id > ?", after.into(), &mut sql);
    }
    if let Some(status) = &filter.status {
        push(" AND status = ?", status.as_str().into(), &mut sql);
    }
    if let Some(domain) = &filter.domain {
        push(" AND domain = ?", domain.as_str().into(), &mut sql);
    }
    if let Some(assigned) = filter.assigned {
        push(" AND assigned = ?", assigned.into(), &mut sql);
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
        let escaped = search.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        push(" AND (upn LIKE ? ESCAPE '\\'", pattern.clone().into(), &mut sql);
        push(" OR lower(display_name) LIKE ? ESCAPE '\\')", pattern.into(), &mut sql);
    }
    push(" ORDER BY user_id LIMIT ?", (first + 1).into(), &mut sql);
    let mut tx = scoped(db, scope).await?;
    let mut rows: Vec<UserRow> = tx.fetch_all(&sql, &args).await?;
    tx.commit().await?;
    let more = rows.len() as i64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

pub async fn get(db: &Db, scope: &TenantScope, user_id: &str) -> Result<Option<UserRow>, DbError> {
    // One statement, as `by_upn`: every user mutation reads its user back.
    let sql = match db.backend() {
        Backend::Postgres => format!("SELECT {COLUMNS} FROM user_by_id($1, $2)"),
        Backend::Sqlite => format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND user_id = $2"),
    };
    db.read_confined_optional(&sql, args![scope.tenant_id().to_string(), user_id]).await
}

pub async fn by_upn(db: &Db, scope: &TenantScope, upn: &str) -> Result<Option<UserRow>, DbError> {
    // One statement (the sign-in's hot path). On PostgreSQL a function that sets the tenant for
    // its own statement (migration 0090) instead of BEGIN + tenant, SELECT, COMMIT; SQLite has
    // no row-level security to confine.
    let sql = match db.backend() {
        Backend::Postgres => format!("SELECT {COLUMNS} FROM user_by_upn($1, $2)"),
        Backend::Sqlite => format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND upn = $2"),
    };
    db.read_confined_optional(&sql, args![scope.tenant_id().to_string(), upn]).await
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Sku {
    sku_id: String,
}

pub async fn licenses(db: &Db, scope: &TenantScope, user_id: &str) -> Result<Vec<String>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let rows: Vec<Sku> = tx
        .fetch_all(
            "SELECT sku_id FROM user_licenses WHERE tenant_id = $1 AND user_id = $2 ORDER BY sku_id",
            args![scope.tenant_id().to_string(), user_id],
        )
        .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| r.sku_id).collect())
}
