//! Checks requests against Microsoft's contract in `reference/graph/`, read from the files
//! themselves (no hand-kept list): the path template and method against the `operations` table
//! of `graph-v1-subset.json`, query options and JSON bodies against its types (property names
//! case-sensitive, Edm types, nullability, enum members, the documented required properties on
//! create, action parameters, `$batch` items), and token requests against the parameter table
//! of `graph-notes.md` §1.
//!
//! Every emulator started by `helpers::graph::Emulator` runs its whole request log through
//! `check` when the test ends, so each suite using it is a conformance test too.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/graph");

/// OData system query options (OData 4.01 §5.1, not Graph metadata).
const SYSTEM_OPTIONS: &[&str] = &["$select", "$filter", "$top", "$count", "$search", "$orderby", "$expand", "$skiptoken", "$deltatoken"];
/// Words of the `$filter` grammar that are not property names.
const FILTER_WORDS: &[&str] = &["eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "in", "has", "true", "false", "null"];

pub struct Reference {
    meta: Value,
    /// Token endpoint parameters: (name, required in every request).
    token_params: Vec<(String, bool)>,
}

/// The reference, parsed once per test binary.
pub fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let read = |name: &str| std::fs::read_to_string(format!("{DIR}/{name}")).unwrap_or_else(|e| panic!("{DIR}/{name}: {e}"));
        let meta: Value = serde_json::from_str(&read("graph-v1-subset.json")).expect("graph-v1-subset.json");
        let token_params = token_parameters(&read("graph-notes.md"));
        assert!(token_params.len() >= 5, "graph-notes.md §1 lists the token parameters: {token_params:?}");
        assert!(meta["operations"].as_array().is_some_and(|o| !o.is_empty()), "graph-v1-subset.json has operations");
        Reference { meta, token_params }
    })
}

/// The parameter table of graph-notes.md §1 (`| \`name\` | rule |` rows, the path one left out).
fn token_parameters(notes: &str) -> Vec<(String, bool)> {
    let section = notes.split("\n## ").find(|s| s.starts_with("1.")).unwrap_or_default();
    section
        .lines()
        .filter_map(|line| {
            let mut cells = line.trim().strip_prefix('|')?.split('|').map(str::trim);
            let name = cells.next()?.strip_prefix('`')?.split('`').next()?.to_owned();
            let rule = cells.next()?;
            (!name.starts_with('{')).then(|| (name, rule.starts_with("required")))
        })
        .collect()
}

/// The query string's pairs, decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    if query.is_empty() {
        return Vec::new();
    }
    reqwest::Url::parse(&format!("http://x/?{query}")).map(|u| u.query_pairs().into_owned().collect()).unwrap_or_default()
}

fn url_normalized(segment: &str) -> String {
    reqwest::Url::parse(&format!("http://x/{segment}"))
        .ok()
        .and_then(|u| u.path_segments().and_then(|mut s| s.next()).map(str::to_owned))
        .unwrap_or_else(|| segment.to_owned())
}

fn element_type(type_name: &str) -> (&str, bool) {
    match type_name.strip_prefix("Collection(").and_then(|t| t.strip_suffix(')')) {
        Some(inner) => (inner, true),
        None => (type_name, false),
    }
}

impl Reference {
    /// Checks one request-log entry of the emulator; the violations, if any.
    pub fn check(&self, entry: &Value) -> Vec<String> {
        let method = entry["method"].as_str().unwrap_or_default();
        let path = entry["path"].as_str().unwrap_or_default();
        let query = entry["query"].as_str().unwrap_or_default();
        let mut errors = Vec::new();
        if let Some(graph_path) = path.strip_prefix("/v1.0") {
            self.check_graph(method, graph_path, query, &entry["body"], &mut errors);
        } else if path.ends_with("/oauth2/v2.0/token") && path.matches('/').count() == 4 {
            self.check_token(method, &entry["body"], &mut errors);
        } else {
            errors.push("not a Graph v1.0 or token endpoint path".to_owned());
        }
        errors.into_iter().map(|e| format!("{method} {path}?{query}: {e}")).collect()
    }

    /// The operation whose template matches `path` (`{…-id}` segments match any one segment).
    fn operation(&self, method: &str, path: &str) -> Result<&Value, String> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let matches = |template: &str| {
            let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    if part.starts_with('{') && part.ends_with("-id}") { !segment.is_empty() } else { part == segment }
                })
        };
        let operations = self.meta["operations"].as_array().map(Vec::as_slice).unwrap_or_default();
        let by_path: Vec<&Value> = operations.iter().filter(|o| o["path"].as_str().is_some_and(matches)).collect();
        if by_path.is_empty() {
            return Err("no operation in graph-v1-subset.json has this path".to_owned());
        }
        // A literal segment beats a key (`/users/delta` over `/users/{user-id}`).
        let literal_count = |o: &&Value| o["path"].as_str().unwrap_or_default().matches("-id}").count();
        by_path
            .into_iter()
            .filter(|o| o["method"] == method)
            .min_by_key(literal_count)
            .ok_or_else(|| format!("{method} is not a documented method for this path"))
    }

    fn check_graph(&self, method: &str, path: &str, query: &str, body: &Value, errors: &mut Vec<String>) {
        let operation = match self.operation(method, path) {
            Ok(operation) => operation,
            Err(e) => return errors.push(e),
        };
        // Keys are percent-encoded by the client; a raw space or quote would break the URL.
        for segment in path.split('/') {
            if url_normalized(segment) != segment && !segment.contains('%') {
                errors.push(format!("path segment {segment:?} is not percent-encoded"));
            }
        }
        let response_type = operation["response"]["type"].as_str().map(|t| element_type(t).0.to_owned());
        for (name, value) in query_pairs(query) {
            if !SYSTEM_OPTIONS.contains(&name.as_str()) {
                errors.push(format!("unknown query option {name}"));
                continue;
            }
            let Some(response_type) = &response_type else {
                errors.push(format!("{name} on an operation without a response"));
                continue;
            };
            match name.as_str() {
                "$select" => {
                    for property in value.split(',').map(str::trim) {
                        if self.property(response_type, property).is_none() {
                            errors.push(format!("$select: {response_type} has no property {property}"));
                        }
                    }
                }
                "$filter" => {
                    for property in filter_properties(&value) {
                        if self.property(response_type, &property).is_none() {
                            errors.push(format!("$filter: {response_type} has no property {property}"));
                        }
                    }
                }
                "$top" if value.parse::<u32>().is_err() => errors.push(format!("$top={value} is not an integer")),
                "$count" if value != "true" && value != "false" => errors.push(format!("$count={value} is not a boolean")),
                _ => {}
            }
        }
        let expected = &operation["requestBody"];
        if expected.is_null() {
            if !body.is_null() {
                errors.push("a body on an operation that takes none".to_owned());
            }
            return;
        }
        if body.is_null() {
            return errors.push("no body on an operation that takes one".to_owned());
        }
        if let Some(type_name) = expected["type"].as_str() {
            self.check_object(type_name, body, "", errors);
            let required_rule = match (method, operation["path"].as_str()) {
                ("POST", Some("/users")) => Some("createUserRequired"),
                ("POST", Some("/groups")) => Some("createGroupRequired"),
                _ => None,
            };
            if let Some(rule) = required_rule {
                for required in self.meta["documentedRules"][rule]["properties"].as_array().into_iter().flatten().filter_map(Value::as_str)
                {
                    if body.get(required).is_none_or(Value::is_null) {
                        errors.push(format!("required property {required} is missing ({rule})"));
                    }
                }
            }
        } else if let Some(action) = expected["action"].as_str() {
            self.check_action(action, body, errors);
        } else if let Some(properties) = expected["reference"]["properties"].as_array() {
            self.check_reference(properties, body, errors);
        } else if expected["batch"] == true {
            self.check_batch(body, errors);
        } else {
            errors.push(format!("the reference describes this body in a way the checker does not know: {expected}"));
        }
    }

    fn check_action(&self, action: &str, body: &Value, errors: &mut Vec<String>) {
        let parameters = self.meta["actions"][action]["parameters"].as_array().cloned().unwrap_or_default();
        let Some(object) = body.as_object() else { return errors.push(format!("{action}: the body is not an object")) };
        for (key, value) in object {
            match parameters.iter().find(|p| p["name"] == key.as_str()) {
                Some(p) => self.check_value(p["type"].as_str().unwrap_or_default(), p["nullable"] != false, value, key, errors),
                None => errors.push(format!("{action} has no parameter {key}")),
            }
        }
        for p in parameters.iter().filter(|p| p["nullable"] == false) {
            let name = p["name"].as_str().unwrap_or_default();
            if !object.contains_key(name) {
                errors.push(format!("{action}: parameter {name} (Nullable=false) is missing"));
            }
        }
    }

    fn check_reference(&self, properties: &[Value], body: &Value, errors: &mut Vec<String>) {
        let Some(object) = body.as_object() else { return errors.push("the reference body is not an object".to_owned()) };
        for (key, value) in object {
            match properties.iter().find(|p| p["name"] == key.as_str()) {
                Some(p) => self.check_value(p["type"].as_str().unwrap_or_default(), p["nullable"] != false, value, key, errors),
                None => errors.push(format!("a reference has no property {key}")),
            }
        }
        for p in properties {
            let name = p["name"].as_str().unwrap_or_default();
            if !object.contains_key(name) {
                errors.push(format!("reference property {name} is missing"));
            }
            if name == "@odata.id" && object.get(name).and_then(Value::as_str).is_some_and(|url| !url.contains("/v1.0/directoryObjects/")) {
                errors.push("@odata.id must name a directoryObject".to_owned());
            }
        }
    }

    fn check_batch(&self, body: &Value, errors: &mut Vec<String>) {
        let rules = &self.meta["documentedRules"]["batch"];
        let Some(requests) = body["requests"].as_array() else { return errors.push("$batch without a requests array".to_owned()) };
        if body.as_object().is_some_and(|o| o.len() != 1) {
            errors.push("$batch body has properties besides requests".to_owned());
        }
        let max = rules["maxRequests"].as_u64().unwrap_or(20) as usize;
        if requests.is_empty() || requests.len() > max {
            errors.push(format!("$batch holds {} requests (1 to {max} allowed)", requests.len()));
        }
        let names = |key: &str| -> Vec<&str> {
            rules["requestProperties"][key].as_array().into_iter().flatten().filter_map(Value::as_str).collect()
        };
        let (required, optional) = (names("required"), names("optional"));
        let mut ids = BTreeSet::new();
        for item in requests {
            let Some(object) = item.as_object() else {
                errors.push("$batch item is not an object".to_owned());
                continue;
            };
            for key in object.keys() {
                if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
                    errors.push(format!("$batch item property {key} is not documented"));
                }
            }
            for key in &required {
                if !object.contains_key(*key) {
                    errors.push(format!("$batch item lacks {key}"));
                }
            }
            let id = item["id"].as_str().unwrap_or_default();
            if !ids.insert(id.to_owned()) {
                errors.push(format!("$batch item id {id} repeated"));
            }
            let url = item["url"].as_str().unwrap_or_default();
            if url.starts_with("http") || url.starts_with("/v1.0") {
                errors.push(format!("$batch item url {url} must be relative to the version root"));
            }
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
            let method = item["method"].as_str().unwrap_or_default();
            self.check_graph(method, &path, query, &item["body"], errors);
        }
    }

    fn check_token(&self, method: &str, body: &Value, errors: &mut Vec<String>) {
        if method != "POST" {
            errors.push("the token endpoint takes POST".to_owned());
        }
        let Some(form) = body.as_object() else { return errors.push("the token request has no form body".to_owned()) };
        for key in form.keys() {
            if !self.token_params.iter().any(|(name, _)| name == key) {
                errors.push(format!("token parameter {key} is not in graph-notes.md §1"));
            }
        }
        for (name, required) in &self.token_params {
            if *required && !form.contains_key(name) {
                errors.push(format!("required token parameter {name} is missing"));
            }
        }
        if form.get("grant_type").and_then(Value::as_str) != Some("client_credentials") {
            errors.push("grant_type must be client_credentials".to_owned());
        }
        if !form.get("scope").and_then(Value::as_str).is_some_and(|s| s.ends_with("/.default") && !s.contains(' ')) {
            errors.push("scope must be one resource's /.default".to_owned());
        }
        let secret = form.contains_key("client_secret");
        let assertion = form.contains_key("client_assertion") && form.contains_key("client_assertion_type");
        if secret == assertion {
            errors.push("exactly one credential: client_secret, or client_assertion with client_assertion_type".to_owned());
        }
    }

    /// A structural property of a type (its base types' included), by exact name.
    fn property(&self, type_name: &str, name: &str) -> Option<&Value> {
        let t = &self.meta["types"][type_name];
        t["allProperties"].as_array().or(t["properties"].as_array())?.iter().find(|p| p["name"] == name)
    }

    fn check_object(&self, type_name: &str, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(object) = value.as_object() else { return errors.push(format!("{at}: not a JSON object for {type_name}")) };
        let open = self.meta["types"][type_name]["openType"] == true;
        for (key, value) in object {
            let here = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
            if key.starts_with("@odata.") {
                continue;
            }
            match self.property(type_name, key) {
                Some(p) => self.check_value(p["type"].as_str().unwrap_or_default(), p["nullable"] != false, value, &here, errors),
                None if open && key.starts_with("extension_") => {}
                None => errors.push(format!("{here}: {type_name} has no property {key}")),
            }
        }
    }

    fn check_value(&self, type_name: &str, nullable: bool, value: &Value, at: &str, errors: &mut Vec<String>) {
        let (element, collection) = element_type(type_name);
        if value.is_null() {
            if !nullable {
                errors.push(format!("{at}: null where {type_name} is Nullable=false"));
            }
            return;
        }
        if collection {
            let Some(items) = value.as_array() else { return errors.push(format!("{at}: not an array for {type_name}")) };
            for (i, item) in items.iter().enumerate() {
                // Nullable=false on a collection forbids null items (README of the reference).
                self.check_value(element, nullable, item, &format!("{at}[{i}]"), errors);
            }
            return;
        }
        let ok = match element {
            "Edm.String" => value.is_string(),
            "Edm.Boolean" => value.is_boolean(),
            "Edm.Guid" => value.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok() && s.len() == 36),
            "Edm.Int32" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            "Edm.Int64" => value.is_i64(),
            "Edm.Double" | "Edm.Single" => value.is_number(),
            "Edm.DateTimeOffset" => value.as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            "Edm.Date" => value.as_str().is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
            "Edm.Binary" => value.as_str().is_some_and(|s| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(s).is_ok()
            }),
            other => {
                let t = &self.meta["types"][other];
                match t["kind"].as_str() {
                    Some("EnumType") => {
                        let members: Vec<&str> = t["members"].as_array().into_iter().flatten().filter_map(|m| m["name"].as_str()).collect();
                        let given = value.as_str().unwrap_or_default();
                        let ok = if t["isFlags"] == true {
                            given.split(',').all(|m| members.contains(&m.trim()))
                        } else {
                            members.contains(&given)
                        };
                        if !ok {
                            errors.push(format!("{at}: {value} is not a member of {other}"));
                        }
                        return;
                    }
                    Some(_) => return self.check_object(other, value, at, errors),
                    None => {
                        errors.push(format!("{at}: type {other} is not in the reference"));
                        return;
                    }
                }
            }
        };
        if !ok {
            errors.push(format!("{at}: {value} is not a valid {element}"));
        }
    }
}

/// The property names a `$filter` expression compares (the first segment of each member path;
/// lambda variables and their paths left out).
fn filter_properties(filter: &str) -> Vec<String> {
    // String literals out first: they may hold anything.
    let mut text = String::new();
    let mut in_string = false;
    for c in filter.chars() {
        if c == '\'' {
            in_string = !in_string;
            text.push(' ');
        } else if !in_string {
            text.push(c);
        }
    }
    let mut lambda_vars = BTreeSet::new();
    let mut found = Vec::new();
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            // A number or an unquoted GUID: a literal.
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], '-' | '.' | ':')) {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], '_' | '/' | '.' | '-')) {
                i += 1;
            }
            let word: String = bytes[start..i].iter().collect();
            let next = bytes[i..].iter().find(|c| !c.is_whitespace());
            let head = word.split('/').next().unwrap_or_default().to_owned();
            if next == Some(&':') {
                lambda_vars.insert(word);
            } else if next == Some(&'(') && !word.contains('/') {
                // A function such as startswith(…).
            } else if uuid::Uuid::parse_str(&word).is_ok() || FILTER_WORDS.contains(&word.as_str()) || lambda_vars.contains(&head) {
            } else {
                found.push(head);
            }
        } else {
            i += 1;
        }
    }
    found
}
