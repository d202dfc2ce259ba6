//! Rows read as `Arg`s, shaped like a template row: for comparing a table with rows held in
//! memory (`tessera replay`) without a struct per table.

use sqlx::Row as _;

use super::{Arg, DbError, Tx};

macro_rules! decode_like {
    ($row:expr, $template:expr) => {{
        let row = $row;
        let mut values = Vec::with_capacity($template.len());
        for (i, like) in $template.iter().enumerate() {
            values.push(match like {
                Arg::Text(_) => Arg::Text(row.try_get(i)?),
                Arg::Int(_) => Arg::Int(row.try_get(i)?),
                Arg::Bool(_) => Arg::Bool(row.try_get(i)?),
                Arg::Time(_) | Arg::MaybeTime(_) => Arg::MaybeTime(row.try_get(i)?),
            });
        }
        values
    }};
}

impl Tx {
    /// `columns` of every row of `table`, each decoded as the `template` value at its place is
    /// (times as `MaybeTime`; integers widened to `bigint` and texts cast to `text`, so that a
    /// template of texts reads any column).
    pub async fn fetch_args(&mut self, table: &str, columns: &[&str], template: &[Arg]) -> Result<Vec<Vec<Arg>>, DbError> {
        debug_assert_eq!(columns.len(), template.len());
        let select: Vec<String> = columns
            .iter()
            .zip(template)
            .map(|(column, like)| match like {
                Arg::Int(_) => format!("CAST({column} AS BIGINT)"),
                Arg::Text(_) => format!("CAST({column} AS TEXT)"),
                _ => (*column).to_owned(),
            })
            .collect();
        let sql = format!("SELECT {} FROM {table}", select.join(", "));
        let mut out = Vec::new();
        match self {
            Self::Postgres(tx) => {
                for row in sqlx::query(&sql).fetch_all(&mut **tx).await? {
                    out.push(decode_like!(row, template));
                }
            }
            Self::Sqlite(tx) => {
                for row in sqlx::query(&sql).fetch_all(&mut **tx).await? {
                    out.push(decode_like!(row, template));
                }
            }
        }
        Ok(out)
    }
}
