use crate::args;
use crate::db::{Backend, Db, DbError};

#[derive(Debug, sqlx::FromRow)]
struct Count {
    n: i64,
}

/// How many committed events older than `max_lag_seconds` some projection has not applied yet.
/// Zero means the read models are caught up within the bound. Counted past the slowest
/// checkpoint (an event past it is one that projection still lacks), so the cost is the lag,
/// not the history: a scan of every event per checkpoint made `/readyz` slow on long histories.
/// No checkpoint row yet counts every event.
pub async fn stale_events(db: &Db, max_lag_seconds: i64) -> Result<i64, DbError> {
    let sql = match db.backend() {
        Backend::Postgres => {
            // Compared as xid8, so `events_global_order` serves the range.
            "SELECT count(*) AS n FROM events e
              WHERE (e.txid, e.position) > (
                    SELECT coalesce(max(s.txid), 0)::text::xid8, coalesce(max(s.position), 0)
                      FROM (SELECT txid, position FROM projection_checkpoints ORDER BY txid, position LIMIT 1) s)
                AND e.recorded_at < now() - ($1::bigint * interval '1 second')"
        }
        Backend::Sqlite => {
            "SELECT count(*) AS n FROM events e
              WHERE e.position > (SELECT coalesce(min(position), 0) FROM projection_checkpoints)
                AND e.recorded_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || $1 || ' seconds')"
        }
    };
    let mut tx = db.begin_read().await?;
    let count: Option<Count> = tx.fetch_optional(sql, args![max_lag_seconds]).await?;
    tx.commit().await?;
    Ok(count.map_or(0, |c| c.n))
}
