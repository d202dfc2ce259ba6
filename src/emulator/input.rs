//! Validation of write bodies against the schema tables.
//!
//! Graph rejects unknown, read-only and mistyped properties; the emulator does the same so a
//! Tessera bug in a request body fails in tests instead of in a customer's tenant.

use serde_json::{Map, Value};

use super::errors::GraphError;
use super::schema::{Access, TypeSpec, is_extension_property, value_ok};

/// Checks every property of `body` and returns the accepted ones.
///
/// `@odata.type` must name the type when present; other annotations (`…@odata.bind`) are
/// skipped here and handled by the resource that supports them.
pub(crate) fn accept(spec: &TypeSpec, body: &Map<String, Value>) -> Result<Map<String, Value>, GraphError> {
    let mut out = Map::new();
    for (key, value) in body {
        if key == "@odata.type" {
            let named = value.as_str().map(|s| s.trim_start_matches('#'));
            if named != Some(spec.name) {
                return Err(GraphError::odata(format!(
                    "A type named '{}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.",
                    value.as_str().unwrap_or_default()
                )));
            }
            continue;
        }
        if key.contains("@odata.") {
            continue;
        }
        if spec.open && is_extension_property(key) {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let Some(prop) = spec.props.iter().find(|p| p.name == key) else {
            return Err(unknown_property(spec, key));
        };
        if prop.access == Access::ReadOnly {
            return Err(GraphError::read_only(key));
        }
        if !value_ok(prop.edm_type, prop.nullable, value) {
            return Err(GraphError::invalid_value(key, spec.resource));
        }
        out.insert(key.clone(), value.clone());
    }
    Ok(out)
}

fn unknown_property(spec: &TypeSpec, key: &str) -> GraphError {
    if spec.open {
        GraphError::bad_request(format!("Invalid property '{key}'."))
    } else {
        GraphError::odata(format!(
            "Property '{key}' does not exist on type '{}'. Make sure to only use property names that are defined by the type or mark the type as open type.",
            spec.name
        ))
    }
}

/// Absent, `null` or an empty string: what Graph calls "empty or missing".
pub(crate) fn is_blank(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

/// Copies accepted properties onto stored ones; `null` clears a property.
pub(crate) fn merge(stored: &mut Map<String, Value>, accepted: Map<String, Value>) {
    for (k, v) in accepted {
        if v.is_null() {
            stored.remove(&k);
        } else {
            stored.insert(k, v);
        }
    }
}
