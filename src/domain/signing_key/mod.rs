//! A tenant's token-signing keys: the active one, and during a rollover the next one, published
//! ahead of the switch. The key material is made by the application layer (OpenSSL) and arrives
//! here already sealed; the aggregate only decides which key plays which role.

mod aggregate;

pub use aggregate::{KeyRole, NewSigningKey, SigningKeyCommand, SigningKeyEvent, SigningKeys};
