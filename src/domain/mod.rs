//! The pure domain: value types and one folder per aggregate. Nothing here does I/O; time,
//! randomness and secrets arrive already made, inside commands.

pub mod api_key;
pub mod claim;
pub mod custom_domain;
mod error;
pub mod group;
pub mod job;
pub mod microsoft365;
pub mod personal;
pub mod provisioning;
pub mod sign_in;
pub mod signing_key;
pub mod tenant;
pub mod user;
pub mod values;

pub use error::{DomainError, Reason};
pub use personal::{Personal, SealedSecret};

/// The version written with every event of this release; bump it (and add an upcaster) when a
/// shipped event's shape changes.
pub const EVENT_VERSION: &str = "1.0";
