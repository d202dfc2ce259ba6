//! Authentication tags for values Tessera hands out and must recognise later without storing
//! them (the CSRF token of a sign-in page nobody has signed in on yet): HMAC-SHA256 under a key
//! derived per purpose from the active master key. Every instance holding the master key
//! computes the same tag; rotating the master key makes earlier tags stop matching, which
//! their users treat as expired.

use super::{Crypto, CryptoError, keyed_hash};

impl Crypto {
    pub fn tag(&self, purpose: &str, data: &[u8]) -> Result<[u8; 32], CryptoError> {
        // A derived key, so the master key itself only ever wraps data keys.
        let key = keyed_hash(self.keys.active().bytes(), format!("tessera tag key: {purpose}").as_bytes())?;
        keyed_hash(&key, data)
    }
}

#[cfg(test)]
mod tests {
    use crate::crypto::{Crypto, MasterKey, MasterKeyRing};

    fn crypto(id: &str) -> Crypto {
        Crypto::new(MasterKeyRing::new(MasterKey::generate(id).unwrap(), vec![]))
    }

    #[test]
    fn tags_depend_on_purpose_data_and_master_key() {
        let (a, b) = (crypto("a"), crypto("b"));
        let tag = a.tag("csrf", b"cookie").unwrap();
        assert_eq!(a.clone().tag("csrf", b"cookie").unwrap(), tag);
        assert_ne!(a.tag("other", b"cookie").unwrap(), tag);
        assert_ne!(a.tag("csrf", b"cookiE").unwrap(), tag);
        assert_ne!(b.tag("csrf", b"cookie").unwrap(), tag);
    }
}
