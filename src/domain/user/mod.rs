//! A person of a tenant: identity, sign-in secret, Microsoft 365 assignment and licenses.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{User, UserStatus};
pub use commands::UserCommand;
pub use events::{USER_CREATED_VERSION, UserEvent, UserProfile};
