use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use super::CryptoError;

/// A 256-bit key-encryption key with a short id, written beside every ciphertext it protects.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: [u8; 32],
}

impl MasterKey {
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Result<Self, CryptoError> {
        let id = id.into();
        if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(CryptoError::BadMasterKey("key ids are 1 to 32 letters, digits, - or _".into()));
        }
        Ok(Self { id, key })
    }

    pub fn generate(id: impl Into<String>) -> Result<Self, CryptoError> {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self::new(id, key)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The text form used in the environment and key files: `id:base64(32 bytes)`.
    pub fn to_text(&self) -> String {
        format!("{}:{}", self.id, STANDARD.encode(self.key))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({}, ..)", self.id)
    }
}

/// The active master key plus the retired ones still needed to open older ciphertexts.
#[derive(Clone, Debug)]
pub struct MasterKeyRing {
    active: MasterKey,
    all: HashMap<String, MasterKey>,
}

impl MasterKeyRing {
    pub fn new(active: MasterKey, retired: Vec<MasterKey>) -> Self {
        let mut all: HashMap<String, MasterKey> = retired.into_iter().map(|k| (k.id.clone(), k)).collect();
        all.insert(active.id.clone(), active.clone());
        Self { active, all }
    }

    /// Parses `id:base64,id:base64,…`; the first key is the active one. Rotation = put a new key
    /// first and keep the old ones after it.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let mut keys = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, b64) =
                part.split_once(':').ok_or_else(|| CryptoError::BadMasterKey("expected id:base64 (32 bytes), comma-separated".into()))?;
            let bytes = STANDARD.decode(b64.trim()).map_err(|_| CryptoError::BadMasterKey(format!("key {id}: not base64")))?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadMasterKey(format!("key {id}: must be exactly 32 bytes")))?;
            keys.push(MasterKey::new(id, key)?);
        }
        let mut keys = keys.into_iter();
        let active = keys.next().ok_or_else(|| CryptoError::BadMasterKey("no master key given".into()))?;
        Ok(Self::new(active, keys.collect()))
    }

    pub fn active(&self) -> &MasterKey {
        &self.active
    }

    pub fn get(&self, id: &str) -> Option<&MasterKey> {
        self.all.get(id)
    }
}
