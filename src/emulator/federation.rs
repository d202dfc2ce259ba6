//! `/domains/{id}/federationConfiguration`: the `internalDomainFederation` of a domain.
//!
//! Creating one is what federates a domain to Tessera, so the refusals matter most: the
//! `*.onmicrosoft.com` domain, the default domain and unverified domains cannot be federated
//! (graph-notes.md §9). Success flips the domain to `Federated`; deletion back to `Managed`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::x509::X509;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::errors::{GraphError, GraphResponse, GraphResult};
use super::input::{accept, is_blank, merge};
use super::odata::{self, Allowed};
use super::request::Call;
use super::schema::INTERNAL_DOMAIN_FEDERATION as IDF;
use super::state::{Federation, Tenant};

const ODATA_TYPE: &str = "#microsoft.graph.internalDomainFederation";

/// Required on create: without them Entra could not redirect users or check tokens.
const REQUIRED: [&str; 3] = ["issuerUri", "passiveSignInUri", "signingCertificate"];

const URI_PROPS: [&str; 6] = ["issuerUri", "passiveSignInUri", "activeSignInUri", "signOutUri", "metadataExchangeUri", "passwordResetUri"];

pub(crate) fn render(f: &Federation) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("@odata.type".into(), Value::from(ODATA_TYPE));
    for p in IDF.props {
        let v = if p.name == "id" { Value::from(f.id.clone()) } else { f.props.get(p.name).cloned().unwrap_or(Value::Null) };
        m.insert(p.name.into(), v);
    }
    m
}

fn context(call: &Call, domain: &str, entity: bool, select: Option<&[&'static str]>) -> String {
    let suffix = if entity { "/$entity" } else { "" };
    odata::context(call.base, &format!("domains('{domain}')/federationConfiguration{suffix}"), select)
}

fn domain_index(t: &Tenant, domain: &str) -> Result<usize, GraphError> {
    t.domain_index(domain).ok_or_else(|| GraphError::not_found(domain))
}

fn config<'t>(t: &'t Tenant, domain: &str, id: &str) -> Result<(usize, &'t Federation), GraphError> {
    let i = domain_index(t, domain)?;
    t.domains[i].federation.as_ref().filter(|f| f.id.eq_ignore_ascii_case(id)).map(|f| (i, f)).ok_or_else(|| GraphError::not_found(id))
}

/// `GET /domains/{id}/federationConfiguration`.
pub(crate) fn list(t: &Tenant, call: &Call, domain: &str) -> GraphResult {
    let q = call.options(&[&IDF], Allowed::default())?;
    let i = domain_index(t, domain)?;
    let d = &t.domains[i];
    let items: Vec<Value> = d.federation.iter().map(|f| Value::Object(odata::project(&render(f), q.select.as_deref(), &IDF))).collect();
    let mut body = Map::new();
    body.insert("@odata.context".into(), context(call, &d.name, false, q.select.as_deref()).into());
    body.insert("value".into(), Value::Array(items));
    Ok(GraphResponse::json(200, Value::Object(body)))
}

/// `POST /domains/{id}/federationConfiguration` → 201.
pub(crate) fn create(t: &mut Tenant, call: &Call, domain: &str) -> GraphResult {
    let i = domain_index(t, domain)?;
    let d = &t.domains[i];
    if d.name.to_ascii_lowercase().ends_with(".onmicrosoft.com") {
        return Err(GraphError::bad_request(format!(
            "Domain '{}' is a Microsoft-provided *.onmicrosoft.com domain and cannot be federated.",
            d.name
        )));
    }
    if !d.is_verified {
        return Err(GraphError::bad_request(format!("Domain '{}' is not verified. Verify the domain before federating it.", d.name)));
    }
    if d.is_default {
        return Err(GraphError::bad_request("Federating to the 'Default' domain is not allowed."));
    }
    if d.federation.is_some() {
        return Err(GraphError::new(409, "Conflict", format!("Domain '{}' already has a federation configuration.", d.name)));
    }
    let props = accept(&IDF, &call.object()?)?;
    if let Some(missing) = REQUIRED.iter().find(|r| is_blank(props.get(**r))) {
        return Err(GraphError::required(missing));
    }
    check(t, i, &props)?;
    let federation = Federation { id: Uuid::new_v4().to_string(), props: props.into_iter().filter(|(_, v)| !v.is_null()).collect() };
    let mut out = odata::project(&render(&federation), None, &IDF);
    let d = &mut t.domains[i];
    out.insert("@odata.context".into(), context(call, &d.name, true, None).into());
    d.federation = Some(federation);
    d.authentication_type = "Federated".into();
    Ok(GraphResponse::json(201, Value::Object(out)))
}

/// `GET /domains/{id}/federationConfiguration/{configId}`.
pub(crate) fn get(t: &Tenant, call: &Call, domain: &str, id: &str) -> GraphResult {
    let q = call.options(&[&IDF], Allowed::default())?;
    let (i, f) = config(t, domain, id)?;
    let mut out = odata::project(&render(f), q.select.as_deref(), &IDF);
    out.insert("@odata.context".into(), context(call, &t.domains[i].name, true, q.select.as_deref()).into());
    Ok(GraphResponse::json(200, Value::Object(out)))
}

/// `PATCH /domains/{id}/federationConfiguration/{configId}` → 200 with the updated object.
pub(crate) fn update(t: &mut Tenant, call: &Call, domain: &str, id: &str) -> GraphResult {
    let (i, _) = config(t, domain, id)?;
    let props = accept(&IDF, &call.object()?)?;
    for name in REQUIRED {
        if props.contains_key(name) && is_blank(props.get(name)) {
            return Err(GraphError::invalid_value(name, IDF.resource));
        }
    }
    check(t, i, &props)?;
    let d = &mut t.domains[i];
    let name = d.name.clone();
    let Some(f) = d.federation.as_mut() else {
        return Err(GraphError::not_found(id));
    };
    merge(&mut f.props, props);
    let mut out = odata::project(&render(f), None, &IDF);
    out.insert("@odata.context".into(), context(call, &name, true, None).into());
    Ok(GraphResponse::json(200, Value::Object(out)))
}

/// `DELETE /domains/{id}/federationConfiguration/{configId}` → 204; the domain is
/// `Managed` again.
pub(crate) fn delete(t: &mut Tenant, domain: &str, id: &str) -> GraphResult {
    let (i, _) = config(t, domain, id)?;
    let d = &mut t.domains[i];
    d.federation = None;
    d.authentication_type = "Managed".into();
    Ok(GraphResponse::no_content())
}

/// Certificates must be base64 DER X.509, URIs absolute, and the issuer unique among the
/// tenant's federated domains (Entra needs one issuer per domain).
fn check(t: &Tenant, domain: usize, props: &Map<String, Value>) -> Result<(), GraphError> {
    for name in ["signingCertificate", "nextSigningCertificate"] {
        if let Some(text) = props.get(name).and_then(Value::as_str) {
            let der = STANDARD.decode(text.trim()).map_err(|_| GraphError::invalid_value(name, IDF.resource))?;
            X509::from_der(&der).map_err(|_| GraphError::invalid_value(name, IDF.resource))?;
        }
    }
    for name in URI_PROPS {
        if let Some(uri) = props.get(name).and_then(Value::as_str)
            && !(uri.starts_with("https://") || uri.starts_with("http://") || uri.starts_with("urn:"))
        {
            return Err(GraphError::invalid_value(name, IDF.resource));
        }
    }
    if let Some(issuer) = props.get("issuerUri").and_then(Value::as_str) {
        let taken = t.domains.iter().enumerate().any(|(j, d)| {
            j != domain && d.federation.as_ref().and_then(|f| f.props.get("issuerUri")).and_then(Value::as_str) == Some(issuer)
        });
        if taken {
            return Err(GraphError::conflict("issuerUri"));
        }
    }
    Ok(())
}
