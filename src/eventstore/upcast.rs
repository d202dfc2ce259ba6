//! Upcasters: old payload shapes read as the current one. A shipped event is never edited
//! (STYLE.md rule 2); when a payload changes shape its version is bumped and an upcaster here
//! turns the old shape into the new one. They apply wherever events are decoded: aggregates
//! (cqrs-es's `EventUpcaster`, wired into every store) and projections (`upcast_payload`).
//! The audit chain hashes the stored bytes, never an upcast.
//!
//! The first one is the pre-1.0 `GroupCreated`, whose name field was `display_name`.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::Value;

/// Renames a field inside an event's payload for versions older than `below`.
struct RenameField {
    event_type: &'static str,
    below: (u32, u32),
    from: &'static str,
    to: &'static str,
    version: &'static str,
}

fn parse_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

impl RenameField {
    fn applies(&self, event_type: &str, event_version: &str) -> bool {
        event_type == self.event_type && parse_version(event_version).is_some_and(|v| v < self.below)
    }

    fn rewrite(&self, mut payload: Value) -> Value {
        // Payloads are externally tagged: {"GroupCreated": {…}}.
        if let Some(fields) = payload.get_mut(self.event_type).and_then(Value::as_object_mut)
            && let Some(value) = fields.remove(self.from)
        {
            fields.insert(self.to.to_owned(), value);
        }
        payload
    }
}

impl EventUpcaster for RenameField {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        self.applies(event_type, event_version)
    }

    fn upcast(&self, event: SerializedEvent) -> SerializedEvent {
        SerializedEvent { payload: self.rewrite(event.payload), event_version: self.version.to_owned(), ..event }
    }
}

const GROUP_CREATED_DISPLAY_NAME: RenameField =
    RenameField { event_type: "GroupCreated", below: (1, 0), from: "display_name", to: "name", version: "1.0" };

/// Every upcaster, oldest version first (what cqrs-es's stores are given).
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(GROUP_CREATED_DISPLAY_NAME)]
}

/// The payload in its current shape (for readers of the global stream).
pub fn upcast_payload(event_type: &str, event_version: &str, payload: &Value) -> Value {
    let mut payload = payload.clone();
    let mut version = event_version.to_owned();
    for upcaster in [&GROUP_CREATED_DISPLAY_NAME] {
        if upcaster.applies(event_type, &version) {
            payload = upcaster.rewrite(payload);
            upcaster.version.clone_into(&mut version);
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
        let upcast = upcasters[0].upcast(event);
        assert_eq!(upcast.event_version, "1.0");
        assert_eq!(upcast.payload["GroupCreated"]["name"], "Sales");
    }
}
