//! The bytes an event's chain link hashes. Written out by hand so an auditor can re-implement
//! them from this description alone:
//!
//! ```text
//! link = SHA-256( "tessera-audit-v1" || prev (32 bytes; zeros for a tenant's first event)
//!                 || u64be(position) || str(aggregate_type) || str(aggregate_id) || u64be(sequence)
//!                 || str(event_type) || str(event_version) || str(canon(payload)) || str(canon(metadata)) )
//! str(s) = u32be(byte length of s) || UTF-8 bytes of s
//! ```
//!
//! `canon` is JSON with object keys sorted by their UTF-8 bytes, no whitespace, strings escaped
//! only where JSON requires it (`"`, `\`, and control characters as `\u00xx`), numbers as
//! written by serde_json.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::eventstore::StoredEvent;

pub type Hash = [u8; 32];

pub const GENESIS: Hash = [0u8; 32];

const DOMAIN: &[u8] = b"tessera-audit-v1";

/// The chain link of `event` after `prev`.
pub fn link_hash(prev: &Hash, event: &StoredEvent) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(prev);
    hasher.update((event.position as u64).to_be_bytes());
    put_str(&mut hasher, &event.aggregate_type);
    put_str(&mut hasher, &event.aggregate_id);
    hasher.update((event.sequence as u64).to_be_bytes());
    put_str(&mut hasher, &event.event_type);
    put_str(&mut hasher, &event.event_version);
    put_str(&mut hasher, &canonical_json(&event.payload));
    put_str(&mut hasher, &canonical_json(&event.metadata));
    hasher.finalize().into()
}

fn put_str(hasher: &mut Sha256, s: &str) {
    hasher.update((s.len() as u32).to_be_bytes());
    hasher.update(s.as_bytes());
}

pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(&map[key], out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn to_hex(hash: &Hash) -> String {
    hex::encode(hash)
}

pub fn from_hex(text: &str) -> Option<Hash> {
    hex::decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(payload: Value) -> StoredEvent {
        StoredEvent {
            txid: 0,
            position: 7,
            aggregate_type: "user".into(),
            aggregate_id: "t/u".into(),
            sequence: 2,
            event_type: "UserRenamed".into(),
            event_version: "1".into(),
            payload,
            metadata: json!({"tenant_id": "t", "actor": "api-key:k"}),
            decoded: None,
            known: None,
        }
    }

    #[test]
    fn canonical_json_sorts_keys_and_escapes_only_what_json_requires() {
        let value = json!({"b": [1, "x\"y\\z\n", null], "a": {"d": true, "c": "é"}});
        assert_eq!(canonical_json(&value), r#"{"a":{"c":"é","d":true},"b":[1,"x\"y\\z\u000a",null]}"#);
    }

    #[test]
    fn the_hash_covers_payload_position_and_previous_link() {
        let base = link_hash(&GENESIS, &event(json!({"name": "A"})));
        assert_ne!(base, link_hash(&GENESIS, &event(json!({"name": "B"}))));
        let mut moved = event(json!({"name": "A"}));
        moved.position = 8;
        assert_ne!(base, link_hash(&GENESIS, &moved));
        assert_ne!(base, link_hash(&[1u8; 32], &event(json!({"name": "A"}))));
        // Key order in the stored JSON does not matter.
        let reordered: Value = serde_json::from_str(r#"{"name":"A"}"#).unwrap();
        assert_eq!(base, link_hash(&GENESIS, &event(reordered)));
    }
}
