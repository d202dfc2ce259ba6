//! Each tenant's Ed25519 audit key: it signs checkpoints of the tenant's chain head. The private
//! half is sealed with the master key; the public half is published to auditors.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, SecondsFormat, Utc};
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use sha2::{Digest, Sha256};

use super::AuditError;
use crate::crypto::Crypto;

/// A signed statement: the tenant's chain up to `seq` (the event at `position`) ends in
/// `head_hash`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct SignedCheckpoint {
    pub tenant_id: String,
    pub seq: i64,
    pub position: i64,
    pub head_hash: String,
    pub key_id: String,
    pub signed_at: DateTime<Utc>,
    /// Base64 Ed25519 signature over `message()`.
    pub signature: String,
}

impl SignedCheckpoint {
    /// The signed bytes: one field per line, in this order.
    pub fn message(&self) -> String {
        format!(
            "tessera-audit-checkpoint-v1\n{}\n{}\n{}\n{}\n{}\n",
            self.tenant_id,
            self.seq,
            self.position,
            self.head_hash,
            self.signed_at.to_rfc3339_opts(SecondsFormat::Micros, true)
        )
    }

    pub fn verify(&self, key: &PKey<Public>) -> bool {
        let Ok(signature) = B64.decode(&self.signature) else { return false };
        Verifier::new_without_digest(key).and_then(|mut v| v.verify_oneshot(&signature, self.message().as_bytes())).unwrap_or(false)
    }
}

/// The sealing context binds a sealed key to its tenant.
fn context(tenant_id: &str) -> String {
    format!("audit-key:{tenant_id}")
}

/// A short, stable id: the first 16 hex digits of SHA-256 over the public key's DER.
pub fn key_id(key: &PKey<Public>) -> Result<String, AuditError> {
    let der = key.public_key_to_der()?;
    Ok(hex::encode(&Sha256::digest(der)[..8]))
}

pub struct NewKey {
    pub key_id: String,
    pub public_key_pem: String,
    pub private_key_sealed: String,
}

pub fn generate(crypto: &Crypto, tenant_id: &str) -> Result<NewKey, AuditError> {
    let key = PKey::generate_ed25519()?;
    let public_key_pem = String::from_utf8(key.public_key_to_pem()?).map_err(|_| AuditError::Key("PEM is not UTF-8".into()))?;
    let public = PKey::public_key_from_pem(public_key_pem.as_bytes())?;
    let private_key_sealed = crypto.seal(&context(tenant_id), &key.private_key_to_pem_pkcs8()?);
    Ok(NewKey { key_id: key_id(&public)?, public_key_pem, private_key_sealed })
}

pub fn open(crypto: &Crypto, tenant_id: &str, sealed: &str) -> Result<PKey<Private>, AuditError> {
    let pem = crypto.open(&context(tenant_id), sealed).map_err(|e| AuditError::Key(e.to_string()))?;
    Ok(PKey::private_key_from_pem(&pem)?)
}

pub fn public_from_pem(pem: &str) -> Result<PKey<Public>, AuditError> {
    Ok(PKey::public_key_from_pem(pem.as_bytes())?)
}

pub fn sign(key: &PKey<Private>, checkpoint: &mut SignedCheckpoint) -> Result<(), AuditError> {
    let mut signer = Signer::new_without_digest(key)?;
    checkpoint.signature = B64.encode(signer.sign_oneshot_to_vec(checkpoint.message().as_bytes())?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{MasterKey, MasterKeyRing};

    #[test]
    fn a_signed_checkpoint_verifies_only_unchanged_and_with_its_key() {
        let crypto = Crypto::new(MasterKeyRing::new(MasterKey::new("k", [3u8; 32]).unwrap(), vec![]));
        let new = generate(&crypto, "t1").unwrap();
        let private = open(&crypto, "t1", &new.private_key_sealed).unwrap();
        assert!(open(&crypto, "t2", &new.private_key_sealed).is_err(), "sealed to its tenant");
        let public = public_from_pem(&new.public_key_pem).unwrap();
        let mut checkpoint = SignedCheckpoint {
            tenant_id: "t1".into(),
            seq: 3,
            position: 10,
            head_hash: "ab".repeat(32),
            key_id: new.key_id.clone(),
            signed_at: Utc::now(),
            signature: String::new(),
        };
        sign(&private, &mut checkpoint).unwrap();
        assert!(checkpoint.verify(&public));
        let mut changed = checkpoint.clone();
        changed.seq = 4;
        assert!(!changed.verify(&public));
        let other = public_from_pem(&generate(&crypto, "t1").unwrap().public_key_pem).unwrap();
        assert!(!checkpoint.verify(&other));
    }
}
