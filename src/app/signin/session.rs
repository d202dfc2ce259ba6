//! Sessions of the sign-in pages. A session with something to keep (a signed-in user, or a
//! second factor outstanding) is stored server-side: the cookie holds a random id, the database
//! its SHA-256 with the state, so any instance can serve any request. A session nobody has
//! signed in on yet is *anonymous*: it lives only in its cookie, `a.<issued, unix seconds>.<random>`,
//! and its CSRF token is a tag of that cookie under the master key (`Crypto::tag`), which any
//! instance can recompute. So showing the sign-in page writes nothing, and anonymous requests
//! cannot fill the session table.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::app::AppError;
use crate::args;
use crate::crypto::Crypto;
use crate::db::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub tenant_id: String,
    pub session_hash: String,
    pub csrf_token: String,
    pub user_id: Option<String>,
    pub auth_instant: Option<DateTime<Utc>>,
    pub mfa_done: bool,
    pub pending_user_id: Option<String>,
    pub pending_upn: Option<String>,
    pub pending_totp_seed: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// Lives only in its cookie (see the module's comment); `created_at` is when it was issued.
    #[sqlx(skip)]
    pub anonymous: bool,
}

impl SessionRow {
    /// A session with nobody in it yet, begun at `at`.
    fn empty(tenant: &str, cookie: &str, csrf_token: String, at: DateTime<Utc>, anonymous: bool) -> Self {
        Self {
            tenant_id: tenant.to_owned(),
            session_hash: hash(cookie),
            csrf_token,
            user_id: None,
            auth_instant: None,
            mfa_done: false,
            pending_user_id: None,
            pending_upn: None,
            pending_totp_seed: None,
            created_at: at,
            last_seen_at: at,
            anonymous,
        }
    }
}

const COLUMNS: &str = "tenant_id, session_hash, csrf_token, user_id, auth_instant, mfa_done, pending_user_id, pending_upn,
                       pending_totp_seed, created_at, last_seen_at";

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
}

pub fn hash(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

/// What a stored session is worth now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liveness {
    /// Past its idle or absolute timeout: delete it.
    Expired,
    /// Live, and `last_seen_at` is old enough to be worth writing again.
    Touch,
    /// Live, and seen recently enough: no write.
    Fresh,
}

/// `last_seen_at` is written at most this often (a tenth of the idle timeout, at most a minute),
/// so single sign-on does not cost a write and a durable commit per token. The idle timeout stays
/// an upper bound: a session expires at most this much *earlier* after its last use, never later.
fn touch_interval(idle: TimeDelta) -> TimeDelta {
    (idle / 10).min(TimeDelta::minutes(1))
}

fn liveness(row: &SessionRow, now: DateTime<Utc>, idle: TimeDelta, absolute: TimeDelta) -> Liveness {
    if now - row.last_seen_at > idle || now - row.created_at > absolute {
        Liveness::Expired
    } else if now - row.last_seen_at >= touch_interval(idle) {
        Liveness::Touch
    } else {
        Liveness::Fresh
    }
}

const ANONYMOUS_PREFIX: &str = "a.";
const ANONYMOUS_TAG_PURPOSE: &str = "wsfed anonymous session";

pub fn is_anonymous(cookie: &str) -> bool {
    cookie.starts_with(ANONYMOUS_PREFIX)
}

/// A new anonymous session: (cookie value, row). Nothing is written.
pub fn anonymous(crypto: &Crypto, tenant: &str) -> Result<(String, SessionRow), AppError> {
    let now = Utc::now();
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let cookie = format!("{ANONYMOUS_PREFIX}{}.{}", now.timestamp(), B64.encode(bytes));
    let issued = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let row = anonymous_row(crypto, tenant, &cookie, issued)?;
    Ok((cookie, row))
}

fn anonymous_row(crypto: &Crypto, tenant: &str, cookie: &str, issued: DateTime<Utc>) -> Result<SessionRow, AppError> {
    // Bound to the tenant too: a page of one tenant's sign-in cannot be posted to another's.
    let tag = crypto.tag(ANONYMOUS_TAG_PURPOSE, format!("{tenant}\n{cookie}").as_bytes()).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(SessionRow::empty(tenant, cookie, B64.encode(tag), issued, true))
}

/// An anonymous session from its cookie, while it is live. It is never touched: it expires the
/// idle timeout after it was issued. Its CSRF token is recomputed, so a cookie with a changed
/// issue time no longer matches the token its form carries.
fn open_anonymous(
    crypto: &Crypto,
    tenant: &str,
    cookie: &str,
    idle: TimeDelta,
    absolute: TimeDelta,
) -> Result<Option<SessionRow>, AppError> {
    let issued = cookie
        .strip_prefix(ANONYMOUS_PREFIX)
        .and_then(|rest| rest.split_once('.'))
        .and_then(|(seconds, _)| seconds.parse::<i64>().ok())
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0));
    let Some(issued) = issued else { return Ok(None) };
    let row = anonymous_row(crypto, tenant, cookie, issued)?;
    Ok((liveness(&row, Utc::now(), idle, absolute) != Liveness::Expired).then_some(row))
}

/// Loads a live session; a stored one past its idle or absolute timeout is deleted and not
/// returned. A stored session's read is one statement, with no write lock (SQLite) and nothing
/// to commit durably (PostgreSQL); only an expiry or a due touch writes. An anonymous session
/// costs no I/O.
pub async fn load(
    db: &Db,
    crypto: &Crypto,
    tenant: &str,
    cookie: &str,
    idle: TimeDelta,
    absolute: TimeDelta,
) -> Result<Option<SessionRow>, AppError> {
    if is_anonymous(cookie) {
        return open_anonymous(crypto, tenant, cookie, idle, absolute);
    }
    let row: Option<SessionRow> = db
        .read_optional(
            &format!("SELECT {COLUMNS} FROM wsfed_sessions WHERE tenant_id = $1 AND session_hash = $2"),
            args![tenant, hash(cookie)],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let now = Utc::now();
    match liveness(&row, now, idle, absolute) {
        Liveness::Expired => {
            remove(db, tenant, &row.session_hash).await?;
            Ok(None)
        }
        Liveness::Touch => {
            db.execute_one(
                "UPDATE wsfed_sessions SET last_seen_at = $1 WHERE tenant_id = $2 AND session_hash = $3",
                args![now, tenant, row.session_hash.clone()],
            )
            .await?;
            Ok(Some(row))
        }
        Liveness::Fresh => Ok(Some(row)),
    }
}

async fn insert(db: &Db, row: &SessionRow) -> Result<(), AppError> {
    db.execute_one(
        "INSERT INTO wsfed_sessions (tenant_id, session_hash, csrf_token, user_id, auth_instant, mfa_done, pending_user_id, pending_upn,
                                     pending_totp_seed, created_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            row.tenant_id.clone().into(),
            row.session_hash.clone().into(),
            row.csrf_token.clone().into(),
            row.user_id.clone().into(),
            row.auth_instant.into(),
            row.mfa_done.into(),
            row.pending_user_id.clone().into(),
            row.pending_upn.clone().into(),
            row.pending_totp_seed.clone().into(),
            row.created_at.into(),
            row.last_seen_at.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Records the password step: the user whose second factor is outstanding. An anonymous session
/// becomes a stored one under a new id: returns its (cookie value, row) then.
pub async fn set_pending(
    db: &Db,
    row: &SessionRow,
    user_id: Option<&str>,
    upn: Option<&str>,
    seed: Option<&str>,
) -> Result<Option<(String, SessionRow)>, AppError> {
    if row.anonymous {
        let cookie = random_token();
        let stored = SessionRow {
            pending_user_id: user_id.map(str::to_owned),
            pending_upn: upn.map(str::to_owned),
            pending_totp_seed: seed.map(str::to_owned),
            ..SessionRow::empty(&row.tenant_id, &cookie, random_token(), Utc::now(), false)
        };
        insert(db, &stored).await?;
        return Ok(Some((cookie, stored)));
    }
    db.execute_one(
        "UPDATE wsfed_sessions SET pending_user_id = $1, pending_upn = $2, pending_totp_seed = $3 WHERE tenant_id = $4 AND session_hash = $5",
        args![user_id.map(str::to_owned), upn.map(str::to_owned), seed.map(str::to_owned), row.tenant_id.clone(), row.session_hash.clone()],
    )
    .await?;
    Ok(None)
}

/// Authentication finished: the old session id is replaced by a new one (no fixation), in one
/// statement; an anonymous session has no row to replace, and should a stored one be gone
/// meanwhile (expired, signed out), the new one is inserted.
pub async fn authenticate(db: &Db, old: &SessionRow, user_id: &str, mfa_done: bool) -> Result<(String, SessionRow), AppError> {
    let cookie = random_token();
    let now = Utc::now();
    let row = SessionRow {
        session_hash: hash(&cookie),
        csrf_token: random_token(),
        user_id: Some(user_id.to_owned()),
        auth_instant: Some(now),
        mfa_done,
        pending_user_id: None,
        pending_upn: None,
        pending_totp_seed: None,
        created_at: now,
        last_seen_at: now,
        anonymous: false,
        ..old.clone()
    };
    if old.anonymous {
        insert(db, &row).await?;
        return Ok((cookie, row));
    }
    let replaced = db
        .execute_one(
            "UPDATE wsfed_sessions SET session_hash = $1, csrf_token = $2, user_id = $3, auth_instant = $4, mfa_done = $5,
                                       pending_user_id = NULL, pending_upn = NULL, pending_totp_seed = NULL,
                                       created_at = $6, last_seen_at = $7
             WHERE tenant_id = $8 AND session_hash = $9",
            args![
                row.session_hash.clone(),
                row.csrf_token.clone(),
                row.user_id.clone(),
                now,
                mfa_done,
                now,
                now,
                old.tenant_id.clone(),
                old.session_hash.clone()
            ],
        )
        .await?;
    if replaced == 0 {
        insert(db, &row).await?;
    }
    Ok((cookie, row))
}

pub async fn remove(db: &Db, tenant: &str, session_hash: &str) -> Result<(), AppError> {
    db.execute_one("DELETE FROM wsfed_sessions WHERE tenant_id = $1 AND session_hash = $2", args![tenant, session_hash]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(created_ago: TimeDelta, seen_ago: TimeDelta, now: DateTime<Utc>) -> SessionRow {
        SessionRow { last_seen_at: now - seen_ago, ..SessionRow::empty("t", "cookie", "c".into(), now - created_ago, false) }
    }

    #[test]
    fn sessions_expire_on_idle_and_absolute_timeouts_and_are_touched_at_most_once_a_minute() {
        let now = Utc::now();
        let (idle, absolute) = (TimeDelta::minutes(30), TimeDelta::hours(8));
        let minutes = TimeDelta::minutes;
        assert_eq!(liveness(&row(minutes(5), TimeDelta::seconds(59), now), now, idle, absolute), Liveness::Fresh);
        assert_eq!(liveness(&row(minutes(5), minutes(1), now), now, idle, absolute), Liveness::Touch);
        assert_eq!(liveness(&row(minutes(45), minutes(30), now), now, idle, absolute), Liveness::Touch);
        assert_eq!(liveness(&row(minutes(45), minutes(31), now), now, idle, absolute), Liveness::Expired);
        assert_eq!(liveness(&row(minutes(8 * 60 + 1), TimeDelta::zero(), now), now, idle, absolute), Liveness::Expired);
        // A short idle timeout is touched proportionally more often.
        let idle = minutes(2);
        assert_eq!(liveness(&row(minutes(1), TimeDelta::seconds(11), now), now, idle, absolute), Liveness::Fresh);
        assert_eq!(liveness(&row(minutes(1), TimeDelta::seconds(12), now), now, idle, absolute), Liveness::Touch);
        assert_eq!(liveness(&row(minutes(3), TimeDelta::seconds(121), now), now, idle, absolute), Liveness::Expired);
    }

    #[test]
    fn anonymous_sessions_live_in_their_cookie_bound_to_tenant_and_issue_time() {
        use crate::crypto::{MasterKey, MasterKeyRing};
        let crypto = Crypto::new(MasterKeyRing::new(MasterKey::generate("k1").unwrap(), vec![]));
        let (idle, absolute) = (TimeDelta::minutes(30), TimeDelta::hours(8));
        let (cookie, row) = anonymous(&crypto, "t1").unwrap();
        assert!(is_anonymous(&cookie) && row.anonymous && row.user_id.is_none());
        assert!(!is_anonymous(&random_token()), "stored ids are base64url, without a dot");
        let opened = open_anonymous(&crypto, "t1", &cookie, idle, absolute).unwrap().unwrap();
        assert_eq!(opened.csrf_token, row.csrf_token);
        // Another tenant, another master key or a changed issue time give another CSRF token.
        assert_ne!(open_anonymous(&crypto, "t2", &cookie, idle, absolute).unwrap().unwrap().csrf_token, row.csrf_token);
        let other = Crypto::new(MasterKeyRing::new(MasterKey::generate("k2").unwrap(), vec![]));
        assert_ne!(open_anonymous(&other, "t1", &cookie, idle, absolute).unwrap().unwrap().csrf_token, row.csrf_token);
        let issued = row.created_at.timestamp();
        let later = cookie.replacen(&issued.to_string(), &(issued + 600).to_string(), 1);
        assert_ne!(open_anonymous(&crypto, "t1", &later, idle, absolute).unwrap().unwrap().csrf_token, row.csrf_token);
        // Expired the idle timeout after it was issued; malformed cookies are no session.
        let old = format!("a.{}.x", (Utc::now() - TimeDelta::minutes(31)).timestamp());
        assert!(open_anonymous(&crypto, "t1", &old, idle, absolute).unwrap().is_none());
        for bad in ["a.", "a.x.y", "a.123", "a.99999999999999999999.x"] {
            assert!(open_anonymous(&crypto, "t1", bad, idle, absolute).unwrap().is_none(), "{bad}");
        }
    }
}
