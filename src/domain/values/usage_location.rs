use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// An ISO 3166-1 alpha-2 country code; Microsoft 365 needs one before it grants a license.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UsageLocation(String);

impl UsageLocation {
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let code = input.trim();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ValueError::new("usageLocation", "must be a two-letter ISO 3166-1 country code, like US or DE"));
        }
        Ok(Self(code.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UsageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UsageLocation {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UsageLocation> for String {
    fn from(value: UsageLocation) -> Self {
        value.0
    }
}
