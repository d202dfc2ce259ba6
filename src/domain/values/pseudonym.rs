use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// A keyed hash (HMAC-SHA256, 64 lower-case hex digits) standing for an identifier such as a
/// UPN or an IP address. Equal inputs give equal pseudonyms within a tenant, so it can key a
/// uniqueness claim or a throttling counter, yet it reveals the input only to someone holding
/// the tenant's secret. Made by the event store's personal-data layer, never by the domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pseudonym(String);

impl Pseudonym {
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        if input.len() == 64 && input.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(input.to_owned()))
        } else {
            Err(ValueError::new("pseudonym", "must be 64 lower-case hex digits"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Pseudonym {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Pseudonym> for String {
    fn from(value: Pseudonym) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sha256_in_hex() {
        assert!(Pseudonym::parse(&"ab".repeat(32)).is_ok());
        assert!(Pseudonym::parse(&"AB".repeat(32)).is_err());
        assert!(Pseudonym::parse("adele@contoso.com").is_err());
        assert!(Pseudonym::parse(&"a".repeat(63)).is_err());
    }
}
