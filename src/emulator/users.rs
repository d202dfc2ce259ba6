//! `/users`: create, get (by id or UPN), list, update, delete, with the directory's rules.
//!
//! The rules enforced are the ones Tessera depends on (graph-notes.md §7): required
//! properties, a UPN in a verified domain of the tenant, `onPremisesImmutableId` for a
//! federated domain, password complexity, and uniqueness of UPN and ImmutableID.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::errors::{GraphError, GraphResponse, GraphResult};
use super::input::{accept, is_blank, merge};
use super::licenses::LicenseView;
use super::odata::{self, Allowed};
use super::request::{Call, fmt_time};
use super::schema::{USER, is_extension_property};
use super::state::{ObjectKind, Tenant, Tombstone, User, str_prop};

/// Required on create, in the order of Microsoft's documentation.
const REQUIRED: [&str; 5] = ["accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"];

const PASSWORD_COMPLEXITY: &str =
    "The specified password does not comply with password complexity requirements. Please provide a different password.";

const UPN_DOMAIN: &str =
    "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.";

/// The full representation of a user; projection picks from it.
pub(crate) fn render(u: &User, view: &LicenseView) -> Map<String, Value> {
    let mut m = Map::new();
    for p in USER.props {
        let v = match p.name {
            "id" => Value::from(u.id.clone()),
            "createdDateTime" => Value::from(fmt_time(u.created)),
            "assignedLicenses" => view.assigned_json(&u.id),
            "licenseAssignmentStates" => view.states_json(&u.id),
            "passwordProfile" | "deletedDateTime" => Value::Null,
            name => u
                .props
                .get(name)
                .cloned()
                .unwrap_or_else(|| if p.edm_type.starts_with("Collection(") { Value::Array(Vec::new()) } else { Value::Null }),
        };
        m.insert(p.name.into(), v);
    }
    for (k, v) in u.props.iter().filter(|(k, _)| is_extension_property(k)) {
        m.insert(k.clone(), v.clone());
    }
    m
}

fn entity_body(t: &Tenant, call: &Call, i: usize, select: Option<&[&'static str]>) -> Value {
    let view = LicenseView::for_user(t, &t.users[i].id);
    let mut out = odata::project(&render(&t.users[i], &view), select, &USER);
    out.insert("@odata.context".into(), odata::context(call.base, "users/$entity", select).into());
    Value::Object(out)
}

/// `POST /users`.
pub(crate) fn create(t: &mut Tenant, call: &Call) -> GraphResult {
    let mut props = accept(&USER, &call.object()?)?;
    if let Some(missing) = REQUIRED.iter().find(|r| is_blank(props.get(**r))) {
        return Err(GraphError::required(missing));
    }
    check_password(props.get("passwordProfile"))?;
    let upn = str_prop(&props, "userPrincipalName").to_owned();
    let federated = check_upn(t, &upn)?;
    if federated && is_blank(props.get("onPremisesImmutableId")) {
        return Err(GraphError::required("onPremisesImmutableId"));
    }
    check_common(&props)?;
    check_unique(t, None, &props)?;
    // The password is checked, never kept: the emulator has no sign-in to use it for.
    props.remove("passwordProfile");
    props.entry("userType").or_insert_with(|| Value::from("Member"));
    let seq = t.next_seq();
    t.users.push(User { id: Uuid::new_v4().to_string(), seq, version: seq, created: call.now, props, licenses: Vec::new() });
    let i = t.users.len() - 1;
    Ok(GraphResponse::json(201, entity_body(t, call, i, None)))
}

/// `GET /users`.
pub(crate) fn list(t: &Tenant, call: &Call) -> GraphResult {
    let q = call.options(&[&USER], Allowed { filter: true, top: true, count: true })?;
    let after = odata::skip_after(&q)?;
    let view = LicenseView::compute(t);
    let matches = |m: &Map<String, Value>| q.filter.as_ref().is_none_or(|f| f.eval(m));
    let total = q.count.then(|| t.users.iter().filter(|u| matches(&render(u, &view))).count());
    let items = t
        .users
        .iter()
        .filter(|u| u.seq > after)
        .map(|u| (u.seq, render(u, &view)))
        .filter(|(_, m)| matches(m))
        .map(|(seq, m)| (seq, odata::project(&m, q.select.as_deref(), &USER)));
    let page = odata::paginate(items, &q, total);
    let context = odata::context(call.base, "users", q.select.as_deref());
    let body = odata::collection_body(context, page, &q, |after| {
        let token = odata::encode_token("skip", &[after]);
        odata::link(call.base, call.path, call.query, "$skiptoken", &token)
    });
    Ok(GraphResponse::json(200, body))
}

/// `GET /users/{id | userPrincipalName}`.
pub(crate) fn get(t: &Tenant, call: &Call, key: &str) -> GraphResult {
    let q = call.options(&[&USER], Allowed::default())?;
    let i = t.user_index(key).ok_or_else(|| GraphError::not_found(key))?;
    Ok(GraphResponse::json(200, entity_body(t, call, i, q.select.as_deref())))
}

/// `PATCH /users/{id | userPrincipalName}` → 204.
pub(crate) fn update(t: &mut Tenant, call: &Call, key: &str) -> GraphResult {
    let i = t.user_index(key).ok_or_else(|| GraphError::not_found(key))?;
    let mut props = accept(&USER, &call.object()?)?;
    for name in REQUIRED {
        if props.contains_key(name) && is_blank(props.get(name)) {
            return Err(GraphError::invalid_value(name, USER.resource));
        }
    }
    if props.contains_key("passwordProfile") {
        check_password(props.get("passwordProfile"))?;
        props.remove("passwordProfile");
    }
    if props.contains_key("userPrincipalName") {
        check_upn(t, str_prop(&props, "userPrincipalName"))?;
    }
    check_common(&props)?;
    let id = t.users[i].id.clone();
    check_unique(t, Some(&id), &props)?;
    let version = t.next_seq();
    let user = &mut t.users[i];
    merge(&mut user.props, props);
    user.version = version;
    Ok(GraphResponse::no_content())
}

/// `DELETE /users/{id | userPrincipalName}` → 204; memberships and seats go with it.
pub(crate) fn delete(t: &mut Tenant, key: &str) -> GraphResult {
    let i = t.user_index(key).ok_or_else(|| GraphError::not_found(key))?;
    let user = t.users.remove(i);
    for g in &mut t.groups {
        g.members.retain(|m| *m != user.id);
        g.owners.retain(|m| *m != user.id);
    }
    let version = t.next_seq();
    t.removed.push(Tombstone { kind: ObjectKind::User, id: user.id, version });
    Ok(GraphResponse::no_content())
}

/// Returns whether the UPN's domain is federated.
fn check_upn(t: &Tenant, upn: &str) -> Result<bool, GraphError> {
    let invalid = || GraphError::invalid_value("userPrincipalName", USER.resource);
    let (alias, domain) = upn.rsplit_once('@').ok_or_else(invalid)?;
    let alias_ok = !alias.is_empty()
        && alias.len() <= 64
        && !alias.starts_with('.')
        && !alias.ends_with('.')
        && !alias.contains("..")
        && alias.chars().all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c));
    if !alias_ok || domain.is_empty() {
        return Err(invalid());
    }
    let d = t
        .domains
        .iter()
        .find(|d| d.is_verified && d.name.eq_ignore_ascii_case(domain))
        .ok_or_else(|| GraphError::bad_request(UPN_DOMAIN))?;
    Ok(d.authentication_type == "Federated")
}

/// Entra's rule: 8–256 characters with three of lower, upper, digit and symbol.
fn check_password(profile: Option<&Value>) -> Result<(), GraphError> {
    let password = profile
        .and_then(|p| p.get("password"))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| GraphError::required("passwordProfile.password"))?;
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    let count = password.chars().count();
    if !(8..=256).contains(&count) || classes.iter().filter(|c| **c).count() < 3 {
        return Err(GraphError::bad_request(PASSWORD_COMPLEXITY));
    }
    Ok(())
}

/// Shape rules for `mailNickname`, `usageLocation` and `userType`.
fn check_common(props: &Map<String, Value>) -> Result<(), GraphError> {
    if let Some(nick) = props.get("mailNickname").and_then(Value::as_str) {
        let ok = !nick.is_empty()
            && nick.len() <= 64
            && nick.chars().all(|c| c.is_ascii() && !c.is_ascii_whitespace() && !"@()\\[]\";:<>,".contains(c));
        if !ok {
            return Err(GraphError::invalid_value("mailNickname", USER.resource));
        }
    }
    if let Some(loc) = props.get("usageLocation").and_then(Value::as_str)
        && !(loc.len() == 2 && loc.chars().all(|c| c.is_ascii_alphabetic()))
    {
        return Err(GraphError::invalid_value("usageLocation", USER.resource));
    }
    if let Some(kind) = props.get("userType").and_then(Value::as_str)
        && kind != "Member"
        && kind != "Guest"
    {
        return Err(GraphError::invalid_value("userType", USER.resource));
    }
    Ok(())
}

/// UPN (case-insensitive) and ImmutableID (exact) must be unique in the tenant.
fn check_unique(t: &Tenant, except: Option<&str>, props: &Map<String, Value>) -> Result<(), GraphError> {
    let others = || t.users.iter().filter(move |u| Some(u.id.as_str()) != except);
    if let Some(upn) = props.get("userPrincipalName").and_then(Value::as_str)
        && others().any(|u| u.upn().eq_ignore_ascii_case(upn))
    {
        return Err(GraphError::conflict("userPrincipalName"));
    }
    if let Some(anchor) = props.get("onPremisesImmutableId").and_then(Value::as_str)
        && others().any(|u| str_prop(&u.props, "onPremisesImmutableId") == anchor)
    {
        return Err(GraphError::conflict("onPremisesImmutableId"));
    }
    Ok(())
}
