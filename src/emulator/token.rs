//! The Microsoft identity platform v2 token endpoint, client-credentials grant only.
//!
//! `POST /{tenant}/oauth2/v2.0/token` with a client secret or a certificate-signed client
//! assertion (graph-notes.md §1–2). Errors use Entra's OAuth error body and AADSTS codes,
//! because that is what Tessera must report when a tenant's Graph connection is misconfigured.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::auth::GRAPH_AUDIENCE;
use super::errors::RequestIds;
use super::jwt;
use super::state::{App, EmulatorState, Tenant};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const SKEW_SECS: f64 = 300.0;

/// An OAuth error as Entra renders it.
#[derive(Debug)]
pub(crate) struct AadError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

impl AadError {
    fn new(status: u16, error: &'static str, code: u32, description: impl Into<String>) -> Self {
        Self { status, error, code, description: description.into() }
    }

    pub(crate) fn tenant_not_found(segment: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            90_002,
            format!(
                "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        )
    }

    fn missing(param: &str) -> Self {
        Self::new(400, "invalid_request", 900_144, format!("The request body must contain the following parameter: '{param}'."))
    }

    /// A throttled or failing token endpoint (fault injection).
    pub(crate) fn transient(status: u16) -> Self {
        Self::new(status, "temporarily_unavailable", 90_033, "A transient error has occurred. Please try again.")
    }

    pub(crate) fn body(&self, ids: &RequestIds, now: DateTime<Utc>) -> Value {
        let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {} Correlation ID: {} Timestamp: {}",
                self.code, self.description, ids.request_id, ids.client_request_id, timestamp
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": ids.request_id,
            "correlation_id": ids.client_request_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}

/// A token request after form decoding.
pub(crate) struct TokenRequest<'a> {
    pub tenant_segment: &'a str,
    pub form: &'a [(String, String)],
    /// `client_id` and `client_secret` from HTTP Basic authentication.
    pub basic: Option<(String, String)>,
    pub base: &'a str,
    pub now: DateTime<Utc>,
    pub lifetime_secs: u32,
}

impl TokenRequest<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
}

/// A successful grant: the response body plus who got it (for the request log).
pub(crate) struct Issued {
    pub body: Value,
    pub tenant_id: String,
    pub client_id: String,
}

pub(crate) fn issue(state: &EmulatorState, req: &TokenRequest) -> Result<Issued, AadError> {
    let tenant = state.tenant_by_segment(req.tenant_segment).ok_or_else(|| AadError::tenant_not_found(req.tenant_segment))?;
    let grant = req.param("grant_type").ok_or_else(|| AadError::missing("grant_type"))?;
    if grant != "client_credentials" {
        return Err(AadError::new(
            400,
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{grant}'."),
        ));
    }
    let basic_id = req.basic.as_ref().map(|(id, _)| id.as_str());
    let client_id = req.param("client_id").or(basic_id).ok_or_else(|| AadError::missing("client_id"))?;
    check_scope(req.param("scope"))?;
    let app = tenant.app(client_id).ok_or_else(|| {
        AadError::new(
            400,
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                tenant.id
            ),
        )
    })?;
    let secret = req.param("client_secret").or(req.basic.as_ref().map(|(_, s)| s.as_str()));
    let acr = match (secret, req.param("client_assertion")) {
        (Some(_), Some(_)) => {
            return Err(AadError::new(400, "invalid_request", 900_023, "Send either client_secret or client_assertion, not both."));
        }
        (Some(secret), None) => {
            check_secret(app, secret)?;
            "1"
        }
        (None, Some(assertion)) => {
            if req.param("client_assertion_type") != Some(ASSERTION_TYPE) {
                return Err(AadError::new(
                    400,
                    "invalid_request",
                    900_144,
                    format!(
                        "The request body must contain the following parameter: 'client_assertion_type' with the value '{ASSERTION_TYPE}'."
                    ),
                ));
            }
            check_assertion(tenant, app, req, assertion)?;
            "2"
        }
        (None, None) => {
            return Err(AadError::new(
                401,
                "invalid_client",
                7_000_218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
    };
    let token = access_token(state, tenant, app, acr, req)?;
    Ok(Issued {
        body: json!({
            "token_type": "Bearer",
            "expires_in": req.lifetime_secs,
            "ext_expires_in": req.lifetime_secs,
            "access_token": token,
        }),
        tenant_id: tenant.id.clone(),
        client_id: app.client_id.clone(),
    })
}

/// Only `https://graph.microsoft.com/.default` (or Graph's app id form) is accepted.
fn check_scope(scope: Option<&str>) -> Result<(), AadError> {
    let scope = scope.ok_or_else(|| AadError::missing("scope"))?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let graph = [format!("{GRAPH_AUDIENCE}/.default"), format!("{GRAPH_AUDIENCE}//.default"), format!("{GRAPH_APP_ID}/.default")];
    match scopes.as_slice() {
        [one] if graph.iter().any(|g| g.eq_ignore_ascii_case(one)) => Ok(()),
        [one] if !one.ends_with("/.default") => Err(AadError::new(
            400,
            "invalid_scope",
            1_002_012,
            format!(
                "The provided value for scope {one} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )),
        _ => Err(AadError::new(
            400,
            "invalid_scope",
            70_011,
            format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )),
    }
}

fn check_secret(app: &App, secret: &str) -> Result<(), AadError> {
    let ok = app.secret.as_deref().is_some_and(|s| s.len() == secret.len() && openssl::memcmp::eq(s.as_bytes(), secret.as_bytes()));
    if ok {
        Ok(())
    } else {
        Err(AadError::new(
            401,
            "invalid_client",
            7_000_215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        ))
    }
}

/// Certificate credential: the JWT must be signed by a registered certificate found by its
/// thumbprint, name the app as `iss` and `sub`, target this token endpoint, and be in time.
fn check_assertion(tenant: &Tenant, app: &App, req: &TokenRequest, assertion: &str) -> Result<(), AadError> {
    let invalid_client = |code: u32, text: String| AadError::new(401, "invalid_client", code, text);
    let jwt = jwt::parse(assertion).ok_or_else(|| AadError::new(400, "invalid_request", 50_027, "JWT token is invalid or malformed."))?;
    let header = |name: &str| jwt.header.get(name).and_then(Value::as_str);
    let alg = header("alg").unwrap_or("");
    let (thumbprint, by_sha256) = if let Some(t) = header("x5t#S256") {
        (jwt::b64url_decode(t), true)
    } else if let Some(t) = header("x5t") {
        (jwt::b64url_decode(t), false)
    } else {
        (header("kid").and_then(|k| hex::decode(k).ok()), false)
    };
    let thumbprint = thumbprint.unwrap_or_default();
    let reason = |why: &str| {
        format!(
            "Client assertion contains an invalid signature. [Reason - {why}, Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
            hex::encode_upper(&thumbprint),
            app.client_id
        )
    };
    let cert = app
        .certs
        .iter()
        .find(|c| if by_sha256 { c.sha256 == thumbprint } else { c.sha1 == thumbprint })
        .ok_or_else(|| invalid_client(700_027, reason("The key was not found.")))?;
    if !jwt::verify_rsa(alg, &cert.key, jwt.signing_input.as_bytes(), &jwt.signature) {
        return Err(invalid_client(700_027, reason("The provided signature value did not match the expected signature value.")));
    }
    let now = req.now.timestamp();
    if now < cert.not_before || now > cert.not_after {
        return Err(invalid_client(700_027, reason("The key used is expired.")));
    }
    let claim = |name: &str| jwt.claims.get(name).and_then(Value::as_str);
    if claim("iss") != Some(app.client_id.as_str()) || claim("sub") != Some(app.client_id.as_str()) {
        return Err(invalid_client(
            700_021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .".into(),
        ));
    }
    let aud = claim("aud").unwrap_or("");
    if !accepted_audiences(tenant, req).iter().any(|a| a.eq_ignore_ascii_case(aud)) {
        return Err(invalid_client(
            700_023,
            "Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .".into(),
        ));
    }
    let now = now as f64;
    let exp = jwt::numeric(&jwt.claims, "exp");
    let nbf = jwt::numeric(&jwt.claims, "nbf");
    if exp.is_none_or(|exp| now > exp + SKEW_SECS) || nbf.is_some_and(|nbf| now + SKEW_SECS < nbf) {
        return Err(invalid_client(
            700_024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
                req.now.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                nbf.map_or_else(|| "(none)".into(), |n| n.to_string()),
                exp.map_or_else(|| "(none)".into(), |e| e.to_string()),
            ),
        ));
    }
    Ok(())
}

/// `{base}/{tenant}/oauth2/v2.0/token` for the tenant's id and domain names, over the public
/// base and its https twin (MSAL needs https authorities, graph-notes.md §10).
fn accepted_audiences(tenant: &Tenant, req: &TokenRequest) -> Vec<String> {
    let mut bases = vec![req.base.to_owned()];
    if let Some(rest) = req.base.strip_prefix("http://") {
        bases.push(format!("https://{rest}"));
    }
    let mut names = vec![tenant.id.clone(), req.tenant_segment.to_owned()];
    names.extend(tenant.domains.iter().map(|d| d.name.clone()));
    bases.iter().flat_map(|b| names.iter().map(move |n| format!("{b}/{n}/oauth2/v2.0/token"))).collect()
}

fn access_token(state: &EmulatorState, tenant: &Tenant, app: &App, acr: &str, req: &TokenRequest) -> Result<String, AadError> {
    let now = req.now.timestamp();
    let issuer = format!("https://sts.windows.net/{}/", tenant.id);
    let mut claims = Map::new();
    let mut put = |k: &str, v: Value| {
        claims.insert(k.to_owned(), v);
    };
    put("aud", GRAPH_AUDIENCE.into());
    put("iss", issuer.clone().into());
    put("iat", now.into());
    put("nbf", now.into());
    put("exp", (now + i64::from(req.lifetime_secs)).into());
    put("app_displayname", app.display_name.clone().into());
    put("appid", app.client_id.clone().into());
    put("appidacr", acr.into());
    put("idp", issuer.into());
    put("idtyp", "app".into());
    put("oid", app.principal_id.clone().into());
    if !app.roles.is_empty() {
        put("roles", app.roles.clone().into());
    }
    put("sub", app.principal_id.clone().into());
    put("tid", tenant.id.clone().into());
    put("uti", jwt::b64url(uuid::Uuid::new_v4().as_bytes()).into());
    put("ver", "1.0".into());
    let header = json!({"typ": "JWT", "alg": "HS256", "kid": "tessera-graph-emulator"});
    jwt::sign_hs256(&state.token_key, &header, &Value::Object(claims))
        .ok_or_else(|| AadError::new(500, "server_error", 90_033, "Could not sign the token."))
}
