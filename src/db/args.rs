use chrono::{DateTime, Utc};

/// A bind value that both backends understand.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Time(DateTime<Utc>),
    MaybeTime(Option<DateTime<Utc>>),
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Self::Text(Some(value))
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Self::Text(Some(value.to_owned()))
    }
}

impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Self {
        Self::Text(value)
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Self::Int(Some(value))
    }
}

impl From<bool> for Arg {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<Option<DateTime<Utc>>> for Arg {
    fn from(value: Option<DateTime<Utc>>) -> Self {
        Self::MaybeTime(value)
    }
}

impl From<DateTime<Utc>> for Arg {
    fn from(value: DateTime<Utc>) -> Self {
        Self::Time(value)
    }
}

/// Builds a `&[Arg]` from anything convertible: `args![tenant_id.to_string(), 5_i64]`.
#[macro_export]
macro_rules! args {
    ($($value:expr),* $(,)?) => { &[$($crate::db::Arg::from($value)),*] };
}
