//! A custom domain of a tenant: ownership proof by DNS TXT record and the federation state machine.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{CustomDomain, FederationState, VERIFICATION_RECORD_PREFIX};
pub use commands::DomainCommand;
pub use events::DomainEvent;
