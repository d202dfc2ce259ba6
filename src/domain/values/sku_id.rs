use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ValueError;

/// A Microsoft 365 license SKU, by its `skuId` GUID as `subscribedSkus` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SkuId(Uuid);

impl SkuId {
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        Uuid::parse_str(input.trim()).map(Self).map_err(|_| ValueError::new("skuId", "must be the SKU's GUID, as subscribedSkus lists it"))
    }
}

impl fmt::Display for SkuId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}
