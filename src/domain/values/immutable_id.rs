use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::ValueError;

/// The source anchor Entra ID calls `onPremisesImmutableId`: base64 of 16 bytes, like an AD
/// objectGUID. It becomes the token's NameIdentifier and must match Microsoft 365 exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImmutableId(String);

impl ImmutableId {
    /// A new anchor from 16 caller-supplied random bytes (randomness is injected, not drawn here).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(STANDARD.encode(bytes))
    }

    /// Accepts any canonical standard-base64 value of 1 to 64 bytes, because anchors imported
    /// from Microsoft 365 were not necessarily made by us.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        const FIELD: &str = "immutableId";
        let input = input.trim();
        let bytes = STANDARD.decode(input).map_err(|_| ValueError::new(FIELD, "must be standard base64"))?;
        if bytes.is_empty() || bytes.len() > 64 {
            return Err(ValueError::new(FIELD, "must encode 1 to 64 bytes"));
        }
        Ok(Self(STANDARD.encode(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImmutableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ImmutableId {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ImmutableId> for String {
    fn from(value: ImmutableId) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_bytes_make_24_characters() {
        let id = ImmutableId::from_bytes([7; 16]);
        assert_eq!(id.as_str().len(), 24);
        assert_eq!(ImmutableId::parse(id.as_str()).unwrap(), id);
        assert!(ImmutableId::parse("not base64!").is_err());
        assert!(ImmutableId::parse("").is_err());
    }
}
