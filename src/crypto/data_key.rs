use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rand::RngCore;

use super::envelope::{aead_open, aead_seal};
use super::{Crypto, CryptoError};

/// A per-person AES-256-GCM key for personal data (crypto-shredding): the values it seals are
/// readable exactly as long as the key exists. At rest it is wrapped by the master key like
/// every other secret; destroying the wrapped key makes every value it sealed unreadable, with
/// no need to touch the (hash-chained) events that hold them.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// The key sealed under the active master key; `context` ties it to its row.
    pub fn wrap(&self, crypto: &Crypto, context: &str) -> String {
        crypto.seal(context, &self.0)
    }

    pub fn unwrap(crypto: &Crypto, context: &str, wrapped: &str) -> Result<Self, CryptoError> {
        let bytes = crypto.open(context, wrapped)?;
        Ok(Self(bytes.try_into().map_err(|_| CryptoError::Malformed)?))
    }

    /// `base64url(nonce || ciphertext || tag)`; `aad` (the key's id) is authenticated too.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> String {
        B64.encode(aead_seal(&self.0, aad, plaintext))
    }

    pub fn open(&self, aad: &[u8], sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let data = B64.decode(sealed).map_err(|_| CryptoError::Malformed)?;
        aead_open(&self.0, aad, &data)
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{MasterKey, MasterKeyRing};

    #[test]
    fn seals_opens_and_wraps() {
        let crypto = Crypto::new(MasterKeyRing::new(MasterKey::new("k1", [7; 32]).unwrap(), vec![]));
        let key = DataKey::generate();
        let sealed = key.seal(b"key-1", b"\"adele@contoso.com\"");
        assert!(!sealed.contains("adele"));
        assert_eq!(key.open(b"key-1", &sealed).unwrap(), b"\"adele@contoso.com\"");
        assert!(matches!(key.open(b"key-2", &sealed), Err(CryptoError::Tampered)), "the aad is bound");
        assert!(DataKey::generate().open(b"key-1", &sealed).is_err(), "another key does not open it");

        let wrapped = key.wrap(&crypto, "personal-data-key:t:key-1");
        let back = DataKey::unwrap(&crypto, "personal-data-key:t:key-1", &wrapped).unwrap();
        assert_eq!(back.open(b"key-1", &sealed).unwrap(), b"\"adele@contoso.com\"");
        assert!(DataKey::unwrap(&crypto, "personal-data-key:t:key-2", &wrapped).is_err());
    }
}
