use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// A human-readable name (tenant, user or group display name). Microsoft Graph caps
/// `displayName` at 256 characters, so we do too; control characters are refused because
/// they end up in HTML pages and PowerShell scripts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 256;

    pub fn parse(field: &'static str, input: &str) -> Result<Self, ValueError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(ValueError::new(field, "must not be empty"));
        }
        let chars = trimmed.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(ValueError::new(field, format!("must be at most {} characters (got {chars})", Self::MAX_CHARS)));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValueError::new(field, "must not contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(DisplayName::parse("name", "  Contoso  ").unwrap().as_str(), "Contoso");
        assert!(DisplayName::parse("name", "   ").is_err());
        assert!(DisplayName::parse("name", &"x".repeat(300)).is_err());
        assert!(DisplayName::parse("name", &"é".repeat(256)).is_ok());
        assert!(DisplayName::parse("name", "a\u{0}b").is_err());
        // Metacharacters are data, not errors: they are escaped where they are rendered.
        assert!(DisplayName::parse("name", "<script>'; DROP TABLE x;--").is_ok());
    }
}
