//! Bearer-token check for Graph requests, and the permission each operation needs.
//!
//! Only tokens this emulator issued, for a tenant and app that still exist, and not expired
//! by the emulator's clock, are accepted; anything else is Graph's 401
//! `InvalidAuthenticationToken`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::errors::GraphError;
use super::jwt;
use super::request::Principal;
use super::state::EmulatorState;

/// The audience of every access token the emulator issues.
pub(crate) const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";

/// Clock skew tolerated on `nbf`.
const SKEW_SECS: f64 = 300.0;

pub(crate) fn authenticate(state: &EmulatorState, authorization: Option<&str>, now: DateTime<Utc>) -> Result<Principal, GraphError> {
    let empty = || GraphError::unauthenticated("Access token is empty.");
    let value = authorization.map(str::trim).ok_or_else(empty)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(empty());
    }
    let jwt = jwt::parse(token).ok_or_else(|| GraphError::unauthenticated("IDX14100: JWT is not well formed, there are no dots (.)."))?;
    if !jwt::verify_hs256(&state.token_key, &jwt) {
        return Err(GraphError::unauthenticated("Access token validation failure. Invalid signature."));
    }
    let claim = |name: &str| jwt.claims.get(name).and_then(Value::as_str).unwrap_or("");
    if claim("aud") != GRAPH_AUDIENCE {
        return Err(GraphError::unauthenticated("Access token validation failure. Invalid audience."));
    }
    let now_secs = now.timestamp() as f64;
    if jwt::numeric(&jwt.claims, "exp").is_none_or(|exp| now_secs >= exp) {
        return Err(GraphError::unauthenticated("Lifetime validation failed, the token is expired."));
    }
    if jwt::numeric(&jwt.claims, "nbf").is_some_and(|nbf| now_secs + SKEW_SECS < nbf) {
        return Err(GraphError::unauthenticated("Lifetime validation failed, the token is not yet valid."));
    }
    let tenant =
        state.tenant(claim("tid")).ok_or_else(|| GraphError::unauthenticated("Access token validation failure. Invalid issuer."))?;
    let app = tenant
        .app(claim("appid"))
        .ok_or_else(|| GraphError::unauthenticated("The identity of the calling application could not be established."))?;
    let roles = jwt
        .claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(Principal { tenant_id: tenant.id.clone(), client_id: app.client_id.clone(), roles })
}

/// Whether any granted role is one of the roles an operation accepts.
pub(crate) fn permitted(granted: &[String], accepted: &[&str]) -> bool {
    accepted.is_empty() || granted.iter().any(|g| accepted.iter().any(|a| a.eq_ignore_ascii_case(g)))
}
