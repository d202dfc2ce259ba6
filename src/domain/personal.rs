use serde::{Deserialize, Serialize};

/// Personal data inside an event payload (names, e-mail, phone, IP addresses).
///
/// Every piece of personal data travels only inside this wrapper, serialized as
/// `{"personal": …}`, so that crypto-shredding can later encrypt its content with a per-person key
/// and read old events unchanged, without migrating the event store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Personal<T> {
    personal: T,
}

impl<T> Personal<T> {
    pub fn new(value: T) -> Self {
        Self { personal: value }
    }

    pub fn expose(&self) -> &T {
        &self.personal
    }

    pub fn into_inner(self) -> T {
        self.personal
    }
}

/// A secret already sealed by the crypto layer (envelope ciphertext). The domain stores and
/// compares it but can never read it, and its `Debug` output hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedSecret(String);

impl SealedSecret {
    pub fn new(ciphertext: String) -> Self {
        Self(ciphertext)
    }

    pub fn ciphertext(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedSecret(..)")
    }
}
