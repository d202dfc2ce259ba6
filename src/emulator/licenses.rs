//! Licenses: `subscribedSkus`, `assignLicense` on users and groups, and seat accounting.
//!
//! Seat usage is derived, never stored: [`LicenseView`] recomputes who holds which SKU
//! (directly or through a group) from the current users, groups and assignments, so deleting
//! a user or removing a member frees its seat the way Entra ID does. Group-based grants that
//! find no free seat show up as `CountViolation` errors in `licenseAssignmentStates`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::errors::{GraphError, GraphResponse, GraphResult};
use super::input::is_blank;
use super::odata::{self, Allowed};
use super::request::{Call, fmt_time};
use super::schema::{GROUP, SUBSCRIBED_SKU, USER};
use super::state::{AssignedLicense, Sku, Tenant};
use super::{groups, users};

/// graph-notes.md §7: the answer when the user has no `usageLocation`.
pub(crate) const USAGE_LOCATION_MESSAGE: &str = "License assignment cannot be done for user with invalid usage location.";

/// One license a user holds or failed to get.
struct LicenseState {
    sku_id: Uuid,
    disabled_plans: Vec<Uuid>,
    by_group: Option<String>,
    error: Option<&'static str>,
    updated: DateTime<Utc>,
}

/// Who holds which SKU right now, and how many seats each SKU has consumed.
pub(crate) struct LicenseView {
    states: HashMap<String, Vec<LicenseState>>,
    consumed: HashMap<Uuid, i64>,
    groups_with_errors: HashSet<String>,
}

impl LicenseView {
    /// Direct assignments first (they were checked against free seats when made), then
    /// group grants in group creation order, member by member.
    pub(crate) fn compute(t: &Tenant) -> Self {
        Self::build(t, None)
    }

    /// The same view, holding the states of one user only: seats are still counted over the
    /// whole tenant, but answering for one user no longer allocates a state for every user
    /// (at 10,000 users that made each create and `assignLicense` cost milliseconds, which is
    /// what the outbox benchmark measured instead of Tessera).
    pub(crate) fn for_user(t: &Tenant, user_id: &str) -> Self {
        Self::build(t, Some(user_id))
    }

    fn build(t: &Tenant, only: Option<&str>) -> Self {
        let keep = |id: &str| only.is_none_or(|o| o == id);
        let mut consumed: HashMap<Uuid, i64> = t.skus.iter().map(|s| (s.sku_id, s.baseline_consumed)).collect();
        let mut held: HashSet<(&str, Uuid)> = HashSet::new();
        let mut states: HashMap<String, Vec<LicenseState>> = HashMap::new();
        let licensed_groups = t.groups.iter().any(|g| !g.licenses.is_empty());
        for u in &t.users {
            for (k, l) in u.licenses.iter().enumerate() {
                // `held` is only needed to tell group grants from direct ones; without licensed
                // groups a repeat within the user's own list is all there is to skip.
                let first = if licensed_groups {
                    held.insert((u.id.as_str(), l.sku_id))
                } else {
                    !u.licenses[..k].iter().any(|p| p.sku_id == l.sku_id)
                };
                if first {
                    *consumed.entry(l.sku_id).or_default() += 1;
                }
                if keep(&u.id) {
                    states.entry(u.id.clone()).or_default().push(LicenseState {
                        sku_id: l.sku_id,
                        disabled_plans: l.disabled_plans.clone(),
                        by_group: None,
                        error: None,
                        updated: l.assigned_at,
                    });
                }
            }
        }
        let mut groups_with_errors = HashSet::new();
        // Only needed (and only built) when some group grants licenses.
        let user_ids: HashSet<&str> = if licensed_groups { t.users.iter().map(|u| u.id.as_str()).collect() } else { HashSet::new() };
        for g in t.groups.iter().filter(|g| !g.licenses.is_empty()) {
            for member in g.members.iter().filter(|m| user_ids.contains(m.as_str())) {
                for l in &g.licenses {
                    let key = (member.as_str(), l.sku_id);
                    let error = if held.contains(&key) {
                        None
                    } else {
                        let enabled = t.sku(l.sku_id).map_or(0, |s| s.enabled);
                        let used = consumed.entry(l.sku_id).or_default();
                        if *used < enabled {
                            *used += 1;
                            held.insert(key);
                            None
                        } else {
                            Some("CountViolation")
                        }
                    };
                    if error.is_some() {
                        groups_with_errors.insert(g.id.clone());
                    }
                    if !keep(member) {
                        continue;
                    }
                    states.entry(member.clone()).or_default().push(LicenseState {
                        sku_id: l.sku_id,
                        disabled_plans: l.disabled_plans.clone(),
                        by_group: Some(g.id.clone()),
                        error,
                        updated: l.assigned_at,
                    });
                }
            }
        }
        Self { states, consumed, groups_with_errors }
    }

    pub(crate) fn consumed(&self, sku: Uuid) -> i64 {
        self.consumed.get(&sku).copied().unwrap_or(0)
    }

    /// Whether the user actually holds the SKU (directly or through a group).
    pub(crate) fn holds(&self, user_id: &str, sku: Uuid) -> bool {
        self.states.get(user_id).is_some_and(|s| s.iter().any(|l| l.sku_id == sku && l.error.is_none()))
    }

    /// The user's `assignedLicenses`: every SKU held without error, once.
    pub(crate) fn assigned_json(&self, user_id: &str) -> Value {
        let mut seen = HashSet::new();
        let items: Vec<Value> = self
            .states
            .get(user_id)
            .into_iter()
            .flatten()
            .filter(|l| l.error.is_none() && seen.insert(l.sku_id))
            .map(|l| license_json(l.sku_id, &l.disabled_plans))
            .collect();
        Value::Array(items)
    }

    /// The user's `licenseAssignmentStates`.
    pub(crate) fn states_json(&self, user_id: &str) -> Value {
        let items: Vec<Value> = self
            .states
            .get(user_id)
            .into_iter()
            .flatten()
            .map(|l| {
                json!({
                    "assignedByGroup": l.by_group,
                    "disabledPlans": l.disabled_plans.iter().map(Uuid::to_string).collect::<Vec<_>>(),
                    "error": l.error.unwrap_or("None"),
                    "lastUpdatedDateTime": fmt_time(l.updated),
                    "skuId": l.sku_id.to_string(),
                    "state": if l.error.is_some() { "Error" } else { "Active" },
                })
            })
            .collect();
        Value::Array(items)
    }

    pub(crate) fn group_has_errors(&self, group_id: &str) -> bool {
        self.groups_with_errors.contains(group_id)
    }
}

pub(crate) fn license_json(sku_id: Uuid, disabled: &[Uuid]) -> Value {
    json!({
        "disabledPlans": disabled.iter().map(Uuid::to_string).collect::<Vec<_>>(),
        "skuId": sku_id.to_string(),
    })
}

/// `addLicenses` / `removeLicenses` of an assignLicense body; both are non-nullable.
/// Licenses to add: SKU and its disabled plans.
type Additions = Vec<(Uuid, Vec<Uuid>)>;

fn parse_assign(body: &Map<String, Value>) -> Result<(Additions, Vec<Uuid>), GraphError> {
    for key in body.keys() {
        if key != "addLicenses" && key != "removeLicenses" {
            return Err(GraphError::odata(format!(
                "The parameter '{key}' in the request payload is not a valid parameter for the operation 'assignLicense'."
            )));
        }
    }
    let guid = |v: &Value| {
        v.as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(|| {
            GraphError::odata("Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception for more details.")
        })
    };
    let add_items = body.get("addLicenses").and_then(Value::as_array).ok_or_else(|| GraphError::required("addLicenses"))?;
    let remove_items = body.get("removeLicenses").and_then(Value::as_array).ok_or_else(|| GraphError::required("removeLicenses"))?;
    let mut add = Vec::new();
    for item in add_items {
        let obj = item.as_object().ok_or_else(|| GraphError::invalid_value("addLicenses", "AssignedLicense"))?;
        if let Some(k) = obj.keys().find(|k| *k != "skuId" && *k != "disabledPlans" && !k.starts_with("@odata.")) {
            return Err(GraphError::odata(format!(
                "Property '{k}' does not exist on type 'microsoft.graph.assignedLicense'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )));
        }
        let sku = guid(obj.get("skuId").unwrap_or(&Value::Null))?;
        let disabled = match obj.get("disabledPlans") {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(guid).collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(GraphError::invalid_value("disabledPlans", "AssignedLicense"));
            }
        };
        add.push((sku, disabled));
    }
    let remove = remove_items.iter().map(guid).collect::<Result<Vec<_>, _>>()?;
    Ok((add, remove))
}

/// Every added SKU must exist, not also be removed, and disable only its own plans.
fn check_skus(t: &Tenant, add: &[(Uuid, Vec<Uuid>)], remove: &[Uuid]) -> Result<(), GraphError> {
    for (sku_id, disabled) in add {
        let sku = t
            .sku(*sku_id)
            .ok_or_else(|| GraphError::bad_request(format!("License {sku_id} does not correspond to a valid company License.")))?;
        if remove.contains(sku_id) {
            return Err(GraphError::bad_request(format!("License {sku_id} cannot be added and removed in the same request.")));
        }
        if !sku.service_plans.is_empty()
            && let Some(plan) = disabled.iter().find(|p| !sku.service_plans.iter().any(|s| s.id == **p))
        {
            return Err(GraphError::bad_request(format!("Service plan {plan} is not part of license {sku_id}.")));
        }
    }
    Ok(())
}

/// `POST /users/{id}/assignLicense`.
pub(crate) fn assign_to_user(t: &mut Tenant, call: &Call, key: &str) -> GraphResult {
    let i = t.user_index(key).ok_or_else(|| GraphError::not_found(key))?;
    let (add, remove) = parse_assign(&call.object()?)?;
    let user_id = t.users[i].id.clone();
    if !add.is_empty() && is_blank(t.users[i].props.get("usageLocation")) {
        return Err(GraphError::bad_request(USAGE_LOCATION_MESSAGE));
    }
    check_skus(t, &add, &remove)?;
    let view = LicenseView::for_user(t, &user_id);
    for sku in &remove {
        if !t.users[i].licenses.iter().any(|l| l.sku_id == *sku) {
            return Err(GraphError::bad_request(if view.holds(&user_id, *sku) {
                "User license is inherited from a group membership and it cannot be removed directly from the user."
            } else {
                "User does not have a corresponding license."
            }));
        }
    }
    for (sku_id, _) in &add {
        let free = t.sku(*sku_id).map_or(0, |s| s.enabled) - view.consumed(*sku_id);
        if !view.holds(&user_id, *sku_id) && free <= 0 {
            return Err(GraphError::bad_request(format!("Subscription with SKU {sku_id} does not have any available licenses.")));
        }
    }
    let version = t.next_seq();
    let user = &mut t.users[i];
    apply(&mut user.licenses, add, &remove, call.now);
    user.version = version;
    let view = LicenseView::for_user(t, &user_id);
    let full = users::render(&t.users[i], &view);
    let mut out = odata::project(&full, None, &USER);
    out.insert("@odata.context".into(), odata::context(call.base, "users/$entity", None).into());
    Ok(GraphResponse::json(200, Value::Object(out)))
}

/// `POST /groups/{id}/assignLicense`: accepted at once; seats are settled per member.
pub(crate) fn assign_to_group(t: &mut Tenant, call: &Call, id: &str) -> GraphResult {
    let i = t.group_index(id).ok_or_else(|| GraphError::not_found(id))?;
    let (add, remove) = parse_assign(&call.object()?)?;
    check_skus(t, &add, &remove)?;
    if let Some(sku) = remove.iter().find(|s| !t.groups[i].licenses.iter().any(|l| l.sku_id == **s)) {
        return Err(GraphError::bad_request(format!("License {sku} is not assigned to the group.")));
    }
    let version = t.next_seq();
    let group = &mut t.groups[i];
    apply(&mut group.licenses, add, &remove, call.now);
    group.version = version;
    let view = LicenseView::compute(t);
    let full = groups::render(&t.groups[i], &view);
    let mut out = odata::project(&full, None, &GROUP);
    out.insert("@odata.context".into(), odata::context(call.base, "groups/$entity", None).into());
    Ok(GraphResponse::json(202, Value::Object(out)))
}

fn apply(held: &mut Vec<AssignedLicense>, add: Vec<(Uuid, Vec<Uuid>)>, remove: &[Uuid], now: DateTime<Utc>) {
    held.retain(|l| !remove.contains(&l.sku_id));
    for (sku_id, disabled_plans) in add {
        if let Some(existing) = held.iter_mut().find(|l| l.sku_id == sku_id) {
            existing.disabled_plans = disabled_plans;
        } else {
            held.push(AssignedLicense { sku_id, disabled_plans, assigned_at: now });
        }
    }
}

pub(crate) fn render_sku(t: &Tenant, sku: &Sku, view: &LicenseView) -> Map<String, Value> {
    let plans: Vec<Value> = sku
        .service_plans
        .iter()
        .map(|p| {
            json!({
                "appliesTo": p.applies_to,
                "provisioningStatus": p.provisioning_status,
                "servicePlanId": p.id.to_string(),
                "servicePlanName": p.name,
            })
        })
        .collect();
    let v = json!({
        "accountId": t.id,
        "accountName": t.display_name,
        "appliesTo": sku.applies_to,
        "capabilityStatus": sku.capability_status,
        "consumedUnits": view.consumed(sku.sku_id),
        "id": format!("{}_{}", t.id, sku.sku_id),
        "prepaidUnits": {
            "enabled": sku.enabled,
            "lockedOut": sku.locked_out,
            "suspended": sku.suspended,
            "warning": sku.warning,
        },
        "servicePlans": plans,
        "skuId": sku.sku_id.to_string(),
        "skuPartNumber": sku.part_number,
        "subscriptionIds": [sku.subscription_id],
    });
    v.as_object().cloned().unwrap_or_default()
}

/// `GET /subscribedSkus`.
pub(crate) fn list_skus(t: &Tenant, call: &Call) -> GraphResult {
    let q = call.options(&[&SUBSCRIBED_SKU], Allowed::default())?;
    let view = LicenseView::compute(t);
    let items: Vec<Value> =
        t.skus.iter().map(|s| Value::Object(odata::project(&render_sku(t, s, &view), q.select.as_deref(), &SUBSCRIBED_SKU))).collect();
    Ok(GraphResponse::json(
        200,
        json!({
            "@odata.context": odata::context(call.base, "subscribedSkus", q.select.as_deref()),
            "value": items,
        }),
    ))
}

/// `GET /subscribedSkus/{tenantId}_{skuId}`.
pub(crate) fn get_sku(t: &Tenant, call: &Call, id: &str) -> GraphResult {
    let q = call.options(&[&SUBSCRIBED_SKU], Allowed::default())?;
    let sku = id
        .rsplit_once('_')
        .filter(|(tenant, _)| tenant.eq_ignore_ascii_case(&t.id))
        .and_then(|(_, sku)| Uuid::parse_str(sku).ok())
        .and_then(|sku| t.sku(sku))
        .ok_or_else(|| GraphError::not_found(id))?;
    let view = LicenseView::compute(t);
    let mut out = odata::project(&render_sku(t, sku, &view), q.select.as_deref(), &SUBSCRIBED_SKU);
    out.insert("@odata.context".into(), odata::context(call.base, "subscribedSkus/$entity", None).into());
    Ok(GraphResponse::json(200, Value::Object(out)))
}
