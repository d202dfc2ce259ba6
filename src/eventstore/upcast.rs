//! Upcasters: old payload shapes read as the current one. A shipped event is never edited
//! (STYLE.md rule 2); when a payload changes shape its version is bumped and an upcaster here
//! turns the old shape into the new one. They apply wherever events are decoded: aggregates
//! (cqrs-es's `EventUpcaster`, wired into every store) and projections (`upcast_payload`).
//! The audit chain hashes the stored bytes, never an upcast.
//!
//! The first one is the pre-1.0 `GroupCreated`, whose name field was `display_name`; then the
//! 1.0 `UserCreated` and sign-in events, whose UPNs were not yet inside `Personal`.

use std::borrow::Cow;

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::{Value, json};

use crate::domain::personal::PERSONAL_TAG;

/// One change of an event's payload shape, for versions older than `below`, after which the
/// payload is at `version`.
#[derive(Clone, Copy)]
struct Upcast {
    event_type: &'static str,
    below: (u32, u32),
    version: &'static str,
    change: Change,
}

#[derive(Clone, Copy)]
enum Change {
    /// A field renamed.
    Rename { from: &'static str, to: &'static str },
    /// Values that became personal data: wrapped as `{"personal": …}` (paths inside the event).
    WrapPersonal { paths: &'static [&'static [&'static str]] },
}

fn parse_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

fn wrap_at(fields: &mut Value, path: &[&str]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = fields;
    for key in parents {
        match node.get_mut(*key) {
            Some(next) => node = next,
            None => return,
        }
    }
    if let Some(value) = node.get_mut(*last)
        && value.get(PERSONAL_TAG).is_none()
    {
        *value = json!({ PERSONAL_TAG: value.take() });
    }
}

impl Upcast {
    fn applies(&self, event_type: &str, event_version: &str) -> bool {
        event_type == self.event_type && parse_version(event_version).is_some_and(|v| v < self.below)
    }

    fn rewrite(&self, mut payload: Value) -> Value {
        // Payloads are externally tagged: {"GroupCreated": {…}}.
        let Some(fields) = payload.get_mut(self.event_type) else { return payload };
        match self.change {
            Change::Rename { from, to } => {
                if let Some(map) = fields.as_object_mut()
                    && let Some(value) = map.remove(from)
                {
                    map.insert(to.to_owned(), value);
                }
            }
            Change::WrapPersonal { paths } => paths.iter().for_each(|path| wrap_at(fields, path)),
        }
        payload
    }
}

impl EventUpcaster for Upcast {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        self.applies(event_type, event_version)
    }

    fn upcast(&self, event: SerializedEvent) -> SerializedEvent {
        SerializedEvent { payload: self.rewrite(event.payload), event_version: self.version.to_owned(), ..event }
    }
}

/// Every upcaster, oldest version first.
const ALL: [Upcast; 4] = [
    // Pre-1.0 `GroupCreated` named its name field `display_name`.
    Upcast { event_type: "GroupCreated", below: (1, 0), version: "1.0", change: Change::Rename { from: "display_name", to: "name" } },
    // 1.1: UPNs became personal data (docs/personal-data.md).
    Upcast { event_type: "UserCreated", below: (1, 1), version: "1.1", change: Change::WrapPersonal { paths: &[&["upn"]] } },
    Upcast {
        event_type: "SignInSucceeded",
        below: (1, 1),
        version: "1.1",
        change: Change::WrapPersonal { paths: &[&["details", "upn"], &["claims", "upn"]] },
    },
    Upcast { event_type: "SignInFailed", below: (1, 1), version: "1.1", change: Change::WrapPersonal { paths: &[&["details", "upn"]] } },
];

/// Every upcaster (what cqrs-es's stores are given).
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    ALL.iter().map(|u| Box::new(*u) as Box<dyn EventUpcaster>).collect()
}

/// Whether a payload of this type and version is already in its current shape.
pub fn is_current(event_type: &str, event_version: &str) -> bool {
    !ALL.iter().any(|u| u.applies(event_type, event_version))
}

/// The payload in its current shape (for readers of the global stream).
pub fn upcast_payload(event_type: &str, event_version: &str, payload: &Value) -> Value {
    upcast_ref(event_type, event_version, payload).into_owned()
}

/// The payload in its current shape, borrowed when it already is (almost every event): no copy
/// on the rebuild's hot path.
pub fn upcast_ref<'a>(event_type: &str, event_version: &str, payload: &'a Value) -> Cow<'a, Value> {
    let mut payload = Cow::Borrowed(payload);
    let mut version = Cow::Borrowed(event_version);
    for upcaster in &ALL {
        if upcaster.applies(event_type, &version) {
            payload = Cow::Owned(upcaster.rewrite(payload.into_owned()));
            version = Cow::Borrowed(upcaster.version);
        }
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::group::GroupEvent;
    use serde_json::json;

    fn old() -> Value {
        json!({ "GroupCreated": { "tenant_id": "01a20358-2767-7517-a3b8-6dd003b8923a", "group_id": "01a20358-2767-7517-a3b8-6dd003b8923b",
                                   "display_name": "Sales", "description": null } })
    }

    #[test]
    fn the_pre_1_0_group_created_reads_as_the_current_shape() {
        assert!(serde_json::from_value::<GroupEvent>(old()).is_err(), "the old shape does not decode as is");
        let event: GroupEvent = serde_json::from_value(upcast_payload("GroupCreated", "0.9", &old())).unwrap();
        assert!(matches!(event, GroupEvent::GroupCreated { name, .. } if name.to_string() == "Sales"));
        // Current versions and other events pass through untouched.
        assert_eq!(upcast_payload("GroupCreated", "1.0", &old()), old());
        assert_eq!(upcast_payload("GroupRenamed", "0.9", &old()), old());
    }

    #[test]
    fn the_cqrs_upcaster_bumps_the_version() {
        let event = SerializedEvent {
            aggregate_id: "t/g".into(),
            sequence: 1,
            aggregate_type: "Group".into(),
            event_type: "GroupCreated".into(),
            event_version: "0.9".into(),
            payload: old(),
            metadata: json!({}),
        };
        let upcasters = upcasters();
        assert!(upcasters[0].can_upcast("GroupCreated", "0.9") && !upcasters[0].can_upcast("GroupCreated", "1.0"));
        assert!(upcasters[1].can_upcast("UserCreated", "1.0") && !upcasters[1].can_upcast("UserCreated", "1.1"));
        let upcast = upcasters[0].upcast(event);
        assert_eq!(upcast.event_version, "1.0");
        assert_eq!(upcast.payload["GroupCreated"]["name"], "Sales");
    }

    #[test]
    fn upns_of_1_0_events_read_as_personal_values() {
        use crate::domain::sign_in::SignInEvent;
        use crate::domain::user::UserEvent;
        let created = json!({ "UserCreated": { "tenant_id": "01a20358-2767-7517-a3b8-6dd003b8923a", "user_id": "01a20358-2767-7517-a3b8-6dd003b8923b",
            "upn": "adele@contoso.com", "immutable_id": "AQEBAQEBAQEBAQEBAQEBAQ==",
            "profile": { "personal": { "display_name": "Adele", "given_name": null, "surname": null, "mail": null } }, "usage_location": null } });
        assert!(serde_json::from_value::<UserEvent>(created.clone()).is_err(), "the old shape does not decode as is");
        let upcast = upcast_payload("UserCreated", "1.0", &created);
        match serde_json::from_value::<UserEvent>(upcast.clone()).unwrap() {
            UserEvent::UserCreated { upn, upn_pseudonym, .. } => {
                assert_eq!(upn.value().map(ToString::to_string).as_deref(), Some("adele@contoso.com"));
                assert_eq!(upn_pseudonym, None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(upcast_payload("UserCreated", "1.1", &upcast), upcast, "current versions pass through");

        let details = json!({ "tenant_id": "01a20358-2767-7517-a3b8-6dd003b8923a", "user_id": null, "upn": "who@contoso.com",
                              "realm": "urn:federation:MicrosoftOnline", "client": { "personal": { "ip": "10.0.0.1", "user_agent": "UA" } }, "mfa_done": false });
        let failed = json!({ "SignInFailed": { "details": details, "reason": "UNKNOWN_USER" } });
        let event: SignInEvent = serde_json::from_value(upcast_payload("SignInFailed", "1.0", &failed)).unwrap();
        let SignInEvent::SignInFailed { details, .. } = event else { panic!() };
        assert_eq!(details.upn.value().map(String::as_str), Some("who@contoso.com"));
        assert_eq!(details.account, None);

        let claims = json!({ "issuer": "i", "audience": "a", "reply_url": "r", "assertion_id": "x", "immutable_id": "m", "upn": "who@contoso.com",
                             "mfa_claim": false, "signing_key_id": "k", "not_on_or_after": "2026-01-01T00:00:00Z", "from_session": false });
        let succeeded = json!({ "SignInSucceeded": { "details": failed["SignInFailed"]["details"], "claims": claims } });
        let event: SignInEvent = serde_json::from_value(upcast_payload("SignInSucceeded", "1.0", &succeeded)).unwrap();
        let SignInEvent::SignInSucceeded { claims, .. } = event else { panic!() };
        assert_eq!(claims.upn.value().map(String::as_str), Some("who@contoso.com"));
    }
}
