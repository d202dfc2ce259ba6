use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rand::RngCore;

use super::MasterKeyRing;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("invalid master key: {0}")]
    BadMasterKey(String),
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext was sealed with master key {0:?}, which is not configured")]
    UnknownMasterKey(String),
    #[error("ciphertext failed authentication (wrong key, wrong context or tampered)")]
    Tampered,
}

const VERSION: &str = "v1";

/// Seals secrets with a fresh AES-256-GCM data key each time; the data key is itself sealed
/// under the active master key. The text form is
/// `v1.<master key id>.<nonce+wrapped data key>.<nonce+ciphertext>` (base64url parts), so a
/// ciphertext names the master key that opens it and master keys can rotate.
///
/// `context` is bound as associated data: a ciphertext moved to another record does not open.
#[derive(Clone, Debug)]
pub struct Crypto {
    pub(super) keys: MasterKeyRing,
}

impl Crypto {
    pub fn new(keys: MasterKeyRing) -> Self {
        Self { keys }
    }

    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let master = self.keys.active();
        let mut data_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut data_key);
        let wrapped = aead_seal(master.bytes(), master.id().as_bytes(), &data_key);
        let sealed = aead_seal(&data_key, context.as_bytes(), plaintext);
        format!("{VERSION}.{}.{}.{}", master.id(), B64.encode(wrapped), B64.encode(sealed))
    }

    pub fn open(&self, context: &str, text: &str) -> Result<Vec<u8>, CryptoError> {
        let mut parts = text.split('.');
        let (Some(VERSION), Some(key_id), Some(wrapped), Some(sealed), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let master = self.keys.get(key_id).ok_or_else(|| CryptoError::UnknownMasterKey(key_id.to_owned()))?;
        let wrapped = B64.decode(wrapped).map_err(|_| CryptoError::Malformed)?;
        let sealed = B64.decode(sealed).map_err(|_| CryptoError::Malformed)?;
        let data_key: [u8; 32] = aead_open(master.bytes(), key_id.as_bytes(), &wrapped)?.try_into().map_err(|_| CryptoError::Malformed)?;
        aead_open(&data_key, context.as_bytes(), &sealed)
    }

    /// Re-seals under the active master key (used when rotating master keys).
    pub fn reseal(&self, context: &str, text: &str) -> Result<String, CryptoError> {
        Ok(self.seal(context, &self.open(context, text)?))
    }
}

pub(super) fn aead_seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    // Encryption into a Vec cannot fail for inputs below GCM's 64 GiB limit.
    let ciphertext = cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad }).unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ciphertext);
    out
}

pub(super) fn aead_open(key: &[u8; 32], aad: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if data.len() < 12 + 16 {
        return Err(CryptoError::Malformed);
    }
    let (nonce, ciphertext) = data.split_at(12);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad }).map_err(|_| CryptoError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    fn ring(keys: &[&str]) -> MasterKeyRing {
        let keys: Vec<MasterKey> = keys.iter().map(|id| MasterKey::new(*id, [id.len() as u8; 32]).unwrap()).collect();
        let mut iter = keys.into_iter();
        let active = iter.next().unwrap();
        MasterKeyRing::new(active, iter.collect())
    }

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let crypto = Crypto::new(ring(&["k1"]));
        let sealed = crypto.seal("user:1:password", b"s3cret");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(crypto.open("user:1:password", &sealed).unwrap(), b"s3cret");
        assert_ne!(sealed, crypto.seal("user:1:password", b"s3cret"), "fresh data key and nonce each time");
    }

    #[test]
    fn refuses_wrong_context_tampering_and_unknown_keys() {
        let crypto = Crypto::new(ring(&["k1"]));
        let sealed = crypto.seal("a", b"x");
        assert!(matches!(crypto.open("b", &sealed), Err(CryptoError::Tampered)));
        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(crypto.open("a", &tampered).is_err());
        assert!(matches!(crypto.open("a", "garbage"), Err(CryptoError::Malformed)));
        let other = Crypto::new(ring(&["k2"]));
        assert!(matches!(other.open("a", &sealed), Err(CryptoError::UnknownMasterKey(_))));
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable() {
        let old = Crypto::new(ring(&["k1"]));
        let sealed = old.seal("ctx", b"secret");
        let rotated = Crypto::new(ring(&["k22", "k1"]));
        assert_eq!(rotated.open("ctx", &sealed).unwrap(), b"secret");
        let resealed = rotated.reseal("ctx", &sealed).unwrap();
        assert!(resealed.starts_with("v1.k22."));
        assert!(matches!(old.open("ctx", &resealed), Err(CryptoError::UnknownMasterKey(_))));
    }

    #[test]
    fn parses_key_rings() {
        let text = format!("{},{}", MasterKey::generate("new").unwrap().to_text(), MasterKey::generate("old").unwrap().to_text());
        let ring = MasterKeyRing::parse(&text).unwrap();
        assert_eq!(ring.active().id(), "new");
        assert!(ring.get("old").is_some());
        assert!(MasterKeyRing::parse("k:AAAA").is_err());
        assert!(MasterKeyRing::parse("").is_err());
    }
}
