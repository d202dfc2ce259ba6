//! Envelope encryption for every secret Tessera keeps (password hashes, private keys, TOTP
//! seeds, Graph client secrets).

mod envelope;
mod master_key;

pub use envelope::{Crypto, CryptoError};
pub use master_key::{MasterKey, MasterKeyRing};
