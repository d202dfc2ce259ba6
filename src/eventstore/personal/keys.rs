//! The tables behind personal data: per-subject data keys (`personal_data_keys`) and each
//! tenant's pseudonym secret (`pseudonym_secrets`), both wrapped by the master key.

use chrono::Utc;

use crate::args;
use crate::db::{Arg, Backend, Db, DbError, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub key_id: String,
    pub wrapped_key: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Id {
    key_id: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Secret {
    wrapped_secret: String,
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn with_list(tenant: &str, list: &[String]) -> Vec<Arg> {
    std::iter::once(Arg::from(tenant)).chain(list.iter().map(|v| Arg::from(v.as_str()))).collect()
}

/// The keys among `ids` that still exist.
pub async fn by_ids(tx: &mut Tx, tenant: &str, ids: &[String]) -> Result<Vec<KeyRow>, DbError> {
    where_in(tx, tenant, "key_id", ids).await
}

/// Every key of the subjects.
pub async fn by_subjects(tx: &mut Tx, tenant: &str, subjects: &[String]) -> Result<Vec<KeyRow>, DbError> {
    where_in(tx, tenant, "subject", subjects).await
}

/// The tenant's keys whose `column` is one of `values`, 500 values a statement.
async fn where_in(tx: &mut Tx, tenant: &str, column: &str, values: &[String]) -> Result<Vec<KeyRow>, DbError> {
    let mut rows = Vec::new();
    for chunk in values.chunks(500) {
        let sql = format!(
            "SELECT key_id, wrapped_key FROM personal_data_keys WHERE tenant_id = $1 AND {column} IN ({})",
            placeholders(2, chunk.len())
        );
        rows.extend(tx.fetch_all::<KeyRow>(&sql, &with_list(tenant, chunk)).await?);
    }
    Ok(rows)
}

/// The subject's key (the oldest, should racing writers have made two).
async fn of_subject(tx: &mut Tx, tenant: &str, subject: &str) -> Result<Option<KeyRow>, DbError> {
    tx.fetch_optional(
        "SELECT key_id, wrapped_key FROM personal_data_keys WHERE tenant_id = $1 AND subject = $2 ORDER BY created_at, key_id LIMIT 1",
        args![tenant, subject],
    )
    .await
}

/// The subject's key as `of_subject` finds it, or else the given one, inserted. On PostgreSQL one
/// statement in its own transaction (racing writers may both insert: `of_subject` takes the
/// oldest, as for two transactions); on SQLite a write transaction (one writer at a time).
pub async fn of_subject_or_insert(db: &Db, tenant: &str, key_id: &str, subject: &str, wrapped_key: &str) -> Result<KeyRow, DbError> {
    if db.backend() == Backend::Sqlite {
        let mut tx = db.begin_system().await?;
        let row = match of_subject(&mut tx, tenant, subject).await? {
            Some(row) => row,
            None => {
                insert(&mut tx, tenant, key_id, subject, wrapped_key).await?;
                KeyRow { key_id: key_id.to_owned(), wrapped_key: wrapped_key.to_owned() }
            }
        };
        tx.commit().await?;
        return Ok(row);
    }
    let row: Option<KeyRow> = db
        .read_optional(
            "WITH existing AS (
                 SELECT key_id, wrapped_key FROM personal_data_keys
                  WHERE tenant_id = $1 AND subject = $3 ORDER BY created_at, key_id LIMIT 1),
             inserted AS (
                 INSERT INTO personal_data_keys (tenant_id, key_id, subject, wrapped_key, created_at)
                 SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM existing)
                 RETURNING key_id, wrapped_key)
             SELECT key_id, wrapped_key FROM existing UNION ALL SELECT key_id, wrapped_key FROM inserted",
            args![tenant, key_id, subject, wrapped_key, Utc::now()],
        )
        .await?;
    row.ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))
}

async fn insert(tx: &mut Tx, tenant: &str, key_id: &str, subject: &str, wrapped_key: &str) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO personal_data_keys (tenant_id, key_id, subject, wrapped_key, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![tenant, key_id, subject, wrapped_key, Utc::now()],
    )
    .await?;
    Ok(())
}

/// The ids of the subjects' keys.
pub async fn ids_of_subjects(tx: &mut Tx, tenant: &str, subjects: &[String]) -> Result<Vec<String>, DbError> {
    let sql = format!("SELECT key_id FROM personal_data_keys WHERE tenant_id = $1 AND subject IN ({})", placeholders(2, subjects.len()));
    Ok(tx.fetch_all::<Id>(&sql, &with_list(tenant, subjects)).await?.into_iter().map(|r| r.key_id).collect())
}

pub async fn delete_subjects(tx: &mut Tx, tenant: &str, subjects: &[String]) -> Result<u64, DbError> {
    let sql = format!("DELETE FROM personal_data_keys WHERE tenant_id = $1 AND subject IN ({})", placeholders(2, subjects.len()));
    tx.execute(&sql, &with_list(tenant, subjects)).await
}

pub async fn secret(tx: &mut Tx, tenant: &str) -> Result<Option<String>, DbError> {
    let row: Option<Secret> = tx.fetch_optional("SELECT wrapped_secret FROM pseudonym_secrets WHERE tenant_id = $1", args![tenant]).await?;
    Ok(row.map(|r| r.wrapped_secret))
}

/// Stores the tenant's secret unless another writer got there first (then theirs stands).
pub async fn insert_secret(tx: &mut Tx, tenant: &str, wrapped: &str) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO pseudonym_secrets (tenant_id, wrapped_secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO NOTHING",
        args![tenant, wrapped, Utc::now()],
    )
    .await?;
    Ok(())
}
