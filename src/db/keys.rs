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
        let tuple = columns.join(", ");
        // `->>` reads an array element as text on both (SQLite since 3.38).
        let picks: Vec<String> = (0..columns.len()).map(|i| format!("k.value->>{i}")).collect();
        let elements = match self {
            Self::Postgres(_) => format!("jsonb_array_elements(CAST(${parameter} AS jsonb))"),
            Self::Sqlite(_) => format!("json_each(${parameter})"),
        };
        format!("({tuple}) IN (SELECT {} FROM {elements} AS k)", picks.join(", "))
    }
}
