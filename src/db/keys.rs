//! Rows picked by a list of keys in one statement on both backends. The keys travel as one
//! JSON parameter, so the statement's text (and the plan PostgreSQL prepares for it) is the
//! same for one key or five hundred.

use super::{Arg, Tx};

/// Keys as the parameter `Tx::in_keys` reads: a JSON array of arrays of texts.
pub fn key_list<'a, K>(keys: impl IntoIterator<Item = K>) -> Arg
where
    K: AsRef<[&'a str]>,
{
    let keys: Vec<Vec<&str>> = keys.into_iter().map(|k| k.as_ref().to_vec()).collect();
    Arg::from(serde_json::to_string(&keys).unwrap_or_else(|_| "[]".to_owned()))
}

impl Tx {
    /// `(c1, c2, …) IN (the keys in parameter $n)`, for a `WHERE`; the parameter is a `key_list`.
    pub fn in_keys(&self, columns: &[&str], parameter: usize) -> String {
        // `->>` reads an array element as text on both (SQLite since 3.38).
        let picks: Vec<String> = (0..columns.len()).map(|i| format!("k.value->>{i}")).collect();
        let exact = |elements: &str| format!("({}) IN (SELECT {} FROM {elements} AS k)", columns.join(", "), picks.join(", "));
        match self {
            // SQLite probes the primary key once per listed key.
            Self::Sqlite(_) => exact(&format!("json_each(${parameter})")),
            // PostgreSQL does not use the key's index to join a list under row-level security
            // (`->>` is not leakproof, so the policy's filter must come first: a scan of the
            // whole table). `column = ANY (array)` is an index condition whatever the policy;
            // the exact pairs filter what that range finds.
            Self::Postgres(_) => {
                let elements = format!("jsonb_array_elements(CAST(${parameter} AS jsonb))");
                let mut conditions: Vec<String> = columns
                    .iter()
                    .zip(&picks)
                    .map(|(column, pick)| format!("{column} = ANY (ARRAY(SELECT {pick} FROM {elements} AS k))"))
                    .collect();
                if columns.len() > 1 {
                    conditions.push(exact(&elements));
                }
                conditions.join(" AND ")
            }
        }
    }
}
