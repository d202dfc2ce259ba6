//! OData query options, projection and paging, shared by every collection.
//!
//! Paging follows graph-notes.md §6: a page ends with an absolute `@odata.nextLink` that
//! repeats the original query options plus an opaque `$skiptoken`. The token encodes the
//! creation sequence of the last item served, so pages stay stable while objects are added
//! or deleted between calls.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::errors::GraphError;
use super::filter::{self, Expr};
use super::schema::TypeSpec;

/// Default and maximum page sizes for directory collections.
pub(crate) const DEFAULT_PAGE: usize = 100;
pub(crate) const MAX_PAGE: usize = 999;

/// Which query options a collection supports.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Allowed {
    pub filter: bool,
    pub top: bool,
    pub count: bool,
}

/// Parsed query options of one request.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pub select: Option<Vec<&'static str>>,
    pub filter: Option<Expr>,
    pub top: Option<usize>,
    pub skiptoken: Option<String>,
    pub deltatoken: Option<String>,
    pub count: bool,
}

/// Splits a raw query string into decoded pairs.
pub(crate) fn pairs(raw: &str) -> Result<Vec<(String, String)>, GraphError> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(raw)
        .map(actix_web::web::Query::into_inner)
        .map_err(|_| GraphError::odata("The query specified in the URI is not valid."))
}

/// Parses and checks query options against the type(s) the collection returns.
///
/// `specs` is more than one type for `directoryObject` collections (group members).
pub(crate) fn parse(raw: &str, specs: &[&'static TypeSpec], allowed: Allowed, eventual: bool) -> Result<Query, GraphError> {
    let mut q = Query::default();
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in pairs(raw)? {
        let lower = key.to_ascii_lowercase();
        if !lower.starts_with('$') {
            continue;
        }
        if seen.contains(&lower) {
            return Err(GraphError::odata(format!(
                "Query option '{key}' was specified more than once, but it must be specified at most once."
            )));
        }
        seen.push(lower.clone());
        match lower.as_str() {
            "$select" => q.select = Some(parse_select(&value, specs)?),
            "$filter" if allowed.filter => q.filter = Some(parse_filter(&value, specs, eventual)?),
            "$top" if allowed.top => q.top = Some(parse_top(&value)?),
            "$skiptoken" => q.skiptoken = Some(value),
            "$deltatoken" => q.deltatoken = Some(value),
            "$count" if allowed.count => {
                q.count = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(GraphError::odata(format!("Invalid value '{value}' for $count.")));
                    }
                };
                if q.count && !eventual {
                    return Err(GraphError::bad_request(
                        "$search and $count queries require the client to set the ConsistencyLevel HTTP header to 'eventual'.",
                    ));
                }
            }
            "$skip" => {
                return Err(GraphError::bad_request("'$skip' is not supported by the service."));
            }
            _ => {
                return Err(GraphError::odata(format!("Query option '{key}' is not supported by this emulator for this request.")));
            }
        }
    }
    Ok(q)
}

fn parse_select(value: &str, specs: &[&'static TypeSpec]) -> Result<Vec<&'static str>, GraphError> {
    let mut out = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let prop = specs.iter().find_map(|s| s.prop(name)).ok_or_else(|| {
            GraphError::odata(format!(
                "Parsing OData Select and Expand failed: Could not find a property named '{name}' on type '{}'.",
                specs.first().map_or("microsoft.graph.entity", |s| s.name)
            ))
        })?;
        if !out.contains(&prop.name) {
            out.push(prop.name);
        }
    }
    Ok(out)
}

fn parse_filter(value: &str, specs: &[&'static TypeSpec], eventual: bool) -> Result<Expr, GraphError> {
    let expr = filter::parse(value).map_err(|e| GraphError::odata(format!("Invalid filter clause: {e}")))?;
    let resource = specs.first().map_or("DirectoryObject", |s| s.resource);
    for name in expr.properties() {
        let ok = specs.iter().any(|s| s.prop(name).is_some_and(|p| p.filterable && p.name == name));
        if !ok {
            return Err(GraphError::unsupported_query(format!(
                "Unsupported or invalid query filter clause specified for property '{name}' of resource '{resource}'."
            )));
        }
    }
    if let (Some(op), false) = (expr.advanced_operator(), eventual) {
        return Err(GraphError::unsupported_query(format!(
            "Operator '{op}' is not supported because the 'ConsistencyLevel:eventual' header is missing. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
        )));
    }
    Ok(expr)
}

fn parse_top(value: &str) -> Result<usize, GraphError> {
    value.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
        GraphError::bad_request(format!("Invalid page size specified: '{value}'. Must be between 1 and {MAX_PAGE} inclusive."))
    })
}

/// Keeps the selected properties (always `id`), or the type's default set without `$select`.
pub(crate) fn project(full: &Map<String, Value>, select: Option<&[&'static str]>, spec: &TypeSpec) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in full.iter().filter(|(k, _)| k.starts_with("@odata.")) {
        out.insert(k.clone(), v.clone());
    }
    match select {
        Some(names) => {
            if let Some(id) = full.get("id") {
                out.insert("id".into(), id.clone());
            }
            for name in names {
                out.insert((*name).into(), full.get(*name).cloned().unwrap_or(Value::Null));
            }
        }
        None => {
            for p in spec.props.iter().filter(|p| p.default) {
                out.insert(p.name.into(), full.get(p.name).cloned().unwrap_or(Value::Null));
            }
        }
    }
    out
}

/// `@odata.context` for a collection or entity, e.g. `…/$metadata#users(id,displayName)`.
pub(crate) fn context(base: &str, fragment: &str, select: Option<&[&'static str]>) -> String {
    match select {
        Some(names) if !names.is_empty() => {
            format!("{base}/v1.0/$metadata#{fragment}({})", names.join(","))
        }
        _ => format!("{base}/v1.0/$metadata#{fragment}"),
    }
}

const TOKEN_PREFIX: &str = "emu1:";

pub(crate) fn encode_token(kind: &str, numbers: &[u64]) -> String {
    let numbers: Vec<String> = numbers.iter().map(u64::to_string).collect();
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{kind}:{}", numbers.join(":")))
}

/// Decodes a token made by [`encode_token`] of the given kind with `n` numbers.
pub(crate) fn decode_token(kind: &str, token: &str, n: usize) -> Result<Vec<u64>, GraphError> {
    let invalid = || GraphError::bad_request("The specified page token value has expired or is invalid.");
    let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let rest = text.strip_prefix(TOKEN_PREFIX).and_then(|r| r.strip_prefix(kind)).and_then(|r| r.strip_prefix(':')).ok_or_else(invalid)?;
    let numbers = rest.split(':').map(|x| x.parse::<u64>().map_err(|_| invalid())).collect::<Result<Vec<_>, _>>()?;
    if numbers.len() == n { Ok(numbers) } else { Err(invalid()) }
}

/// The original query string without paging tokens, to repeat in a next/delta link.
pub(crate) fn query_without_tokens(raw: &str) -> String {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .filter(|part| {
            let key = part.split('=').next().unwrap_or("");
            let key = key.replace("%24", "$").to_ascii_lowercase();
            key != "$skiptoken" && key != "$deltatoken"
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// An absolute link to `path` with the original options plus one token option.
pub(crate) fn link(base: &str, path: &str, raw_query: &str, option: &str, token: &str) -> String {
    let kept = query_without_tokens(raw_query);
    if kept.is_empty() { format!("{base}/v1.0{path}?{option}={token}") } else { format!("{base}/v1.0{path}?{kept}&{option}={token}") }
}

/// One page of a sequence-ordered collection.
pub(crate) struct Page {
    pub items: Vec<Map<String, Value>>,
    /// Sequence of the last item when more items follow.
    pub more_after: Option<u64>,
    /// Number of matching items in the whole collection (for `$count`).
    pub total: Option<usize>,
}

/// The sequence after which this page starts (from `$skiptoken`).
pub(crate) fn skip_after(q: &Query) -> Result<u64, GraphError> {
    match &q.skiptoken {
        Some(t) => Ok(decode_token("skip", t, 1)?[0]),
        None => Ok(0),
    }
}

/// Cuts one page from matching items that follow the skip token, in sequence order.
///
/// The iterator is consumed lazily, so only one page (plus one item) is ever rendered.
pub(crate) fn paginate(items: impl Iterator<Item = (u64, Map<String, Value>)>, q: &Query, total: Option<usize>) -> Page {
    let top = q.top.unwrap_or(DEFAULT_PAGE);
    let mut items = items.peekable();
    let mut page = Vec::new();
    let mut last = 0;
    for (seq, item) in items.by_ref().take(top) {
        last = seq;
        page.push(item);
    }
    let more_after = items.peek().map(|_| last);
    Page { items: page, more_after, total }
}

/// Builds a collection response body with paging and count annotations.
pub(crate) fn collection_body(context: String, page: Page, q: &Query, next_link: impl FnOnce(u64) -> String) -> Value {
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::from(context));
    if let (Some(total), None) = (page.total, &q.skiptoken) {
        body.insert("@odata.count".into(), Value::from(total));
    }
    if let Some(after) = page.more_after {
        body.insert("@odata.nextLink".into(), Value::from(next_link(after)));
    }
    body.insert("value".into(), Value::Array(page.items.into_iter().map(Value::Object).collect()));
    Value::Object(body)
}
