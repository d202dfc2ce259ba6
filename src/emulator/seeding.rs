//! Applying seed documents to the state.
//!
//! Seeding bypasses Graph's create rules on purpose (a seeded user may have no password, be
//! licensed already, or sit in a federated domain) but still keeps the directory
//! consistent: valid property names and types, unique UPNs and ids, known SKUs and members.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::groups::ref_id;
use super::schema::{GROUP, TypeSpec, USER, is_extension_property, value_ok};
use super::seed::{AppSeed, DomainSeed, Seed, SkuSeed, TenantSeed};
use super::state::{App, AppCert, AssignedLicense, Domain, EmulatorState, Group, ServicePlan, Sku, Tenant, User, str_prop};

/// What seeding created, with generated ids filled in.
pub(crate) fn summary(t: &Tenant) -> Value {
    json!({
        "id": t.id,
        "displayName": t.display_name,
        "domains": t.domains.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
        "apps": t.apps.iter().map(|a| json!({"clientId": a.client_id, "permissions": a.roles})).collect::<Vec<_>>(),
        "skus": t.skus.iter().map(|s| json!({"skuId": s.sku_id, "skuPartNumber": s.part_number})).collect::<Vec<_>>(),
        "users": t.users.iter().map(|u| json!({"id": u.id, "userPrincipalName": u.upn()})).collect::<Vec<_>>(),
        "groups": t.groups.iter().map(|g| json!({"id": g.id, "displayName": str_prop(&g.props, "displayName")})).collect::<Vec<_>>(),
    })
}

/// Applies a seed document; returns the summaries of the tenants it touched.
pub(crate) fn apply(state: &mut EmulatorState, seed: &Seed, now: DateTime<Utc>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for ts in &seed.tenants {
        let id = add_tenant(state, ts)?;
        let t = state.tenant_mut(&id).ok_or("tenant vanished")?;
        for d in &ts.domains {
            add_domain(t, d)?;
        }
        for a in &ts.apps {
            add_app(t, a)?;
        }
        for s in &ts.skus {
            add_sku(t, s)?;
        }
        let mut names = Names::of(t);
        for u in &ts.users {
            add_user(t, u, now, &mut names)?;
        }
        for g in &ts.groups {
            add_group(t, g, now, &mut names)?;
        }
        out.push(summary(t));
    }
    Ok(out)
}

/// Creates a tenant with its initial domain; an existing id is reused (seeding is additive).
pub(crate) fn add_tenant(state: &mut EmulatorState, ts: &TenantSeed) -> Result<String, String> {
    let id = match &ts.id {
        Some(id) => Uuid::parse_str(id).map_err(|_| format!("tenant id '{id}' is not a GUID"))?.to_string(),
        None => Uuid::new_v4().to_string(),
    };
    if state.tenant(&id).is_some() {
        return Ok(id);
    }
    let initial = ts.initial_domain.clone().unwrap_or_else(|| format!("emulator-{}.onmicrosoft.com", &id[..8]));
    if state.tenant_by_segment(&initial).is_some() {
        return Err(format!("domain '{initial}' already belongs to another tenant"));
    }
    let mut t = Tenant::new(id.clone(), ts.display_name.clone().unwrap_or_else(|| "Emulated tenant".into()));
    add_domain(
        &mut t,
        &DomainSeed { name: initial, is_verified: true, is_default: true, is_initial: Some(true), ..DomainSeed::default() },
    )?;
    state.tenants.push(t);
    Ok(id)
}

pub(crate) fn add_domain(t: &mut Tenant, d: &DomainSeed) -> Result<(), String> {
    let name = d.name.trim().to_ascii_lowercase();
    if name.is_empty() || !name.contains('.') || name.contains(['/', ' ', '@']) {
        return Err(format!("'{}' is not a domain name", d.name));
    }
    if t.domain_index(&name).is_some() {
        return Err(format!("domain '{name}' already exists"));
    }
    let authentication_type = match d.authentication_type.as_deref() {
        None | Some("Managed") => "Managed",
        Some("Federated") => "Federated",
        Some(other) => {
            return Err(format!("authenticationType '{other}' is not Managed or Federated"));
        }
    };
    if d.is_default {
        for other in &mut t.domains {
            other.is_default = false;
        }
    }
    let supported_services = if d.supported_services.is_empty() {
        vec!["Email".to_owned(), "OfficeCommunicationsOnline".to_owned()]
    } else {
        d.supported_services.clone()
    };
    t.domains.push(Domain {
        is_initial: d.is_initial.unwrap_or_else(|| name.ends_with(".onmicrosoft.com")),
        name,
        is_verified: d.is_verified,
        is_default: d.is_default,
        authentication_type: authentication_type.into(),
        supported_services,
        password_validity_days: None,
        password_notification_days: None,
        federation: None,
    });
    Ok(())
}

pub(crate) fn add_app(t: &mut Tenant, a: &AppSeed) -> Result<String, String> {
    let client_id = match &a.client_id {
        Some(id) => Uuid::parse_str(id).map_err(|_| format!("client id '{id}' is not a GUID"))?.to_string(),
        None => Uuid::new_v4().to_string(),
    };
    if t.app(&client_id).is_some() {
        return Err(format!("app '{client_id}' already exists"));
    }
    let certs = match &a.certificate_pem {
        Some(pem) => vec![parse_cert(pem)?],
        None => Vec::new(),
    };
    t.apps.push(App {
        client_id: client_id.clone(),
        principal_id: Uuid::new_v4().to_string(),
        display_name: a.display_name.clone().unwrap_or_else(|| "Tessera".into()),
        secret: a.client_secret.clone(),
        certs,
        roles: a.permissions.clone(),
    });
    Ok(client_id)
}

fn parse_cert(pem: &str) -> Result<AppCert, String> {
    let cert = X509::from_pem(pem.as_bytes()).map_err(|e| format!("certificatePem: {e}"))?;
    let digest = |md| cert.digest(md).map(|d| d.to_vec()).map_err(|e| e.to_string());
    let epoch = Asn1Time::from_unix(0).map_err(|e| e.to_string())?;
    let unix = |t: &openssl::asn1::Asn1TimeRef| -> Result<i64, String> {
        let diff = epoch.diff(t).map_err(|e| e.to_string())?;
        Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
    };
    Ok(AppCert {
        sha1: digest(MessageDigest::sha1())?,
        sha256: digest(MessageDigest::sha256())?,
        key: cert.public_key().map_err(|e| e.to_string())?,
        not_before: unix(cert.not_before())?,
        not_after: unix(cert.not_after())?,
    })
}

pub(crate) fn add_sku(t: &mut Tenant, s: &SkuSeed) -> Result<Uuid, String> {
    let sku_id = s.sku_id.unwrap_or_else(Uuid::new_v4);
    let units = &s.prepaid_units;
    // Edm.Int32 in Graph, and keeps seat arithmetic far from overflow.
    let counts = [units.enabled, units.suspended, units.warning, units.locked_out, s.consumed_units];
    if counts.iter().any(|n| !(0..=i64::from(i32::MAX)).contains(n)) {
        return Err("unit counts must be between 0 and 2147483647".into());
    }
    if t.sku(sku_id).is_some() {
        return Err(format!("SKU {sku_id} already exists"));
    }
    let applies_to = s.applies_to.clone().unwrap_or_else(|| "User".into());
    t.skus.push(Sku {
        sku_id,
        part_number: s.sku_part_number.clone(),
        enabled: s.prepaid_units.enabled,
        suspended: s.prepaid_units.suspended,
        warning: s.prepaid_units.warning,
        locked_out: s.prepaid_units.locked_out,
        baseline_consumed: s.consumed_units,
        service_plans: s
            .service_plans
            .iter()
            .map(|p| ServicePlan {
                id: p.service_plan_id.unwrap_or_else(Uuid::new_v4),
                name: p.service_plan_name.clone(),
                applies_to: p.applies_to.clone().unwrap_or_else(|| applies_to.clone()),
                provisioning_status: p.provisioning_status.clone().unwrap_or_else(|| "Success".into()),
            })
            .collect(),
        applies_to,
        capability_status: s.capability_status.clone().unwrap_or_else(|| "Enabled".into()),
        subscription_id: Uuid::new_v4().to_string(),
    });
    Ok(sku_id)
}

/// Checks a seeded object's properties against the schema (types only; no create rules).
fn seeded_props(spec: &TypeSpec, v: &Value, skip: &[&str]) -> Result<Map<String, Value>, String> {
    let obj = v.as_object().ok_or("a seeded object must be a JSON object")?;
    let mut props = Map::new();
    for (k, val) in obj {
        if skip.contains(&k.as_str()) || k.starts_with("@odata.") {
            continue;
        }
        if spec.open && is_extension_property(k) {
            props.insert(k.clone(), val.clone());
            continue;
        }
        let p = spec.props.iter().find(|p| p.name == k).ok_or_else(|| format!("{} has no property '{k}'", spec.name))?;
        if !value_ok(p.edm_type, p.nullable, val) {
            return Err(format!("invalid value for {}.{k}", spec.name));
        }
        if !val.is_null() {
            props.insert(k.clone(), val.clone());
        }
    }
    Ok(props)
}

fn seeded_id(v: &Value) -> Result<String, String> {
    match v.get("id").and_then(Value::as_str) {
        Some(id) => Uuid::parse_str(id).map(|u| u.to_string()).map_err(|_| format!("object id '{id}' is not a GUID")),
        None => Ok(Uuid::new_v4().to_string()),
    }
}

fn seeded_licenses(t: &Tenant, v: &Value, now: DateTime<Utc>) -> Result<Vec<AssignedLicense>, String> {
    let Some(items) = v.get("assignedLicenses") else {
        return Ok(Vec::new());
    };
    let items = items.as_array().ok_or("assignedLicenses must be an array")?;
    items
        .iter()
        .map(|l| {
            let sku_id = l
                .get("skuId")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or("assignedLicenses[].skuId must be a GUID")?;
            if t.sku(sku_id).is_none() {
                return Err(format!("SKU {sku_id} is not seeded"));
            }
            let disabled_plans = l
                .get("disabledPlans")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|p| p.as_str().and_then(|s| Uuid::parse_str(s).ok())).collect())
                .unwrap_or_default();
            Ok(AssignedLicense { sku_id, disabled_plans, assigned_at: now })
        })
        .collect()
}

/// Lower-cased ids and UPNs of a tenant's users and groups, mapped to the stored id, so a
/// seed of many objects is checked in linear rather than quadratic time.
pub(crate) struct Names(HashMap<String, String>);

impl Names {
    pub(crate) fn of(t: &Tenant) -> Self {
        let mut names = HashMap::new();
        for u in &t.users {
            names.insert(u.id.to_ascii_lowercase(), u.id.clone());
            names.insert(u.upn().to_ascii_lowercase(), u.id.clone());
        }
        for g in &t.groups {
            names.insert(g.id.to_ascii_lowercase(), g.id.clone());
        }
        Self(names)
    }

    fn get(&self, key: &str) -> Option<&String> {
        self.0.get(&key.to_ascii_lowercase())
    }

    fn insert(&mut self, key: &str, id: &str) {
        self.0.insert(key.to_ascii_lowercase(), id.to_owned());
    }
}

pub(crate) fn add_user(t: &mut Tenant, v: &Value, now: DateTime<Utc>, names: &mut Names) -> Result<String, String> {
    let mut props = seeded_props(&USER, v, &["id", "assignedLicenses", "passwordProfile", "createdDateTime"])?;
    let upn = str_prop(&props, "userPrincipalName").to_owned();
    if upn.is_empty() || !upn.contains('@') {
        return Err("a seeded user needs a userPrincipalName".into());
    }
    if names.get(&upn).is_some() {
        return Err(format!("user '{upn}' already exists"));
    }
    let id = seeded_id(v)?;
    if names.get(&id).is_some() {
        return Err(format!("object id '{id}' already exists"));
    }
    let licenses = seeded_licenses(t, v, now)?;
    names.insert(&upn, &id);
    names.insert(&id, &id);
    props.entry("userType").or_insert_with(|| Value::from("Member"));
    props.entry("accountEnabled").or_insert(Value::Bool(true));
    let seq = t.next_seq();
    t.users.push(User { id: id.clone(), seq, version: seq, created: now, props, licenses });
    Ok(id)
}

pub(crate) fn add_group(t: &mut Tenant, v: &Value, now: DateTime<Utc>, names: &mut Names) -> Result<String, String> {
    let props = seeded_props(&GROUP, v, &["id", "members", "assignedLicenses", "createdDateTime"])?;
    if str_prop(&props, "displayName").is_empty() {
        return Err("a seeded group needs a displayName".into());
    }
    let id = seeded_id(v)?;
    if names.get(&id).is_some() {
        return Err(format!("object id '{id}' already exists"));
    }
    let mut members: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for m in v.get("members").and_then(Value::as_array).into_iter().flatten() {
        let key = m.as_str().ok_or("members must be strings")?;
        let key = ref_id(key).unwrap_or_else(|| key.to_owned());
        let member = names.get(&key).ok_or_else(|| format!("member '{key}' is not seeded"))?;
        if seen.insert(member.clone()) {
            members.push(member.clone());
        }
    }
    let licenses = seeded_licenses(t, v, now)?;
    names.insert(&id, &id);
    let seq = t.next_seq();
    t.groups.push(Group { id: id.clone(), seq, version: seq, created: now, props, members, owners: Vec::new(), licenses });
    Ok(id)
}
