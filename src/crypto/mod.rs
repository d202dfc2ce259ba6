//! Envelope encryption for every secret Tessera keeps (password hashes, private keys, TOTP
//! seeds, Graph client secrets), and the per-person data keys of personal data.

mod data_key;
mod envelope;
mod keyed_hash;
mod master_key;
mod tag;

pub use data_key::DataKey;
pub use envelope::{Crypto, CryptoError};
pub use keyed_hash::keyed_hash;
pub use master_key::{MasterKey, MasterKeyRing};
