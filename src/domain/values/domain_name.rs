use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// A DNS domain name as Microsoft 365 accepts it for a custom domain: ASCII letters, digits
/// and hyphens, at least two labels, stored lower-case.
///
/// Internationalized names are refused rather than converted: Entra ID does not federate IDN
/// domains, and silently storing the punycode form would surprise the admin later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DomainName(String);

impl DomainName {
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        const FIELD: &str = "domain";
        let name = input.trim();
        if name.is_empty() {
            return Err(ValueError::new(FIELD, "must not be empty"));
        }
        if name.ends_with('.') {
            return Err(ValueError::new(FIELD, "must not end with a dot; write the name without the trailing root dot"));
        }
        if !name.is_ascii() {
            return Err(ValueError::new(FIELD, "internationalized (non-ASCII) domain names are not supported by Microsoft 365 federation"));
        }
        let name = name.to_ascii_lowercase();
        if name.len() > 253 {
            return Err(ValueError::new(FIELD, "must be at most 253 characters"));
        }
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 2 {
            return Err(ValueError::new(FIELD, "must have at least two labels, like contoso.com"));
        }
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return Err(ValueError::new(FIELD, "each label must be 1 to 63 characters"));
            }
            if !label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return Err(ValueError::new(FIELD, "may contain only letters, digits, hyphens and dots"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(ValueError::new(FIELD, "labels must not start or end with a hyphen"));
            }
        }
        if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return Err(ValueError::new(FIELD, "the top-level label must not be numeric"));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `*.onmicrosoft.com` (and the national clouds' equivalents) belong to Microsoft and can
    /// never be federated.
    pub fn is_onmicrosoft(&self) -> bool {
        const SUFFIXES: [&str; 3] = [".onmicrosoft.com", ".onmicrosoft.us", ".partner.onmschina.cn"];
        SUFFIXES.iter().any(|s| self.0.ends_with(s))
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_refuses_bad_names() {
        assert_eq!(DomainName::parse("Contoso.COM").unwrap().as_str(), "contoso.com");
        for bad in ["", "contoso", "contoso.com.", "bücher.de", "-a.com", "a-.com", "a..com", "a_b.com", "1.2.3.4", "<b>.com"] {
            assert!(DomainName::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(DomainName::parse(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn knows_microsoft_domains() {
        assert!(DomainName::parse("contoso.onmicrosoft.com").unwrap().is_onmicrosoft());
        assert!(!DomainName::parse("onmicrosoft.com.contoso.com").unwrap().is_onmicrosoft());
    }
}
