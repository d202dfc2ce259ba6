use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

use super::CryptoError;

/// HMAC-SHA256 of `data` under `secret`: a pseudonym that only the secret's holder can link
/// back to a guessed input.
pub fn keyed_hash(secret: &[u8; 32], data: &[u8]) -> Result<[u8; 32], CryptoError> {
    let failed = |e: openssl::error::ErrorStack| CryptoError::BadMasterKey(format!("HMAC: {e}"));
    let key = PKey::hmac(secret).map_err(failed)?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key).map_err(failed)?;
    signer.update(data).map_err(failed)?;
    signer.sign_to_vec().map_err(failed)?.try_into().map_err(|_| CryptoError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_style_vectors_and_depends_on_the_key() {
        // HMAC-SHA256 with a 32-byte key of 0x0b and "Hi There" (computed independently with
        // `openssl dgst -sha256 -mac HMAC -macopt hexkey:0b…0b`).
        let digest = keyed_hash(&[0x0b; 32], b"Hi There").unwrap();
        assert_eq!(hex::encode(digest), "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7");
        assert_ne!(keyed_hash(&[0x0c; 32], b"Hi There").unwrap(), digest);
    }
}
