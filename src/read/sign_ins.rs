use chrono::{DateTime, Utc};

use super::scoped;
use crate::app::TenantScope;
use crate::args;
use crate::db::{Db, DbError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SignInRow {
    pub tenant_id: String,
    pub sign_in_id: String,
    pub user_id: Option<String>,
    pub upn: String,
    /// Pseudonym of the UPN as typed.
    pub account: Option<String>,
    pub succeeded: bool,
    pub reason: Option<String>,
    pub realm: String,
    pub ip: String,
    pub user_agent: String,
    pub mfa_done: bool,
    pub claims: Option<String>,
    /// Personal data of the attempt was forgotten.
    pub forgotten: bool,
    pub occurred_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "tenant_id, sign_in_id, user_id, upn, account, succeeded, reason, realm, ip, user_agent, mfa_done, claims, forgotten, occurred_at";

/// A user's sign-in attempts, newest first, a page at a time, plus whether more follow.
pub async fn page(
    db: &Db,
    scope: &TenantScope,
    user_id: &str,
    first: i64,
    before: Option<&str>,
) -> Result<(Vec<SignInRow>, bool), DbError> {
    let mut tx = scoped(db, scope).await?;
    let tenant = scope.tenant_id().to_string();
    let mut rows: Vec<SignInRow> = match before {
        Some(cursor) => {
            tx.fetch_all(
                &format!(
                    "SELECT {COLUMNS} FROM sign_ins WHERE tenant_id = $1 AND user_id = $2 AND sign_in_id < $3 ORDER BY sign_in_id DESC LIMIT $4"
                ),
                args![tenant, user_id, cursor, first + 1],
            )
            .await?
        }
        None => {
            tx.fetch_all(
                &format!("SELECT {COLUMNS} FROM sign_ins WHERE tenant_id = $1 AND user_id = $2 ORDER BY sign_in_id DESC LIMIT $3"),
                args![tenant, user_id, first + 1],
            )
            .await?
        }
    };
    tx.commit().await?;
    let more = rows.len() as i64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}
