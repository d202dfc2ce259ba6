//! `GET /users/delta` and `GET /groups/delta` (also spelled `delta()`).
//!
//! A round reports every object changed after the previous round's snapshot, plus
//! `@removed` entries for deletions, in pages ending with `@odata.deltaLink`
//! (graph-notes.md §6). Tokens carry `(since, until, position)`: `until` freezes the round at
//! its first page, so a change made while paging is reported in the next round, not lost.

use serde_json::{Map, Value, json};

use super::errors::{GraphError, GraphResponse, GraphResult};
use super::licenses::LicenseView;
use super::odata::{self, Allowed, DEFAULT_PAGE, MAX_PAGE};
use super::request::Call;
use super::schema::{GROUP, TypeSpec, USER};
use super::state::{ObjectKind, Tenant};
use super::{groups, users};

/// Paging keys of deleted objects start here, after every creation sequence.
const TOMBSTONE_KEYS: u64 = 1 << 62;

pub(crate) fn users(t: &Tenant, call: &Call) -> GraphResult {
    run(t, call, ObjectKind::User)
}

pub(crate) fn groups(t: &Tenant, call: &Call) -> GraphResult {
    run(t, call, ObjectKind::Group)
}

/// Page size from `Prefer: odata.maxpagesize=N`, as delta does not take `$top`.
fn page_size(call: &Call) -> usize {
    call.header("prefer")
        .into_iter()
        .flat_map(|p| p.split(','))
        .find_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map_or(DEFAULT_PAGE, |n| n.clamp(1, MAX_PAGE))
}

fn run(t: &Tenant, call: &Call, kind: ObjectKind) -> GraphResult {
    let (spec, set): (&'static TypeSpec, &str) = match kind {
        ObjectKind::User => (&USER, "users"),
        ObjectKind::Group => (&GROUP, "groups"),
    };
    let q = call.options(&[spec], Allowed::default())?;
    let (since, until, after) = match (&q.skiptoken, &q.deltatoken) {
        (Some(tok), _) => {
            let n = odata::decode_token("delta", tok, 3)?;
            (n[0], n[1], n[2])
        }
        (None, Some(tok)) => (odata::decode_token("round", tok, 1)?[0], t.current_seq(), 0),
        (None, None) => (0, t.current_seq(), 0),
    };
    if since > until {
        return Err(GraphError::bad_request("The specified delta token value has expired or is invalid."));
    }
    let changed = |v: u64| v > since && v <= until;
    let view = LicenseView::compute(t);
    // Keyed by creation sequence (deletions after all live objects), so an object dropping
    // out of the round while paging does not shift the others.
    let mut items: Vec<(u64, Map<String, Value>)> = match kind {
        ObjectKind::User => t.users.iter().filter(|u| changed(u.version)).map(|u| (u.seq, users::render(u, &view))).collect(),
        ObjectKind::Group => t.groups.iter().filter(|g| changed(g.version)).map(|g| (g.seq, groups::render(g, &view))).collect(),
    };
    for (_, m) in &mut items {
        *m = odata::project(m, q.select.as_deref(), spec);
    }
    if since > 0 {
        for (i, tomb) in t.removed.iter().enumerate() {
            if tomb.kind == kind && changed(tomb.version) {
                let removed = json!({ "id": tomb.id, "@removed": { "reason": "deleted" } });
                items.push((TOMBSTONE_KEYS + i as u64, removed.as_object().cloned().unwrap_or_default()));
            }
        }
    }
    let mut rest = items.into_iter().filter(|(key, _)| *key > after);
    let mut page = Vec::new();
    let mut last = after;
    for (key, item) in rest.by_ref().take(page_size(call)) {
        last = key;
        page.push(Value::Object(item));
    }
    let mut body = Map::new();
    body.insert("@odata.context".into(), odata::context(call.base, set, q.select.as_deref()).into());
    if rest.next().is_some() {
        let token = odata::encode_token("delta", &[since, until, last]);
        body.insert("@odata.nextLink".into(), odata::link(call.base, call.path, call.query, "$skiptoken", &token).into());
    } else {
        let token = odata::encode_token("round", &[until]);
        body.insert("@odata.deltaLink".into(), odata::link(call.base, call.path, call.query, "$deltatoken", &token).into());
    }
    body.insert("value".into(), Value::Array(page));
    Ok(GraphResponse::json(200, Value::Object(body)))
}
