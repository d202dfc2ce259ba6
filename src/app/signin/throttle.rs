//! Failure throttling per account (the UPN as typed, known or not, so locks reveal nothing) and
//! per client address, both named by their pseudonyms (keyed hashes), so the table holds no
//! personal data in clear. From the fifth failure in a row an account (the twentieth for an address,
//! which many people may share behind one NAT) is locked, for a time that doubles with every
//! further failure (1 minute, 2, 4 … at most a day). A success clears the account's count.

use chrono::{DateTime, TimeDelta, Utc};

use crate::app::AppError;
use crate::args;
use crate::db::Db;
use crate::domain::values::Pseudonym;

/// Failures allowed before the first lockout of an account.
pub const FREE_ACCOUNT_FAILURES: i64 = 5;
/// Failures allowed before the first lockout of a client address.
pub const FREE_ADDRESS_FAILURES: i64 = 20;
const MAX_LOCK_MINUTES: i64 = 24 * 60;

#[derive(Debug, sqlx::FromRow)]
struct Row {
    failures: i64,
    locked_until: Option<DateTime<Utc>>,
}

pub fn account(upn: &Pseudonym) -> String {
    format!("account:{upn}")
}

pub fn address(ip: &Pseudonym) -> String {
    format!("ip:{ip}")
}

/// Whether the subject is locked now: one read, no transaction.
pub async fn locked(db: &Db, tenant: &str, subject: &str) -> Result<bool, AppError> {
    let row: Option<Row> = db
        .read_optional("SELECT failures, locked_until FROM sign_in_throttle WHERE tenant_id = $1 AND subject = $2", args![tenant, subject])
        .await?;
    Ok(row.and_then(|r| r.locked_until).is_some_and(|until| until > Utc::now()))
}

/// Where an account and a client address stand, read together before a password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub account_locked: bool,
    pub address_locked: bool,
    /// The account has failures on record, so a success has a count to clear.
    pub account_failed: bool,
}

#[derive(Debug, sqlx::FromRow)]
struct SubjectRow {
    subject: String,
    failures: i64,
    locked_until: Option<DateTime<Utc>>,
}

/// Both subjects' rows in one statement (a sign-in's hot path: two reads and their transactions
/// were six round trips).
pub async fn standing(db: &Db, tenant: &str, account: &str, address: &str) -> Result<Standing, AppError> {
    let rows: Vec<SubjectRow> = db
        .read_all(
            "SELECT subject, failures, locked_until FROM sign_in_throttle WHERE tenant_id = $1 AND subject IN ($2, $3)",
            args![tenant, account, address],
        )
        .await?;
    let now = Utc::now();
    let row = |subject: &str| rows.iter().find(|r| r.subject == subject);
    let locked = |subject: &str| row(subject).and_then(|r| r.locked_until).is_some_and(|until| until > now);
    Ok(Standing {
        account_locked: locked(account),
        address_locked: locked(address),
        account_failed: row(account).is_some_and(|r| r.failures > 0 || r.locked_until.is_some()),
    })
}

/// Counts a failure; `free` failures are allowed before the first lockout.
pub async fn fail(db: &Db, tenant: &str, subject: &str, free: i64) -> Result<(), AppError> {
    let now = Utc::now();
    let mut tx = db.begin_system().await?;
    let row: Option<Row> = tx
        .fetch_optional("SELECT failures, locked_until FROM sign_in_throttle WHERE tenant_id = $1 AND subject = $2", args![tenant, subject])
        .await?;
    let failures = row.map_or(0, |r| r.failures) + 1;
    let locked_until = (failures >= free).then(|| {
        let minutes = 1i64.checked_shl((failures - free).min(20) as u32).unwrap_or(MAX_LOCK_MINUTES).min(MAX_LOCK_MINUTES);
        now + TimeDelta::minutes(minutes)
    });
    tx.execute(
        "INSERT INTO sign_in_throttle (tenant_id, subject, failures, locked_until, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, subject) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until,
                                                       updated_at = excluded.updated_at",
        &[tenant.into(), subject.into(), failures.into(), locked_until.into(), now.into()],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Claims a TOTP time step for a user: false when it was already used (a replayed code).
pub async fn claim_totp_step(db: &Db, tenant: &str, user_id: &str, step: u64) -> Result<bool, AppError> {
    let step = i64::try_from(step).map_err(|_| AppError::Internal("TOTP step out of range".into()))?;
    let mut tx = db.begin_system().await?;
    tx.execute("DELETE FROM totp_used_steps WHERE tenant_id = $1 AND user_id = $2 AND step < $3", args![tenant, user_id, step - 10])
        .await?;
    let inserted = tx
        .execute(
            "INSERT INTO totp_used_steps (tenant_id, user_id, step) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            args![tenant, user_id, step],
        )
        .await?;
    tx.commit().await?;
    Ok(inserted == 1)
}

/// Forgets the subject's failures (a success).
pub async fn clear(db: &Db, tenant: &str, subject: &str) -> Result<(), AppError> {
    db.execute_one("DELETE FROM sign_in_throttle WHERE tenant_id = $1 AND subject = $2", args![tenant, subject]).await?;
    Ok(())
}
