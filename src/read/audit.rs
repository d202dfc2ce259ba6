//! The auditor's view of the event stream: a tenant's events with their chain links, filtered
//! and paged by global position.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::scoped;
use crate::app::TenantScope;
use crate::db::{Arg, Backend, Db, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEventRow {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    #[sqlx(json)]
    pub payload: Value,
    #[sqlx(json)]
    pub metadata: Value,
    /// The event's link in the tenant's hash chain, once the chain projector has reached it.
    pub chain_hash: Option<String>,
}

impl AuditEventRow {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }
}

/// Filters of `auditEvents`; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_types: Vec<String>,
    pub actor: Option<String>,
    pub correlation_id: Option<String>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub to: Option<DateTime<Utc>>,
    /// Only events at or before this position (time travel and subscriptions).
    pub up_to_position: Option<i64>,
}

const SELECT: &str = "SELECT e.position, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version,
                             e.payload, e.metadata, c.hash AS chain_hash
                        FROM events e
                        LEFT JOIN audit_chain c ON c.tenant_id = e.tenant_id AND c.position = e.position
                       WHERE e.tenant_id = $1";

/// A metadata field as text (`->>` means the same on PostgreSQL and SQLite ≥ 3.38; SQLite's
/// `json_extract` path would need a `$`, which the placeholder rewriting takes).
fn meta(key: &str) -> String {
    format!("(e.metadata ->> '{key}')")
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Appends the filter's conditions to `sql`, numbering placeholders after `args`.
fn conditions(filter: &AuditFilter, sql: &mut String, args: &mut Vec<Arg>) {
    let mut push = |clause: String, arg: Arg, sql: &mut String| {
        args.push(arg);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(limit) = filter.up_to_position {
        push(" AND e.position <= ?".into(), limit.into(), sql);
    }
    if let Some(value) = &filter.aggregate_type {
        push(" AND e.aggregate_type = ?".into(), value.as_str().into(), sql);
    }
    if let Some(value) = &filter.aggregate_id {
        push(" AND e.aggregate_id = ?".into(), value.as_str().into(), sql);
    }
    if let Some(value) = &filter.actor {
        push(" AND e.actor = ?".into(), value.as_str().into(), sql);
    }
    if let Some(value) = &filter.correlation_id {
        push(" AND e.correlation_id = ?".into(), value.as_str().into(), sql);
    }
    // occurred_at is written with a fixed width (microseconds, Z), so text order is time order.
    if let Some(from) = filter.from {
        push(format!(" AND {} >= ?", meta("occurred_at")), time(from).into(), sql);
    }
    if let Some(to) = filter.to {
        push(format!(" AND {} < ?", meta("occurred_at")), time(to).into(), sql);
    }
    if !filter.event_types.is_empty() {
        let mut placeholders = Vec::new();
        for event_type in &filter.event_types {
            args.push(event_type.as_str().into());
            placeholders.push(format!("${}", args.len()));
        }
        sql.push_str(&format!(" AND e.event_type IN ({})", placeholders.join(", ")));
    }
}

/// One page in global order after position `after`, plus whether more follow.
pub async fn page(
    db: &Db,
    scope: &TenantScope,
    filter: &AuditFilter,
    first: i64,
    after: Option<i64>,
) -> Result<(Vec<AuditEventRow>, bool), DbError> {
    let mut sql = SELECT.to_owned();
    let mut args: Vec<Arg> = vec![scope.tenant_id().to_string().into()];
    if let Some(after) = after {
        args.push(after.into());
        sql.push_str(&format!(" AND e.position > ${}", args.len()));
    }
    conditions(filter, &mut sql, &mut args);
    args.push((first + 1).into());
    sql.push_str(&format!(" ORDER BY e.position LIMIT ${}", args.len()));
    let mut tx = scoped(db, scope).await?;
    if db.backend() == Backend::Postgres {
        // Plan with the actual values: a cached generic plan cannot tell one tenant's rare
        // correlation id from a common one and walks the whole history in position order
        // (seconds on a million events instead of milliseconds through the filter's index).
        tx.execute("SET LOCAL plan_cache_mode = force_custom_plan", &[]).await?;
    }
    let mut rows: Vec<AuditEventRow> = tx.fetch_all(&sql, &args).await?;
    tx.commit().await?;
    let more = rows.len() as i64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

#[derive(sqlx::FromRow)]
struct Seq {
    seq: Option<i64>,
}

/// The tenant's chain length: where a live tail starts.
pub async fn head_seq(db: &Db, scope: &TenantScope) -> Result<i64, DbError> {
    let mut tx = scoped(db, scope).await?;
    let head: Option<Seq> = tx
        .fetch_optional("SELECT max(seq) AS seq FROM audit_chain WHERE tenant_id = $1", crate::args![scope.tenant_id().to_string()])
        .await?;
    tx.commit().await?;
    Ok(head.and_then(|h| h.seq).unwrap_or(0))
}

/// The events chained after link `after_seq` up to the current head, in chain (commit) order,
/// that match `filter`, and the head reached. Following the chain rather than positions means a
/// tail never skips an event whose transaction committed late.
pub async fn tail(db: &Db, scope: &TenantScope, filter: &AuditFilter, after_seq: i64) -> Result<(Vec<AuditEventRow>, i64), DbError> {
    let head = head_seq(db, scope).await?.min(after_seq + 500);
    if head <= after_seq {
        return Ok((Vec::new(), after_seq));
    }
    let mut sql = SELECT.replace("LEFT JOIN", "JOIN");
    let mut args: Vec<Arg> = vec![scope.tenant_id().to_string().into(), after_seq.into(), head.into()];
    sql.push_str(" AND c.seq > $2 AND c.seq <= $3");
    conditions(filter, &mut sql, &mut args);
    sql.push_str(" ORDER BY c.seq");
    let mut tx = scoped(db, scope).await?;
    let rows = tx.fetch_all(&sql, &args).await?;
    tx.commit().await?;
    Ok((rows, head))
}

pub async fn get(db: &Db, scope: &TenantScope, position: i64) -> Result<Option<AuditEventRow>, DbError> {
    let mut tx = scoped(db, scope).await?;
    let row = tx.fetch_optional(&format!("{SELECT} AND e.position = $2"), crate::args![scope.tenant_id().to_string(), position]).await?;
    tx.commit().await?;
    Ok(row)
}
