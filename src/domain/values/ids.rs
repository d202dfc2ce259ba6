use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ValueError;

macro_rules! uuid_id {
    ($name:ident, $field:literal) => {
        #[doc = concat!("The identifier of a ", $field, " (a UUID).")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh identifier; time-ordered (UUIDv7) so that new rows sort last.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
            pub fn parse(input: &str) -> Result<Self, ValueError> {
                Uuid::parse_str(input.trim()).map(Self).map_err(|_| ValueError::new($field, "is not a valid id (expected a UUID)"))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(Uuid::nil())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(TenantId, "tenantId");
uuid_id!(UserId, "userId");
uuid_id!(GroupId, "groupId");
uuid_id!(ApiKeyId, "apiKeyId");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = TenantId::new();
        assert_eq!(TenantId::parse(&id.to_string()).unwrap(), id);
        assert!(TenantId::parse("not-a-uuid").is_err());
        assert!(UserId::parse("'; DROP TABLE users; --").is_err());
    }
}
