//! The personal values inside a JSON payload, found by their wrapper (`domain::Personal`):
//!
//! ```text
//! in clear (what the domain writes, and events from before sealing):  {"personal": <value>}
//! sealed (what the event store stores):  {"sealed": {"key": "<data key id>", "ct": "<base64url(nonce ‖ AES-256-GCM(value JSON) ‖ tag)>"}}
//! forgotten (what readers get once the key is destroyed):  {"forgotten": true}
//! ```
//!
//! A wrapper is an object with exactly one member of those names. Pure: keys come from callers.

use serde_json::{Map, Value, json};

use crate::domain::personal::{FORGOTTEN_TAG, PERSONAL_TAG, SEALED_TAG};

/// One sealed value as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key: String,
    pub ct: String,
}

fn single<'a>(map: &'a Map<String, Value>, tag: &str) -> Option<&'a Value> {
    if map.len() == 1 { map.get(tag) } else { None }
}

/// A sealed value, borrowed from its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedRef<'a> {
    pub key: &'a str,
    pub ct: &'a str,
}

fn sealed_ref(map: &Map<String, Value>) -> Option<SealedRef<'_>> {
    let inner = single(map, SEALED_TAG)?;
    Some(SealedRef { key: inner.get("key")?.as_str()?, ct: inner.get("ct")?.as_str()? })
}

fn sealed_of(map: &Map<String, Value>) -> Option<Sealed> {
    sealed_ref(map).map(|s| Sealed { key: s.key.to_owned(), ct: s.ct.to_owned() })
}

/// Visits every object, outermost first; `f` returns true when it replaced the object, which is
/// then not descended into.
fn walk<E>(value: &mut Value, f: &mut impl FnMut(&mut Value) -> Result<bool, E>) -> Result<(), E> {
    if value.is_object() && f(value)? {
        return Ok(());
    }
    match value {
        Value::Object(map) => map.values_mut().try_for_each(|v| walk(v, f)),
        Value::Array(items) => items.iter_mut().try_for_each(|v| walk(v, f)),
        _ => Ok(()),
    }
}

fn visit(value: &Value, f: &mut impl FnMut(&Map<String, Value>)) {
    match value {
        Value::Object(map) => {
            f(map);
            map.values().for_each(|v| visit(v, f));
        }
        Value::Array(items) => items.iter().for_each(|v| visit(v, f)),
        _ => {}
    }
}

/// Whether the payload holds a personal value in clear.
pub fn has_plaintext(payload: &Value) -> bool {
    let mut found = false;
    visit(payload, &mut |map| found |= single(map, PERSONAL_TAG).is_some());
    found
}

/// Whether the payload holds a sealed value.
pub fn has_sealed(payload: &Value) -> bool {
    let mut found = false;
    visit(payload, &mut |map| found |= sealed_ref(map).is_some());
    found
}

/// The sealed values of a payload.
pub fn sealed_values(payload: &Value) -> Vec<Sealed> {
    let mut out = Vec::new();
    visit(payload, &mut |map| out.extend(sealed_of(map)));
    out
}

/// The key id of every sealed value of a payload, without copying anything.
pub fn visit_sealed_keys<'a>(payload: &'a Value, f: &mut impl FnMut(&'a str)) {
    match payload {
        Value::Object(map) => {
            if let Some(sealed) = sealed_ref(map) {
                f(sealed.key);
            }
            map.values().for_each(|v| visit_sealed_keys(v, f));
        }
        Value::Array(items) => items.iter().for_each(|v| visit_sealed_keys(v, f)),
        _ => {}
    }
}

/// Replaces every personal value in clear by what `seal` makes of its JSON text.
pub fn seal_all<E>(payload: &mut Value, seal: &mut impl FnMut(&[u8]) -> Result<Sealed, E>) -> Result<(), E> {
    walk(payload, &mut |node: &mut Value| {
        let Some(plain) = node.as_object().and_then(|m| single(m, PERSONAL_TAG)) else { return Ok(false) };
        // Serializing a Value to a Vec cannot fail.
        let text = serde_json::to_vec(plain).unwrap_or_default();
        let sealed = seal(&text)?;
        *node = json!({ SEALED_TAG: { "key": sealed.key, "ct": sealed.ct } });
        Ok(true)
    })
}

/// Replaces every sealed value by what `open` finds: the value's JSON text, or `None` when its
/// key is gone (the value then reads as forgotten).
pub fn open_all<E>(payload: &mut Value, open: &mut impl FnMut(SealedRef<'_>) -> Result<Option<Vec<u8>>, E>) -> Result<(), E>
where
    E: From<serde_json::Error>,
{
    walk(payload, &mut |node: &mut Value| {
        let Some(sealed) = node.as_object().and_then(sealed_ref) else { return Ok(false) };
        let opened = match open(sealed)? {
            Some(text) => json!({ PERSONAL_TAG: serde_json::from_slice::<Value>(&text)? }),
            None => json!({ FORGOTTEN_TAG: true }),
        };
        *node = opened;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> Value {
        json!({ "SignInFailed": {
            "details": { "upn": { "personal": "adele@contoso.com" }, "client": { "personal": { "ip": "10.0.0.1", "user_agent": "UA" } },
                         "realm": "urn:federation:MicrosoftOnline", "personal_note": { "personal": 1, "other": 2 } },
            "reason": "WRONG_PASSWORD" } })
    }

    #[test]
    fn seals_only_the_wrappers_and_opens_them_back() {
        let original = payload();
        let mut stored = original.clone();
        assert!(has_plaintext(&stored));
        let mut n = 0;
        seal_all(&mut stored, &mut |text: &[u8]| -> Result<Sealed, serde_json::Error> {
            n += 1;
            Ok(Sealed { key: "k1".into(), ct: hex::encode(text) })
        })
        .unwrap();
        assert_eq!(n, 2, "two wrappers; an object with more members is not one");
        assert!(!has_plaintext(&stored));
        let text = stored.to_string();
        assert!(!text.contains("adele") && !text.contains("10.0.0.1") && text.contains("WRONG_PASSWORD"), "{text}");
        assert_eq!(stored["SignInFailed"]["details"]["upn"]["sealed"]["key"], "k1");
        assert_eq!(sealed_values(&stored).len(), 2);

        let mut opened = stored.clone();
        open_all(&mut opened, &mut |s: SealedRef<'_>| -> Result<_, serde_json::Error> { Ok(Some(hex::decode(s.ct).unwrap())) }).unwrap();
        assert_eq!(opened, original);

        let mut forgotten = stored;
        open_all(&mut forgotten, &mut |_: SealedRef<'_>| -> Result<_, serde_json::Error> { Ok(None) }).unwrap();
        assert_eq!(forgotten["SignInFailed"]["details"]["upn"], json!({ "forgotten": true }));
        assert_eq!(forgotten["SignInFailed"]["details"]["client"], json!({ "forgotten": true }));
        assert_eq!(forgotten["SignInFailed"]["details"]["realm"], "urn:federation:MicrosoftOnline");
    }

    #[test]
    fn old_payloads_in_clear_pass_through_opening() {
        let mut old = payload();
        open_all(&mut old, &mut |_: SealedRef<'_>| -> Result<_, serde_json::Error> { panic!("nothing is sealed") }).unwrap();
        assert_eq!(old, payload());
    }
}
