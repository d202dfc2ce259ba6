//! `/domains`: list, get and update the tenant's domains.
//!
//! Domains are created through the control API (ownership proof happens outside Graph);
//! Graph only reads them and updates the few writable settings (graph-notes.md §9).

use serde_json::{Map, Value, json};

use super::errors::{GraphError, GraphResponse, GraphResult};
use super::input::accept;
use super::odata::{self, Allowed};
use super::request::Call;
use super::schema::DOMAIN;
use super::state::{Domain, Tenant};

/// The full representation of a domain.
pub(crate) fn render(t: &Tenant, d: &Domain) -> Map<String, Value> {
    let lower = d.name.to_ascii_lowercase();
    // A subdomain of another domain of the tenant is not a root domain.
    let is_root = !t.domains.iter().any(|o| {
        let parent = o.name.to_ascii_lowercase();
        parent != lower && lower.ends_with(&format!(".{parent}"))
    });
    let v = json!({
        "authenticationType": d.authentication_type,
        "availabilityStatus": null,
        "id": d.name,
        "isAdminManaged": true,
        "isDefault": d.is_default,
        "isInitial": d.is_initial,
        "isRoot": is_root,
        "isVerified": d.is_verified,
        "passwordNotificationWindowInDays": d.password_notification_days,
        "passwordValidityPeriodInDays": d.password_validity_days,
        "supportedServices": d.supported_services,
        "state": null,
    });
    v.as_object().cloned().unwrap_or_default()
}

/// `GET /domains`.
pub(crate) fn list(t: &Tenant, call: &Call) -> GraphResult {
    let q = call.options(&[&DOMAIN], Allowed::default())?;
    let items: Vec<Value> = t.domains.iter().map(|d| Value::Object(odata::project(&render(t, d), q.select.as_deref(), &DOMAIN))).collect();
    Ok(GraphResponse::json(
        200,
        json!({
            "@odata.context": odata::context(call.base, "domains", q.select.as_deref()),
            "value": items,
        }),
    ))
}

/// `GET /domains/{id}`.
pub(crate) fn get(t: &Tenant, call: &Call, id: &str) -> GraphResult {
    let q = call.options(&[&DOMAIN], Allowed::default())?;
    let i = t.domain_index(id).ok_or_else(|| GraphError::not_found(id))?;
    let mut out = odata::project(&render(t, &t.domains[i]), q.select.as_deref(), &DOMAIN);
    out.insert("@odata.context".into(), odata::context(call.base, "domains/$entity", q.select.as_deref()).into());
    Ok(GraphResponse::json(200, Value::Object(out)))
}

/// `PATCH /domains/{id}` → 204. Only verified domains can be updated; a federated domain
/// cannot become the default, and the default moves rather than disappears.
pub(crate) fn update(t: &mut Tenant, call: &Call, id: &str) -> GraphResult {
    let i = t.domain_index(id).ok_or_else(|| GraphError::not_found(id))?;
    let props = accept(&DOMAIN, &call.object()?)?;
    if !t.domains[i].is_verified {
        return Err(GraphError::bad_request(format!(
            "Domain '{}' is not verified; only verified domains can be updated.",
            t.domains[i].name
        )));
    }
    match props.get("isDefault") {
        Some(Value::Bool(true)) => {
            if t.domains[i].authentication_type == "Federated" {
                return Err(GraphError::bad_request("A federated domain cannot be set as the default domain."));
            }
            for (j, d) in t.domains.iter_mut().enumerate() {
                d.is_default = j == i;
            }
        }
        Some(Value::Bool(false)) if t.domains[i].is_default => {
            return Err(GraphError::bad_request("The default domain cannot be unset; set another domain as the default instead."));
        }
        _ => {}
    }
    let d = &mut t.domains[i];
    if let Some(services) = props.get("supportedServices").and_then(Value::as_array) {
        d.supported_services = services.iter().filter_map(Value::as_str).map(str::to_owned).collect();
    }
    if let Some(v) = props.get("passwordValidityPeriodInDays") {
        d.password_validity_days = v.as_i64();
    }
    if let Some(v) = props.get("passwordNotificationWindowInDays") {
        d.password_notification_days = v.as_i64();
    }
    Ok(GraphResponse::no_content())
}
