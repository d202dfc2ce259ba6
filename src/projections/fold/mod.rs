//! In-memory folds of the busiest read models, for `projections rebuild` and `tessera replay`.
//! Each mirrors its projection's statements on rows held in maps and writes them with a few
//! multi-row `INSERT`s at the end, so a rebuild costs a decode per event rather than a round
//! trip per statement. `tessera replay` compares the two implementations on every run, and CI
//! runs it over the test data, so a fold that drifts from its projection is caught.

mod groups;
mod outbox;
mod users;

pub use groups::GroupsFold;
pub use outbox::OutboxFold;
pub use users::UsersFold;

use super::ProjectionError;
use crate::db::{Arg, Tx};
use crate::eventstore::StoredEvent;

/// A projection's reducer over rows in memory.
#[async_trait::async_trait]
pub trait Fold: Send {
    /// Applies one event (of an aggregate type the projection handles), in global order.
    fn apply(&mut self, event: &StoredEvent) -> Result<(), ProjectionError>;
    /// Writes every row into the projection's (empty) tables.
    async fn write(self: Box<Self>, tx: &mut Tx) -> Result<(), ProjectionError>;
}

/// Bind parameters per statement: under PostgreSQL's 65,535 and SQLite's 32,766.
const PARAMETERS: usize = 30_000;

/// Inserts rows with multi-row `INSERT`s (same statement text for every full chunk, so both
/// backends prepare it once). Values are bound, never spliced, exactly as the projections
/// bind them, so a folded row is byte-for-byte the row the projection would have written.
pub async fn insert_rows(
    tx: &mut Tx,
    table: &str,
    columns: &[&str],
    rows: impl IntoIterator<Item = Vec<Arg>>,
) -> Result<u64, ProjectionError> {
    let per_chunk = (PARAMETERS / columns.len()).max(1);
    let mut written = 0;
    let mut chunk: Vec<Arg> = Vec::with_capacity(per_chunk * columns.len());
    let mut count = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        for row in rows.by_ref().take(per_chunk) {
            debug_assert_eq!(row.len(), columns.len());
            chunk.extend(row);
            count += 1;
        }
        written += tx.execute(&statement(table, columns, count), &chunk).await?;
        chunk.clear();
        count = 0;
    }
    Ok(written)
}

fn statement(table: &str, columns: &[&str], rows: usize) -> String {
    let width = columns.len();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            // `$n` on both backends: Tx rewrites them to SQLite's `?n`.
            sql.push('$');
            sql.push_str(&(row * width + column + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// A `(tenant, local id)` key of a read row.
pub type Key = (String, String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_number_every_parameter_once() {
        let sql = statement("t", &["a", "b"], 2);
        assert_eq!(sql, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
    }
}
