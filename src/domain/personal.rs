use std::cell::RefCell;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The JSON key of a personal value in clear: `{"personal": …}`.
pub const PERSONAL_TAG: &str = "personal";
/// The JSON key of a personal value sealed under its subject's data key: `{"sealed": {…}}`.
pub const SEALED_TAG: &str = "sealed";
/// The JSON key of a personal value whose subject was forgotten: `{"forgotten": true}`.
pub const FORGOTTEN_TAG: &str = "forgotten";

/// Personal data inside an event payload (UPNs, names, e-mail, IP addresses, user agents).
///
/// Every piece of personal data travels only inside this wrapper, so the event store can seal
/// it under a per-person data key as it writes (crypto-shredding, see docs/personal-data.md)
/// and open it as it reads. The domain sees one of three states:
/// - known: the value, as written (`{"personal": …}`);
/// - forgotten: the person was forgotten and the key that sealed it destroyed (`{"forgotten": true}`);
/// - sealed: read straight from storage without opening (only readers that never look at
///   personal values do that); the envelope is kept so it serializes back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personal<T>(State<T>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum State<T> {
    Known(T),
    Sealed(serde_json::Value),
    Forgotten,
}

impl<T> Personal<T> {
    pub fn new(value: T) -> Self {
        Self(State::Known(value))
    }

    /// A value whose subject was forgotten.
    pub fn forgotten() -> Self {
        Self(State::Forgotten)
    }

    /// The value, unless it was forgotten or is still sealed.
    pub fn value(&self) -> Option<&T> {
        match &self.0 {
            State::Known(value) => Some(value),
            State::Sealed(_) | State::Forgotten => None,
        }
    }

    pub fn into_value(self) -> Option<T> {
        match self.0 {
            State::Known(value) => Some(value),
            State::Sealed(_) | State::Forgotten => None,
        }
    }

    pub fn is_forgotten(&self) -> bool {
        matches!(self.0, State::Forgotten)
    }
}

/// The wire shapes, externally tagged by the constants above.
#[derive(Serialize, Deserialize)]
enum Repr<T> {
    #[serde(rename = "personal")]
    Known(T),
    #[serde(rename = "sealed")]
    Sealed(serde_json::Value),
    #[serde(rename = "forgotten")]
    Forgotten(bool),
}

impl<T: Serialize> Serialize for Personal<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            State::Known(value) => Repr::Known(value).serialize(serializer),
            State::Sealed(envelope) => Repr::<&T>::Sealed(envelope.clone()).serialize(serializer),
            State::Forgotten => Repr::<&T>::Forgotten(true).serialize(serializer),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Personal<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self(match Repr::<T>::deserialize(deserializer)? {
            Repr::Known(value) => State::Known(value),
            Repr::Sealed(envelope) => match OPENER.with_borrow(|opener| opener.as_ref().map(|open| open(&envelope))) {
                None => State::Sealed(envelope),
                Some(Ok(Some(text))) => State::Known(serde_json::from_slice(&text).map_err(D::Error::custom)?),
                Some(Ok(None)) => State::Forgotten,
                Some(Err(message)) => return Err(D::Error::custom(message)),
            },
            Repr::Forgotten(_) => State::Forgotten,
        }))
    }
}

/// What opens a sealed envelope (`{"key": …, "ct": …}`): its JSON text, `None` when the key is
/// gone (the value then reads as forgotten), or why it cannot be opened.
pub type Opener = Box<dyn Fn(&serde_json::Value) -> Result<Option<Vec<u8>>, String>>;

thread_local! {
    static OPENER: RefCell<Option<Opener>> = const { RefCell::new(None) };
}

/// Runs `parse` with sealed values opened by `opener` as they are deserialized, so the storage
/// edge can parse stored text straight into event types (a rebuild's hot path) instead of
/// opening a JSON tree first. The domain sees no key: only this function, on this thread,
/// for this call.
pub fn opening<R>(opener: Opener, parse: impl FnOnce() -> R) -> R {
    struct Restore(Option<Opener>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            OPENER.with_borrow_mut(|o| *o = previous);
        }
    }
    let _restore = Restore(OPENER.with_borrow_mut(|o| o.replace(opener)));
    parse()
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_three_shapes_round_trip() {
        let known = Personal::new("adele@contoso.com".to_owned());
        assert_eq!(serde_json::to_value(&known).unwrap(), json!({ "personal": "adele@contoso.com" }));
        assert_eq!(serde_json::from_value::<Personal<String>>(json!({ "personal": "adele@contoso.com" })).unwrap(), known);

        let forgotten: Personal<String> = serde_json::from_value(json!({ "forgotten": true })).unwrap();
        assert!(forgotten.is_forgotten() && forgotten.value().is_none());
        assert_eq!(serde_json::to_value(&forgotten).unwrap(), json!({ "forgotten": true }));

        let envelope = json!({ "sealed": { "key": "k", "ct": "x" } });
        let sealed: Personal<String> = serde_json::from_value(envelope.clone()).unwrap();
        assert!(sealed.value().is_none() && !sealed.is_forgotten());
        assert_eq!(serde_json::to_value(&sealed).unwrap(), envelope, "a sealed value serializes back unchanged");

        assert!(serde_json::from_value::<Personal<String>>(json!("adele@contoso.com")).is_err());
    }

    #[test]
    fn an_opener_opens_sealed_values_while_parsing() {
        let text = r#"[{"sealed": {"key": "k1", "ct": "\"adele@contoso.com\""}}, {"sealed": {"key": "gone", "ct": "x"}}]"#;
        let opener: Opener = Box::new(|envelope| match envelope["key"].as_str() {
            Some("k1") => Ok(envelope["ct"].as_str().map(|ct| ct.as_bytes().to_vec())),
            _ => Ok(None),
        });
        let values: Vec<Personal<String>> = opening(opener, || serde_json::from_str(text)).unwrap();
        assert_eq!(values[0], Personal::new("adele@contoso.com".to_owned()));
        assert!(values[1].is_forgotten());
        // Outside the call the values stay sealed.
        let values: Vec<Personal<String>> = serde_json::from_str(text).unwrap();
        assert!(values.iter().all(|v| v.value().is_none() && !v.is_forgotten()));
        let failing: Opener = Box::new(|_| Err("wrong master key".to_owned()));
        let error = opening(failing, || serde_json::from_str::<Vec<Personal<String>>>(text)).unwrap_err();
        assert!(error.to_string().contains("wrong master key"), "{error}");
    }
}
