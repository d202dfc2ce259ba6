//! API keys: who may call the admin API, with which role, for which tenant.

mod aggregate;

pub use aggregate::{ApiKey, ApiKeyCommand, ApiKeyEvent, Role};
