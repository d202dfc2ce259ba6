//! A customer organization of Tessera and its settings.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{Tenant, TenantStatus};
pub use commands::TenantCommand;
pub use events::{DeprovisionAction, MfaPolicy, TenantEvent};
