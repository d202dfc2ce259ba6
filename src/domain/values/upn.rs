use std::fmt;

use serde::{Deserialize, Serialize};

use super::{DomainName, ValueError};

/// A user principal name, `alias@domain`, as Entra ID accepts it. Comparison and uniqueness are
/// case-insensitive, so the value is stored lower-case; Entra treats UPNs the same way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Upn {
    alias: String,
    domain: DomainName,
}

impl Upn {
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        const FIELD: &str = "userPrincipalName";
        let input = input.trim();
        let Some((alias, domain)) = input.rsplit_once('@') else {
            return Err(ValueError::new(FIELD, "must look like alias@domain"));
        };
        if alias.is_empty() || alias.len() > 64 {
            return Err(ValueError::new(FIELD, "the alias before @ must be 1 to 64 characters"));
        }
        // The characters Entra ID allows in the alias part of a UPN.
        let allowed = |c: char| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c);
        if !alias.chars().all(allowed) {
            return Err(ValueError::new(FIELD, "the alias may contain only letters, digits and ' . - _ ! # ^ ~"));
        }
        if alias.starts_with('.') || alias.ends_with('.') || alias.contains("..") {
            return Err(ValueError::new(FIELD, "the alias must not start or end with a dot or contain two dots in a row"));
        }
        let domain = DomainName::parse(domain).map_err(|e| ValueError::new(FIELD, format!("domain part: {}", e.message)))?;
        Ok(Self { alias: alias.to_ascii_lowercase(), domain })
    }

    pub fn domain(&self) -> &DomainName {
        &self.domain
    }

    pub fn alias(&self) -> &str {
        &self.alias
    }
}

impl fmt::Display for Upn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.alias, self.domain)
    }
}

impl TryFrom<String> for Upn {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Upn> for String {
    fn from(value: Upn) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_and_strict() {
        let upn = Upn::parse("Adele.Vance@Contoso.com").unwrap();
        assert_eq!(upn.to_string(), "adele.vance@contoso.com");
        assert_eq!(upn, Upn::parse("adele.vance@CONTOSO.COM").unwrap());
        for bad in [
            "",
            "adele",
            "@contoso.com",
            "adele@",
            "a b@contoso.com",
            ".a@contoso.com",
            "a..b@contoso.com",
            "adele@contoso.com.",
            "<x>@contoso.com",
        ] {
            assert!(Upn::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Upn::parse(&format!("{}@contoso.com", "a".repeat(65))).is_err());
    }
}
