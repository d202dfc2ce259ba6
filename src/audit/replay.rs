//! `tessera replay`: every read model rebuilt from the events (the busiest folded in memory, the
//! others into a scratch store) and compared, row by row, with the live one.

use std::collections::BTreeMap;

use chrono::SecondsFormat;

use super::AuditError;
use super::scratch;
use crate::db::{Arg, Db, Row, Tx};
use crate::eventstore::{Checkpoint, PersonalData};
use crate::projections;
use crate::projections::{FoldedTable, ProjectionError};
use crate::read::jobs::{ItemRow, JobRow};
use crate::read::microsoft365::{CompatibilityRow, ConnectionRow, SkuRow};
use crate::read::sign_ins::SignInRow;
use crate::read::signing_keys::SigningKeyRow;
use crate::read::{api_keys::ApiKeyRow, domains::DomainRow, tenants::TenantRow};

/// Rows only one side has, per table (at most `SHOWN` of each).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Difference {
    pub table: String,
    pub only_live: Vec<String>,
    pub only_replayed: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayReport {
    pub events: u64,
    /// Rows compared per table.
    pub rows: BTreeMap<String, usize>,
    pub differences: Vec<Difference>,
    /// Tables some projection owns that this build does not know how to compare.
    pub unchecked: Vec<String>,
}

const SHOWN: usize = 20;

#[derive(sqlx::FromRow, Debug)]
#[allow(dead_code)] // read through Debug
struct JobItemLine {
    tenant_id: String,
    job_id: String,
    #[sqlx(flatten)]
    item: ItemRow,
}

async fn lines<T: Row + std::fmt::Debug>(tx: &mut Tx, sql: &str) -> Result<Vec<String>, AuditError> {
    let rows: Vec<T> = tx.fetch_all(sql, &[]).await?;
    Ok(rows.into_iter().map(|r| format!("{r:?}")).collect())
}

/// The read tables compared: those a fold holds against its rows, the others read as text
/// lines by `table_lines` on both sides.
const COMPARED: [&str; 20] = [
    "tenants",
    "domains",
    "users",
    "user_licenses",
    "groups",
    "group_members",
    "api_keys",
    "signing_keys",
    "sign_ins",
    "microsoft365_connections",
    "microsoft365_compatibility",
    "microsoft365_skus",
    "outbox_tasks",
    "outbox_tenants",
    "outbox_groups",
    "outbox_group_members",
    "outbox_domains",
    "outbox_users",
    "jobs",
    "job_items",
];

/// One compared read table without a fold, as sorted text lines.
async fn table_lines(tx: &mut Tx, table: &str) -> Result<Vec<String>, AuditError> {
    let mut rows = match table {
        "tenants" => lines::<TenantRow>(tx, "SELECT * FROM tenants").await?,
        "domains" => lines::<DomainRow>(tx, "SELECT * FROM domains").await?,
        "api_keys" => lines::<ApiKeyRow>(tx, "SELECT * FROM api_keys").await?,
        "signing_keys" => lines::<SigningKeyRow>(tx, "SELECT * FROM signing_keys").await?,
        "sign_ins" => lines::<SignInRow>(tx, "SELECT * FROM sign_ins").await?,
        "microsoft365_connections" => lines::<ConnectionRow>(tx, "SELECT * FROM microsoft365_connections").await?,
        "microsoft365_compatibility" => lines::<CompatibilityRow>(tx, "SELECT * FROM microsoft365_compatibility").await?,
        "microsoft365_skus" => lines::<SkuRow>(tx, "SELECT * FROM microsoft365_skus").await?,
        // Lease columns are the job workers', not derived from events.
        "jobs" => lines::<JobRow>(tx, &format!("SELECT {} FROM jobs", crate::read::jobs::COLUMNS)).await?,
        "job_items" => {
            lines::<JobItemLine>(
                tx,
                "SELECT tenant_id, job_id, item_key, user_id, graph_object_id, upn, outcome, error_code, error_message, recorded_at FROM job_items",
            )
            .await?
        }
        // The others are compared with their folds (`Plan::Columns`); a table with neither is
        // a fault of this build, not a match.
        other => return Err(AuditError::Io(std::io::Error::other(format!("replay has no way to compare {other}")))),
    };
    rows.sort_unstable();
    Ok(rows)
}

/// How a side reads one compared table.
enum Plan {
    /// Typed, by `table_lines`.
    Typed,
    /// A folded table in the store: the fold's columns, decoded like its first row.
    Columns { columns: &'static [&'static str], template: Vec<Arg> },
    /// A folded table as the fold holds it.
    Folded(FoldedTable),
}

/// A folded table's rows as lines (one format for both sides: `column: value, …`).
fn folded_lines(columns: &[&str], rows: impl Iterator<Item = Vec<Arg>>) -> Vec<String> {
    let mut lines: Vec<String> = rows.map(|row| line(columns, &row)).collect();
    lines.sort_unstable();
    lines
}

fn line(columns: &[&str], values: &[Arg]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(160);
    for (i, (column, value)) in columns.iter().zip(values).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(column);
        out.push_str(": ");
        let _ = match value {
            Arg::Text(Some(text)) => write!(out, "{text:?}"),
            Arg::Text(None) | Arg::Int(None) | Arg::MaybeTime(None) => write!(out, "NULL"),
            Arg::Int(Some(n)) => write!(out, "{n}"),
            Arg::Bool(b) => write!(out, "{b}"),
            // To the microsecond, as PostgreSQL keeps them.
            Arg::Time(t) | Arg::MaybeTime(Some(t)) => write!(out, "{}", t.to_rfc3339_opts(SecondsFormat::Micros, true)),
        };
    }
    out
}

/// One side's compared tables, as sorted lines, in `COMPARED` order, read in one transaction
/// on its store by a task of its own.
struct Side {
    lines: tokio::sync::mpsc::Receiver<Vec<String>>,
    task: tokio::task::JoinHandle<Result<(), AuditError>>,
}

impl Side {
    /// `plans` in `COMPARED` order.
    fn spawn(db: Db, plans: Vec<(&'static str, Plan)>) -> Self {
        let (send, lines) = tokio::sync::mpsc::channel(1);
        let task = tokio::spawn(async move {
            let mut tx = db.begin_system().await?;
            for (table, plan) in plans {
                let lines = match plan {
                    Plan::Typed => table_lines(&mut tx, table).await?,
                    Plan::Columns { columns, template } => {
                        folded_lines(columns, tx.fetch_args(table, columns, &template).await?.into_iter())
                    }
                    Plan::Folded(folded) => folded_lines(folded.columns, folded.rows),
                };
                if send.send(lines).await.is_err() {
                    break;
                }
            }
            tx.commit().await?;
            Ok(())
        });
        Self { lines, task }
    }

    /// The next table's lines; the task's error if it stopped early.
    async fn next(&mut self) -> Result<Vec<String>, AuditError> {
        match self.lines.recv().await {
            Some(lines) => Ok(lines),
            None => {
                (&mut self.task).await.map_err(ProjectionError::from)??;
                Err(AuditError::Io(std::io::Error::other("the comparison's reader stopped early")))
            }
        }
    }

    async fn finish(self) -> Result<(), AuditError> {
        drop(self.lines);
        self.task.await.map_err(ProjectionError::from)?
    }
}

/// Compares two sorted lists of lines in one merge pass: the lines only one side has (as many
/// times as it has more of them), at most `SHOWN` of each.
fn compare(table: &str, live: &[String], replayed: &[String]) -> Option<Difference> {
    let (mut only_live, mut only_replayed) = (Vec::new(), Vec::new());
    let (mut differs, mut l, mut r) = (false, 0, 0);
    while l < live.len() || r < replayed.len() {
        let order = match (live.get(l), replayed.get(r)) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Equal => {
                l += 1;
                r += 1;
                continue;
            }
            std::cmp::Ordering::Less => {
                if only_live.len() < SHOWN {
                    only_live.push(live[l].clone());
                }
                l += 1;
            }
            std::cmp::Ordering::Greater => {
                if only_replayed.len() < SHOWN {
                    only_replayed.push(replayed[r].clone());
                }
                r += 1;
            }
        }
        differs = true;
    }
    differs.then(|| Difference { table: table.to_owned(), only_live, only_replayed })
}

/// Brings the live read models up to date, folds every event up to the same point into a
/// scratch store, and compares the two.
pub async fn replay(live: &Db, personal: &PersonalData) -> Result<ReplayReport, AuditError> {
    let mut until = None::<Checkpoint>;
    for projection in projections::all() {
        let reached = projections::catch_up(live, personal, projection.as_ref()).await?;
        until = Some(until.map_or(reached, |u| u.min(reached)));
    }
    let started = std::time::Instant::now();
    let (scratch_db, events, folds) = scratch::everything(live, personal, until.unwrap_or_default()).await?;
    tracing::info!(events, seconds = started.elapsed().as_secs_f64(), "replay: events folded");
    let mut report = ReplayReport { events, rows: BTreeMap::new(), differences: Vec::new(), unchecked: Vec::new() };
    for projection in projections::all() {
        for table in projection.tables() {
            if !COMPARED.contains(table) {
                report.unchecked.push((*table).to_owned());
            }
        }
    }
    // The folded tables are compared with the folds' rows as they are (a scratch store in
    // between would cost more than the fold), the others with the scratch store.
    let mut folded: BTreeMap<&str, FoldedTable> = folds.into_iter().flat_map(|f| f.into_tables()).map(|t| (t.table, t)).collect();
    let (mut live_plans, mut replayed_plans) = (Vec::new(), Vec::new());
    for table in COMPARED {
        let Some(mut fold) = folded.remove(table) else {
            live_plans.push((table, Plan::Typed));
            replayed_plans.push((table, Plan::Typed));
            continue;
        };
        let mut rows = fold.rows.peekable();
        // Without a row to go by, the live rows read as text (and all differ).
        let template = rows.peek().cloned().unwrap_or_else(|| vec![Arg::Text(None); fold.columns.len()]);
        fold.rows = Box::new(rows);
        live_plans.push((table, Plan::Columns { columns: fold.columns, template }));
        replayed_plans.push((table, Plan::Folded(fold)));
    }
    // A fold's table that is not in COMPARED would be unchecked: `report.unchecked` has it.
    // Table by table, each side read and sorted by a task of its own (so on a core of its own);
    // at most a table or two of lines per side are held at a time.
    let (mut live_side, mut replayed_side) = (Side::spawn(live.clone(), live_plans), Side::spawn(scratch_db.clone(), replayed_plans));
    for table in COMPARED {
        let (live_lines, replayed_lines) = tokio::try_join!(live_side.next(), replayed_side.next())?;
        report.rows.insert(table.to_owned(), live_lines.len());
        report.differences.extend(compare(table, &live_lines, &replayed_lines));
    }
    live_side.finish().await?;
    replayed_side.finish().await?;
    scratch_db.close().await;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "replay: compared");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_folded_row_reads_the_same_whichever_way_its_time_was_held() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:11:12.123456Z").unwrap().with_timezone(&chrono::Utc);
        let columns = ["name", "n", "on", "at", "gone"];
        let folded = [Arg::from("O\"Brien, \\N"), Arg::from(7_i64), Arg::from(true), Arg::Time(at), Arg::MaybeTime(None)];
        let live = [Arg::from("O\"Brien, \\N"), Arg::from(7_i64), Arg::from(true), Arg::MaybeTime(Some(at)), Arg::MaybeTime(None)];
        assert_eq!(line(&columns, &folded), line(&columns, &live));
        assert_eq!(
            line(&columns, &folded),
            r#"name: "O\"Brien, \\N", n: 7, on: true, at: 2026-11-23T10:11:12.123456Z, gone: NULL"#,
            "quoted text cannot pass for another column"
        );
    }

    #[test]
    fn the_merge_reports_what_one_side_has_more_of() {
        assert!(compare("t", &lines(&["a", "b", "b"]), &lines(&["a", "b", "b"])).is_none());
        let difference = compare("t", &lines(&["a", "b", "b", "d"]), &lines(&["b", "c", "d", "e"])).unwrap();
        assert_eq!(difference.only_live, lines(&["a", "b"]), "a duplicate counts");
        assert_eq!(difference.only_replayed, lines(&["c", "e"]));
        let empty = compare("t", &[], &lines(&["x"])).unwrap();
        assert!(empty.only_live.is_empty() && empty.only_replayed == lines(&["x"]));
    }
}
