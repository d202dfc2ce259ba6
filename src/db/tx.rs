use std::borrow::Cow;

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Postgres, Sqlite, Transaction};

use super::{Arg, DbError};

/// A row type readable from both backends.
pub trait Row: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}

/// A transaction on either backend.
pub enum Tx {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(v) => query.bind(v.clone()),
                Arg::Int(v) => query.bind(*v),
                Arg::Bool(v) => query.bind(*v),
                Arg::Time(v) => query.bind(*v),
                Arg::MaybeTime(v) => query.bind(*v),
            };
        }
        query
    }};
}

fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    if sql.contains('$') { Cow::Owned(sql.replace('$', "?")) } else { Cow::Borrowed(sql) }
}

impl Tx {
    pub async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, DbError> {
        Ok(match self {
            Self::Postgres(tx) => bind_all!(sqlx::query(sql), args).execute(&mut **tx).await?.rows_affected(),
            Self::Sqlite(tx) => {
                let sql = sqlite_sql(sql);
                bind_all!(sqlx::query(&sql), args).execute(&mut **tx).await?.rows_affected()
            }
        })
    }

    pub async fn fetch_all<T: Row>(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<T>, DbError> {
        Ok(match self {
            Self::Postgres(tx) => bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_all(&mut **tx).await?,
            Self::Sqlite(tx) => {
                let sql = sqlite_sql(sql);
                bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_all(&mut **tx).await?
            }
        })
    }

    pub async fn fetch_optional<T: Row>(&mut self, sql: &str, args: &[Arg]) -> Result<Option<T>, DbError> {
        Ok(match self {
            Self::Postgres(tx) => bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_optional(&mut **tx).await?,
            Self::Sqlite(tx) => {
                let sql = sqlite_sql(sql);
                bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_optional(&mut **tx).await?
            }
        })
    }

    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Self::Postgres(tx) => tx.commit().await?,
            Self::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

impl super::Db {
    /// One write statement on the system connections in its own implicit transaction (still a
    /// durable commit): one round trip instead of `begin_system` … `commit`'s three.
    pub async fn execute_one(&self, sql: &str, args: &[Arg]) -> Result<u64, DbError> {
        Ok(match self {
            Self::Postgres { statements, .. } => {
                let mut conn = statements.lease().await?;
                let result = bind_all!(sqlx::query(sql), args).execute(&mut *conn).await;
                conn.finish(result)?.rows_affected()
            }
            Self::Sqlite(pool) => {
                let sql = sqlite_sql(sql);
                bind_all!(sqlx::query(&sql), args).execute(pool).await?.rows_affected()
            }
        })
    }

    /// `read_optional` for several rows.
    pub async fn read_all<T: Row>(&self, sql: &str, args: &[Arg]) -> Result<Vec<T>, DbError> {
        Ok(match self {
            Self::Postgres { statements, .. } => {
                let mut conn = statements.lease().await?;
                let result = bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_all(&mut *conn).await;
                conn.finish(result)?
            }
            Self::Sqlite(pool) => {
                let sql = sqlite_sql(sql);
                bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_all(pool).await?
            }
        })
    }

    /// One read statement on the tenant-confined (`read`) connections, outside an explicit
    /// transaction. Nothing sets the tenant for it: on PostgreSQL the statement must confine
    /// itself (call a function that sets `tessera.tenant_id` locally before its query, as
    /// `user_by_upn`), or row-level security shows it nothing.
    pub async fn read_confined_optional<T: Row>(&self, sql: &str, args: &[Arg]) -> Result<Option<T>, DbError> {
        Ok(match self {
            Self::Postgres { confined, .. } => {
                let mut conn = confined.lease().await?;
                let result = bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_optional(&mut *conn).await;
                conn.finish(result)?
            }
            Self::Sqlite(pool) => {
                let sql = sqlite_sql(sql);
                bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_optional(pool).await?
            }
        })
    }

    /// One read statement on the system connections, outside an explicit transaction (it runs
    /// in its own implicit one): two round trips fewer than `begin_read` … `commit`, for hot
    /// single-row lookups.
    pub async fn read_optional<T: Row>(&self, sql: &str, args: &[Arg]) -> Result<Option<T>, DbError> {
        Ok(match self {
            Self::Postgres { statements, .. } => {
                let mut conn = statements.lease().await?;
                let result = bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_optional(&mut *conn).await;
                conn.finish(result)?
            }
            Self::Sqlite(pool) => {
                let sql = sqlite_sql(sql);
                bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_optional(pool).await?
            }
        })
    }
}
