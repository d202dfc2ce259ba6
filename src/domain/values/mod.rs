//! Value types parsed once at the edge: a value of one of these types is valid by construction.

mod display_name;
mod domain_name;
mod ids;
mod immutable_id;
mod pseudonym;
mod sku_id;
mod upn;
mod usage_location;

pub use display_name::DisplayName;
pub use domain_name::DomainName;
pub use ids::{ApiKeyId, GroupId, TenantId, UserId};
pub use immutable_id::ImmutableId;
pub use pseudonym::Pseudonym;
pub use sku_id::SkuId;
pub use upn::Upn;
pub use usage_location::UsageLocation;

/// Why a value was refused; the message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValueError {
    pub field: &'static str,
    pub message: String,
}

impl ValueError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}
