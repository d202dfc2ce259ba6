//! A security group of a tenant and its members.

mod aggregate;
mod commands;
mod events;

pub use aggregate::Group;
pub use commands::GroupCommand;
pub use events::GroupEvent;
