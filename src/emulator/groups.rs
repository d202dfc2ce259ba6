//! `/groups`: create, get, list, update, delete, and membership through `members/$ref`.
//!
//! Tessera pushes security groups and their members (graph-notes.md §8); the rules kept are
//! the documented ones: required properties, `mailNickname` characters, at most 20
//! `members@odata.bind` per request, 400 for an existing member, 404 for an unknown object.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::errors::{GraphError, GraphResponse, GraphResult};
use super::input::{accept, is_blank, merge};
use super::licenses::{LicenseView, license_json};
use super::odata::{self, Allowed};
use super::request::{Call, fmt_time};
use super::schema::{GROUP, TypeSpec, USER, is_extension_property};
use super::state::{Group, ObjectKind, Tenant, Tombstone, str_prop};
use super::users;

const REQUIRED: [&str; 4] = ["displayName", "mailEnabled", "mailNickname", "securityEnabled"];

const ALREADY_MEMBER: &str = "One or more added object references already exist for the following modified properties: 'members'.";

const MAX_BINDS: usize = 20;

/// The full representation of a group; projection picks from it.
pub(crate) fn render(g: &Group, view: &LicenseView) -> Map<String, Value> {
    let mut m = Map::new();
    for p in GROUP.props {
        let v = match p.name {
            "id" => Value::from(g.id.clone()),
            "createdDateTime" | "renewedDateTime" => Value::from(fmt_time(g.created)),
            "assignedLicenses" => Value::Array(g.licenses.iter().map(|l| license_json(l.sku_id, &l.disabled_plans)).collect()),
            "hasMembersWithLicenseErrors" => Value::from(view.group_has_errors(&g.id)),
            "licenseProcessingState" if !g.licenses.is_empty() => {
                json!({ "state": "ProcessingComplete" })
            }
            name => g
                .props
                .get(name)
                .cloned()
                .unwrap_or_else(|| if p.edm_type.starts_with("Collection(") { Value::Array(Vec::new()) } else { Value::Null }),
        };
        m.insert(p.name.into(), v);
    }
    for (k, v) in g.props.iter().filter(|(k, _)| is_extension_property(k)) {
        m.insert(k.clone(), v.clone());
    }
    m
}

fn entity_body(t: &Tenant, call: &Call, i: usize, select: Option<&[&'static str]>) -> Value {
    let view = LicenseView::compute(t);
    let mut out = odata::project(&render(&t.groups[i], &view), select, &GROUP);
    out.insert("@odata.context".into(), odata::context(call.base, "groups/$entity", select).into());
    Value::Object(out)
}

/// The object id named by an `@odata.id` / `@odata.bind` URL
/// (`https://graph.microsoft.com/v1.0/directoryObjects/{id}`, or `users/…`, `groups/…`).
pub(crate) fn ref_id(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let id = segments.next()?;
    let collection = segments.next()?;
    let known = ["directoryObjects", "users", "groups"].iter().any(|c| c.eq_ignore_ascii_case(collection));
    (known && !id.is_empty()).then(|| id.to_owned())
}

/// Resolves `…@odata.bind` URLs to existing object ids.
fn binds(t: &Tenant, body: &Map<String, Value>, key: &str) -> Result<Vec<String>, GraphError> {
    let Some(value) = body.get(key) else {
        return Ok(Vec::new());
    };
    let urls = value.as_array().ok_or_else(|| GraphError::odata(format!("The value of '{key}' must be an array of URLs.")))?;
    if urls.len() > MAX_BINDS {
        return Err(GraphError::bad_request(format!(
            "The request contains more than {MAX_BINDS} '{key}' references; add members in batches of {MAX_BINDS}."
        )));
    }
    let mut ids = Vec::new();
    for url in urls {
        let url = url.as_str().unwrap_or_default();
        let id = ref_id(url).ok_or_else(|| GraphError::odata(format!("Invalid object identifier '{url}'.")))?;
        let canonical = canonical_id(t, &id).ok_or_else(|| GraphError::not_found(&id))?;
        if !ids.contains(&canonical) {
            ids.push(canonical);
        }
    }
    Ok(ids)
}

/// The stored spelling of a user or group id.
fn canonical_id(t: &Tenant, id: &str) -> Option<String> {
    match t.object_kind(id)? {
        ObjectKind::User => t.users.iter().find(|u| u.id.eq_ignore_ascii_case(id)).map(|u| u.id.clone()),
        ObjectKind::Group => t.group_index(id).map(|i| t.groups[i].id.clone()),
    }
}

/// `POST /groups`.
pub(crate) fn create(t: &mut Tenant, call: &Call) -> GraphResult {
    let body = call.object()?;
    let mut props = accept(&GROUP, &body)?;
    if let Some(missing) = REQUIRED.iter().find(|r| is_blank(props.get(**r))) {
        return Err(GraphError::required(missing));
    }
    check_group(&props)?;
    let members = binds(t, &body, "members@odata.bind")?;
    let owners = binds(t, &body, "owners@odata.bind")?;
    let id = Uuid::new_v4();
    if props.get("mailEnabled") == Some(&Value::Bool(true)) {
        let domain = t.default_domain().map_or_else(|| "emulator.onmicrosoft.com".to_owned(), |d| d.name.clone());
        let mail = format!("{}@{domain}", str_prop(&props, "mailNickname"));
        props.insert("proxyAddresses".into(), json!([format!("SMTP:{mail}")]));
        props.insert("mail".into(), Value::from(mail));
    }
    props.insert("securityIdentifier".into(), Value::from(security_identifier(id)));
    let seq = t.next_seq();
    t.groups.push(Group { id: id.to_string(), seq, version: seq, created: call.now, props, members, owners, licenses: Vec::new() });
    let i = t.groups.len() - 1;
    Ok(GraphResponse::json(201, entity_body(t, call, i, None)))
}

/// Entra's SID for a cloud group: `S-1-12-1-` and the object id as four 32-bit numbers.
fn security_identifier(id: Uuid) -> String {
    let b = id.to_bytes_le();
    let part = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    format!("S-1-12-1-{}-{}-{}-{}", part(0), part(4), part(8), part(12))
}

/// Documented shape rules (graph-notes.md §8).
fn check_group(props: &Map<String, Value>) -> Result<(), GraphError> {
    if let Some(name) = props.get("displayName").and_then(Value::as_str)
        && (name.trim().is_empty() || name.chars().count() > 256)
    {
        return Err(GraphError::invalid_value("displayName", GROUP.resource));
    }
    if let Some(nick) = props.get("mailNickname").and_then(Value::as_str) {
        let ok = !nick.is_empty()
            && nick.len() <= 64
            && nick.chars().all(|c| c.is_ascii() && !c.is_ascii_control() && !"@()\\[]\";:.<>, ".contains(c));
        if !ok {
            return Err(GraphError::invalid_value("mailNickname", GROUP.resource));
        }
    }
    if let Some(types) = props.get("groupTypes").and_then(Value::as_array) {
        let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
        if names.iter().any(|t| *t != "Unified" && *t != "DynamicMembership") {
            return Err(GraphError::invalid_value("groupTypes", GROUP.resource));
        }
        if names.contains(&"DynamicMembership") && is_blank(props.get("membershipRule")) {
            return Err(GraphError::required("membershipRule"));
        }
    }
    Ok(())
}

/// `GET /groups`.
pub(crate) fn list(t: &Tenant, call: &Call) -> GraphResult {
    let q = call.options(&[&GROUP], Allowed { filter: true, top: true, count: true })?;
    let after = odata::skip_after(&q)?;
    let view = LicenseView::compute(t);
    let matches = |m: &Map<String, Value>| q.filter.as_ref().is_none_or(|f| f.eval(m));
    let total = q.count.then(|| t.groups.iter().filter(|g| matches(&render(g, &view))).count());
    let items = t
        .groups
        .iter()
        .filter(|g| g.seq > after)
        .map(|g| (g.seq, render(g, &view)))
        .filter(|(_, m)| matches(m))
        .map(|(seq, m)| (seq, odata::project(&m, q.select.as_deref(), &GROUP)));
    let page = odata::paginate(items, &q, total);
    let context = odata::context(call.base, "groups", q.select.as_deref());
    let body = odata::collection_body(context, page, &q, |after| {
        let token = odata::encode_token("skip", &[after]);
        odata::link(call.base, call.path, call.query, "$skiptoken", &token)
    });
    Ok(GraphResponse::json(200, body))
}

/// `GET /groups/{id}`.
pub(crate) fn get(t: &Tenant, call: &Call, id: &str) -> GraphResult {
    let q = call.options(&[&GROUP], Allowed::default())?;
    let i = t.group_index(id).ok_or_else(|| GraphError::not_found(id))?;
    Ok(GraphResponse::json(200, entity_body(t, call, i, q.select.as_deref())))
}

/// `PATCH /groups/{id}` → 204; also adds members through `members@odata.bind`.
pub(crate) fn update(t: &mut Tenant, call: &Call, id: &str) -> GraphResult {
    let i = t.group_index(id).ok_or_else(|| GraphError::not_found(id))?;
    let body = call.object()?;
    let props = accept(&GROUP, &body)?;
    for name in REQUIRED {
        if props.contains_key(name) && is_blank(props.get(name)) {
            return Err(GraphError::invalid_value(name, GROUP.resource));
        }
    }
    check_group(&props)?;
    let members = binds(t, &body, "members@odata.bind")?;
    let owners = binds(t, &body, "owners@odata.bind")?;
    let group = &t.groups[i];
    if members.iter().any(|m| group.members.contains(m)) {
        return Err(GraphError::bad_request(ALREADY_MEMBER));
    }
    if members.contains(&group.id) {
        return Err(GraphError::bad_request("A group cannot be a member of itself."));
    }
    let version = t.next_seq();
    let group = &mut t.groups[i];
    merge(&mut group.props, props);
    group.members.extend(members);
    for o in owners {
        if !group.owners.contains(&o) {
            group.owners.push(o);
        }
    }
    group.version = version;
    Ok(GraphResponse::no_content())
}

/// `DELETE /groups/{id}` → 204.
pub(crate) fn delete(t: &mut Tenant, id: &str) -> GraphResult {
    let i = t.group_index(id).ok_or_else(|| GraphError::not_found(id))?;
    let group = t.groups.remove(i);
    for g in &mut t.groups {
        g.members.retain(|m| *m != group.id);
    }
    let version = t.next_seq();
    t.removed.push(Tombstone { kind: ObjectKind::Group, id: group.id, version });
    Ok(GraphResponse::no_content())
}

/// `GET /groups/{id}/members`: `directoryObject`s tagged with their `@odata.type`.
pub(crate) fn list_members(t: &Tenant, call: &Call, id: &str) -> GraphResult {
    let specs: [&'static TypeSpec; 2] = [&USER, &GROUP];
    let q = call.options(&specs, Allowed { filter: true, top: true, count: true })?;
    let i = t.group_index(id).ok_or_else(|| GraphError::not_found(id))?;
    let view = LicenseView::compute(t);
    let mut items = Vec::new();
    for (pos, member) in t.groups[i].members.iter().enumerate() {
        let rendered = if let Some(u) = t.users.iter().find(|u| u.id == *member) {
            Some((users::render(u, &view), &USER, "#microsoft.graph.user"))
        } else {
            t.groups.iter().find(|g| g.id == *member).map(|g| (render(g, &view), &GROUP, "#microsoft.graph.group"))
        };
        let Some((full, spec, odata_type)) = rendered else {
            continue;
        };
        if q.filter.as_ref().is_some_and(|f| !f.eval(&full)) {
            continue;
        }
        let mut item = odata::project(&full, q.select.as_deref(), spec);
        item.insert("@odata.type".into(), Value::from(odata_type));
        items.push((pos as u64 + 1, item));
    }
    let after = odata::skip_after(&q)?;
    let total = q.count.then_some(items.len());
    let page = odata::paginate(items.into_iter().filter(|(seq, _)| *seq > after), &q, total);
    let context = odata::context(call.base, "directoryObjects", q.select.as_deref());
    let body = odata::collection_body(context, page, &q, |after| {
        let token = odata::encode_token("skip", &[after]);
        odata::link(call.base, call.path, call.query, "$skiptoken", &token)
    });
    Ok(GraphResponse::json(200, body))
}

/// `POST /groups/{id}/members/$ref` → 204.
pub(crate) fn add_member(t: &mut Tenant, call: &Call, id: &str) -> GraphResult {
    let i = t.group_index(id).ok_or_else(|| GraphError::not_found(id))?;
    let body = call.object()?;
    let url = body.get("@odata.id").and_then(Value::as_str).ok_or_else(|| GraphError::required("@odata.id"))?;
    let member = ref_id(url).ok_or_else(|| GraphError::odata(format!("Invalid object identifier '{url}'.")))?;
    let member = canonical_id(t, &member).ok_or_else(|| GraphError::not_found(&member))?;
    if t.groups[i].id == member {
        return Err(GraphError::bad_request("A group cannot be a member of itself."));
    }
    if t.groups[i].members.contains(&member) {
        return Err(GraphError::bad_request(ALREADY_MEMBER));
    }
    let version = t.next_seq();
    let group = &mut t.groups[i];
    group.members.push(member);
    group.version = version;
    Ok(GraphResponse::no_content())
}

/// `DELETE /groups/{id}/members/{memberId}/$ref` → 204.
pub(crate) fn remove_member(t: &mut Tenant, id: &str, member: &str) -> GraphResult {
    let i = t.group_index(id).ok_or_else(|| GraphError::not_found(id))?;
    let pos = t.groups[i].members.iter().position(|m| m.eq_ignore_ascii_case(member)).ok_or_else(|| GraphError::not_found(member))?;
    let version = t.next_seq();
    let group = &mut t.groups[i];
    group.members.remove(pos);
    group.version = version;
    Ok(GraphResponse::no_content())
}
