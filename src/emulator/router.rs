//! The operations the emulated Graph implements, as one table, and the dispatcher.
//!
//! Routing is done here rather than by actix-web so that `$batch` items reuse it, and so the
//! contract test can check every `(method, path)` against the operations listed in
//! `graph-v1-subset.json`: the table below *is* the routing, not a copy of it.

use super::auth;
use super::errors::{GraphError, GraphResult};
use super::request::{Call, Principal};
use super::state::EmulatorState;
use super::{delta, domains, federation, groups, licenses, users};

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    CreateUser,
    ListUsers,
    UsersDelta,
    GetUser,
    UpdateUser,
    DeleteUser,
    AssignUserLicense,
    ListSkus,
    GetSku,
    CreateGroup,
    ListGroups,
    GroupsDelta,
    GetGroup,
    UpdateGroup,
    DeleteGroup,
    ListMembers,
    AddMember,
    RemoveMember,
    AssignGroupLicense,
    ListDomains,
    GetDomain,
    UpdateDomain,
    ListFederation,
    CreateFederation,
    GetFederation,
    UpdateFederation,
    DeleteFederation,
    Batch,
}

/// One routed Graph operation.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path template below `/v1.0`, in the `{<type>-id}` convention of Microsoft's OpenAPI.
    pub path: &'static str,
    /// Application permissions any one of which allows the call (empty: checked per item).
    pub permissions: &'static [&'static str],
    pub(crate) op: Op,
}

const USER_READ: &[&str] = &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const USER_WRITE: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
const USER_LICENSE: &[&str] = &["LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"];
const SKU_READ: &[&str] = &[
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "LicenseAssignment.Read.All",
    "LicenseAssignment.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const GROUP_READ: &[&str] = &["Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const GROUP_CREATE: &[&str] = &["Group.Create", "Group.ReadWrite.All", "Directory.ReadWrite.All"];
const GROUP_WRITE: &[&str] = &["Group.ReadWrite.All", "Directory.ReadWrite.All"];
const MEMBER_READ: &[&str] = &[
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const MEMBER_WRITE: &[&str] = &["GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"];
const GROUP_LICENSE: &[&str] = &["LicenseAssignment.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"];
const DOMAIN_READ: &[&str] = &["Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const DOMAIN_WRITE: &[&str] = &["Domain.ReadWrite.All"];
const FED_READ: &[&str] = &[
    "Domain-InternalFederation.ReadWrite.All",
    "Domain.Read.All",
    "Domain.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const FED_WRITE: &[&str] = &["Domain-InternalFederation.ReadWrite.All", "Domain.ReadWrite.All"];

const fn r(method: &'static str, path: &'static str, permissions: &'static [&'static str], op: Op) -> Route {
    Route { method, path, permissions, op }
}

const ROUTES: &[Route] = &[
    r("POST", "/users", USER_WRITE, Op::CreateUser),
    r("GET", "/users", USER_READ, Op::ListUsers),
    r("GET", "/users/delta", USER_READ, Op::UsersDelta),
    r("GET", "/users/{user-id}", USER_READ, Op::GetUser),
    r("PATCH", "/users/{user-id}", USER_WRITE, Op::UpdateUser),
    r("DELETE", "/users/{user-id}", USER_WRITE, Op::DeleteUser),
    r("POST", "/users/{user-id}/assignLicense", USER_LICENSE, Op::AssignUserLicense),
    r("GET", "/subscribedSkus", SKU_READ, Op::ListSkus),
    r("GET", "/subscribedSkus/{subscribedSku-id}", SKU_READ, Op::GetSku),
    r("POST", "/groups", GROUP_CREATE, Op::CreateGroup),
    r("GET", "/groups", GROUP_READ, Op::ListGroups),
    r("GET", "/groups/delta", GROUP_READ, Op::GroupsDelta),
    r("GET", "/groups/{group-id}", GROUP_READ, Op::GetGroup),
    r("PATCH", "/groups/{group-id}", GROUP_WRITE, Op::UpdateGroup),
    r("DELETE", "/groups/{group-id}", GROUP_WRITE, Op::DeleteGroup),
    r("GET", "/groups/{group-id}/members", MEMBER_READ, Op::ListMembers),
    r("POST", "/groups/{group-id}/members/$ref", MEMBER_WRITE, Op::AddMember),
    r("DELETE", "/groups/{group-id}/members/{directoryObject-id}/$ref", MEMBER_WRITE, Op::RemoveMember),
    r("POST", "/groups/{group-id}/assignLicense", GROUP_LICENSE, Op::AssignGroupLicense),
    r("GET", "/domains", DOMAIN_READ, Op::ListDomains),
    r("GET", "/domains/{domain-id}", DOMAIN_READ, Op::GetDomain),
    r("PATCH", "/domains/{domain-id}", DOMAIN_WRITE, Op::UpdateDomain),
    r("GET", "/domains/{domain-id}/federationConfiguration", FED_READ, Op::ListFederation),
    r("POST", "/domains/{domain-id}/federationConfiguration", FED_WRITE, Op::CreateFederation),
    r("GET", "/domains/{domain-id}/federationConfiguration/{internalDomainFederation-id}", FED_READ, Op::GetFederation),
    r("PATCH", "/domains/{domain-id}/federationConfiguration/{internalDomainFederation-id}", FED_WRITE, Op::UpdateFederation),
    r("DELETE", "/domains/{domain-id}/federationConfiguration/{internalDomainFederation-id}", FED_WRITE, Op::DeleteFederation),
    r("POST", "/$batch", &[], Op::Batch),
];

/// Every Graph operation the emulator routes.
pub fn routes() -> &'static [Route] {
    ROUTES
}

/// Decodes `%XX` escapes (UTF-8); invalid escapes are kept literally.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn segment_matches(template: &str, segment: &str) -> bool {
    if template.starts_with('{') {
        return !segment.is_empty();
    }
    // msgraph-sdk calls functions with parentheses: `/users/delta()` (graph-notes.md §6).
    let segment = if template == "delta" { segment.strip_suffix("()").unwrap_or(segment) } else { segment };
    template.eq_ignore_ascii_case(segment)
}

/// Finds the route for a method and raw path, with the decoded path parameters.
pub(crate) fn resolve(method: &str, path: &str) -> Result<(&'static Route, Vec<String>), GraphError> {
    let segments: Vec<String> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let templates = |route: &Route| -> Vec<&'static str> { route.path.trim_matches('/').split('/').collect() };
    let path_matches: Vec<&'static Route> = ROUTES
        .iter()
        .filter(|route| {
            let t = templates(route);
            t.len() == segments.len() && t.iter().zip(&segments).all(|(t, s)| segment_matches(t, s))
        })
        .collect();
    if path_matches.is_empty() {
        return Err(unknown_segment(&segments));
    }
    // Prefer literal segments over placeholders (`/users/delta` over `/users/{user-id}`).
    let route = path_matches
        .iter()
        .filter(|route| route.method.eq_ignore_ascii_case(method))
        .max_by_key(|route| templates(route).iter().filter(|t| !t.starts_with('{')).count())
        .ok_or_else(GraphError::method_not_allowed)?;
    let params = templates(route).iter().zip(&segments).filter(|(t, _)| t.starts_with('{')).map(|(_, s)| s.clone()).collect();
    Ok((route, params))
}

/// Graph's answer to a URL it does not know: the first segment no route continues with.
fn unknown_segment(segments: &[String]) -> GraphError {
    let known_prefix = |n: usize| {
        ROUTES.iter().any(|route| {
            let t: Vec<&str> = route.path.trim_matches('/').split('/').collect();
            t.len() >= n && t.iter().zip(&segments[..n]).all(|(t, s)| segment_matches(t, s))
        })
    };
    let bad = (1..=segments.len())
        .find(|n| !known_prefix(*n))
        .map_or_else(|| segments.last().cloned().unwrap_or_default(), |n| segments[n - 1].clone());
    GraphError::odata(format!("Resource not found for the segment '{bad}'."))
}

/// Runs one Graph call for an authenticated app.
pub(crate) fn dispatch(state: &mut EmulatorState, principal: &Principal, call: &Call) -> GraphResult {
    let (route, p) = resolve(call.method, call.path)?;
    if !auth::permitted(&principal.roles, route.permissions) {
        return Err(GraphError::forbidden());
    }
    let t = state
        .tenant_mut(&principal.tenant_id)
        .ok_or_else(|| GraphError::unauthenticated("Access token validation failure. Invalid issuer."))?;
    let arg = |i: usize| p.get(i).map_or("", String::as_str);
    match route.op {
        Op::CreateUser => users::create(t, call),
        Op::ListUsers => users::list(t, call),
        Op::UsersDelta => delta::users(t, call),
        Op::GetUser => users::get(t, call, arg(0)),
        Op::UpdateUser => users::update(t, call, arg(0)),
        Op::DeleteUser => users::delete(t, arg(0)),
        Op::AssignUserLicense => licenses::assign_to_user(t, call, arg(0)),
        Op::ListSkus => licenses::list_skus(t, call),
        Op::GetSku => licenses::get_sku(t, call, arg(0)),
        Op::CreateGroup => groups::create(t, call),
        Op::ListGroups => groups::list(t, call),
        Op::GroupsDelta => delta::groups(t, call),
        Op::GetGroup => groups::get(t, call, arg(0)),
        Op::UpdateGroup => groups::update(t, call, arg(0)),
        Op::DeleteGroup => groups::delete(t, arg(0)),
        Op::ListMembers => groups::list_members(t, call, arg(0)),
        Op::AddMember => groups::add_member(t, call, arg(0)),
        Op::RemoveMember => groups::remove_member(t, arg(0), arg(1)),
        Op::AssignGroupLicense => licenses::assign_to_group(t, call, arg(0)),
        Op::ListDomains => domains::list(t, call),
        Op::GetDomain => domains::get(t, call, arg(0)),
        Op::UpdateDomain => domains::update(t, call, arg(0)),
        Op::ListFederation => federation::list(t, call, arg(0)),
        Op::CreateFederation => federation::create(t, call, arg(0)),
        Op::GetFederation => federation::get(t, call, arg(0), arg(1)),
        Op::UpdateFederation => federation::update(t, call, arg(0), arg(1)),
        Op::DeleteFederation => federation::delete(t, arg(0), arg(1)),
        Op::Batch => Err(GraphError::odata("A $batch request cannot contain another $batch request.")),
    }
}

/// Whether a raw path below `/v1.0` is the batch endpoint.
pub(crate) fn is_batch(method: &str, path: &str) -> bool {
    matches!(resolve(method, path), Ok((route, _)) if route.op == Op::Batch)
}
