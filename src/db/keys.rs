//! Rows picked by a list of keys in one statement on both backends. The keys travel as one
//! JSON parameter, so the statement's text (and the plan PostgreSQL prepares for it) is the
//! same for one key or five hundred.

use super::{Arg, Tx};

/// Keys as the parameter `Tx::select_by_keys` reads: a JSON array of arrays of texts.
pub fn key_list<'a, K>(keys: impl IntoIterator<Item = K>) -> Arg
where
    K: AsRef<[&'a str]>,
{
    let keys: Vec<Vec<&str>> = keys.into_iter().map(|k| k.as_ref().to_vec()).collect();
    Arg::from(serde_json::to_string(&keys).unwrap_or_else(|_| "[]".to_owned()))
}

impl Tx {
    /// `select` (a `SELECT … FROM table`, no `WHERE`) of the rows whose `columns` equal one of
    /// the keys in parameter `$n` (a `key_list`). Each key is one primary-key probe on both
    /// stores, whatever the planner's statistics say.
    pub fn select_by_keys(&self, select: &str, columns: &[&str], parameter: usize) -> String {
        // `->>` reads an array element as text on both (SQLite since 3.38).
        let picks: Vec<String> = (0..columns.len()).map(|i| format!("k.value->>{i}")).collect();
        match self {
            Self::Sqlite(_) => {
                format!("{select} WHERE ({}) IN (SELECT {} FROM json_each(${parameter}) AS k)", columns.join(", "), picks.join(", "))
            }
            // A join of the list with the table would not use its index under row-level
            // security (`->>` is not leakproof, so the policy's filter must run first: a scan),
            // and a plan cached while the table was small may scan it too. A lateral subquery
            // kept apart (`OFFSET 0`) sees each key as a parameter: an index probe per key.
            Self::Postgres(_) => {
                let equal: Vec<String> = columns.iter().zip(&picks).map(|(column, pick)| format!("{column} = {pick}")).collect();
                format!(
                    "SELECT r.* FROM jsonb_array_elements(CAST(${parameter} AS jsonb)) AS k
                       CROSS JOIN LATERAL ({select} WHERE {} OFFSET 0) AS r",
                    equal.join(" AND ")
                )
            }
        }
    }
}
