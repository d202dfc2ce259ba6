use crate::args;
use crate::db::{Backend, Db, DbError};

#[derive(Debug, sqlx::FromRow)]
struct Count {
    n: i64,
}

/// How many committed events older than `max_lag_seconds` some projection has not applied yet.
/// Zero means the read models are caught up within the bound.
pub async fn stale_events(db: &Db, max_lag_seconds: i64) -> Result<i64, DbError> {
    let sql = match db.backend() {
        Backend::Postgres => {
            "SELECT count(*) AS n FROM events e, projection_checkpoints c
              WHERE (e.txid::text::bigint, e.position) > (c.txid, c.position)
                AND e.recorded_at < now() - ($1::bigint * interval '1 second')"
        }
        Backend::Sqlite => {
            "SELECT count(*) AS n FROM events e, projection_checkpoints c
              WHERE e.position > c.position
                AND e.recorded_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || $1 || ' seconds')"
        }
    };
    let mut tx = db.begin_read().await?;
    let count: Option<Count> = tx.fetch_optional(sql, args![max_lag_seconds]).await?;
    tx.commit().await?;
    Ok(count.map_or(0, |c| c.n))
}
