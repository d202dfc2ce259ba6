//! Microsoft Graph over reqwest: client-credentials tokens from the v2 token endpoint (client
//! secret or certificate assertion), one token cache per connection, Graph calls with a fresh
//! `client-request-id` each, Microsoft's error bodies read into typed errors.

mod assertion;
pub mod batch;
mod errors;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub use assertion::{client_assertion, x5t_s256};

use crate::app::graph::{AccessToken, GraphApi, GraphConnection, GraphCredential, GraphError, GraphRequest, GraphResponse, Method};

/// Graph's application id: `{id}/.default` names Graph in every cloud (the national clouds'
/// Graph hosts differ, the application id does not).
const GRAPH_SCOPE: &str = "00000003-0000-0000-c000-000000000000/.default";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A cached token is replaced this long before it expires, so no call carries one that expires
/// in flight.
const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(5);

#[derive(Clone)]
struct CachedToken {
    value: SecretString,
    roles: Vec<String>,
    expires_at: DateTime<Utc>,
}

pub struct HttpGraph {
    http: reqwest::Client,
    tokens: Mutex<HashMap<String, CachedToken>>,
    /// One token request at a time per connection: the outbox's workers start together and
    /// would otherwise each ask for a token the first time (or when one expires).
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl HttpGraph {
    /// `timeout` bounds each request; a call that exceeds it is an ambiguous failure.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("Tessera/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, tokens: Mutex::new(HashMap::new()), fetching: Mutex::new(HashMap::new()) })
    }

    fn cached(&self, key: &str) -> Option<CachedToken> {
        let tokens = self.tokens.lock().ok()?;
        tokens.get(key).filter(|t| t.expires_at - REFRESH_MARGIN > Utc::now()).cloned()
    }

    fn forget(&self, key: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(key);
        }
    }

    async fn cached_or_fetch(&self, connection: &GraphConnection) -> Result<CachedToken, GraphError> {
        if let Some(token) = self.cached(&connection.cache_key) {
            return Ok(token);
        }
        let turn = self.fetching.lock().ok().map(|mut locks| locks.entry(connection.cache_key.clone()).or_default().clone());
        let _turn = match &turn {
            Some(turn) => Some(turn.lock().await),
            None => None,
        };
        // Whoever held the turn before may have fetched it.
        if let Some(token) = self.cached(&connection.cache_key) {
            return Ok(token);
        }
        let token = self.fetch_token(connection).await?;
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(connection.cache_key.clone(), token.clone());
        }
        Ok(token)
    }

    async fn fetch_token(&self, connection: &GraphConnection) -> Result<CachedToken, GraphError> {
        let endpoint = connection.token_endpoint();
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", connection.client_id.clone()),
            ("scope", GRAPH_SCOPE.to_owned()),
        ];
        match &connection.credential {
            GraphCredential::Secret(secret) => form.push(("client_secret", secret.expose_secret().to_owned())),
            GraphCredential::Certificate { private_key_pem, x5t_s256 } => {
                let jwt =
                    client_assertion(private_key_pem.expose_secret().as_bytes(), x5t_s256, &connection.client_id, &endpoint, Utc::now())
                        .map_err(|e| GraphError::local("CLIENT_ASSERTION_FAILED", e.to_string()))?;
                form.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
                form.push(("client_assertion", jwt));
            }
        }
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let response = self
            .http
            .post(&endpoint)
            .header("client-request-id", &client_request_id)
            .header("return-client-request-id", "true")
            .form(&form)
            .send()
            .await
            .map_err(|e| errors::transport_error(e, &client_request_id))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_body(response, &client_request_id).await?;
        if !(200..300).contains(&status) {
            return Err(errors::token_error(status, &headers, &body, &client_request_id));
        }
        let value = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| GraphError::local("INVALID_TOKEN_RESPONSE", "the token endpoint answered without an access_token"))?;
        let lifetime = body["expires_in"].as_i64().or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok())).unwrap_or(3599);
        Ok(CachedToken {
            value: SecretString::from(value.to_owned()),
            roles: roles_of(value),
            expires_at: Utc::now() + TimeDelta::seconds(lifetime.max(0)),
        })
    }

    async fn send(&self, connection: &GraphConnection, token: &CachedToken, request: &GraphRequest) -> Result<GraphResponse, GraphError> {
        let url = format!("{}/v1.0{}", connection.graph_base_url.trim_end_matches('/'), request.path);
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let mut builder = self
            .http
            .request(method, url)
            .bearer_auth(token.value.expose_secret())
            .header("client-request-id", &client_request_id)
            .header("return-client-request-id", "true")
            .header("accept", "application/json");
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = builder.send().await.map_err(|e| errors::transport_error(e, &client_request_id))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_body(response, &client_request_id).await?;
        if (200..300).contains(&status) {
            Ok(GraphResponse { status, body, request_id: errors::header(&headers, "request-id") })
        } else {
            Err(errors::graph_error(status, &headers, &body, &client_request_id))
        }
    }
}

async fn read_body(response: reqwest::Response, client_request_id: &str) -> Result<Value, GraphError> {
    let bytes = response.bytes().await.map_err(|e| errors::transport_error(e, client_request_id))?;
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).chars().take(500).collect())))
}

/// The `roles` claim of an access token. Tessera is the token's client, not its audience: it
/// reads the claim to tell an admin which permission is missing, and trusts nothing else in it.
fn roles_of(token: &str) -> Vec<String> {
    let claims = token.split('.').nth(1).and_then(|part| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok());
    let claims: Value = claims.and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or(Value::Null);
    claims["roles"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

#[async_trait::async_trait]
impl GraphApi for HttpGraph {
    async fn token(&self, connection: &GraphConnection) -> Result<AccessToken, GraphError> {
        let token = self.cached_or_fetch(connection).await?;
        Ok(AccessToken { roles: token.roles })
    }

    async fn call(&self, connection: &GraphConnection, request: GraphRequest) -> Result<GraphResponse, GraphError> {
        let token = self.cached_or_fetch(connection).await?;
        match self.send(connection, &token, &request).await {
            // Revoked or expired early (or the clock drifted): one fresh token, one more try.
            Err(e) if e.status() == Some(401) => {
                self.forget(&connection.cache_key);
                let token = self.cached_or_fetch(connection).await?;
                self.send(connection, &token, &request).await
            }
            other => other,
        }
    }

    #[allow(clippy::result_large_err)] // like every call's error: Microsoft's whole answer
    async fn batch(&self, connection: &GraphConnection, requests: Vec<GraphRequest>) -> Vec<Result<GraphResponse, GraphError>> {
        if requests.len() <= 1 || requests.len() > batch::MAX_BATCH {
            let mut results = Vec::with_capacity(requests.len());
            for request in requests {
                results.push(self.call(connection, request).await);
            }
            return results;
        }
        let count = requests.len();
        let envelope = batch::envelope(&requests);
        match self.call(connection, envelope).await {
            Ok(answer) => batch::split(count, &answer),
            // The whole batch failed (throttled, dropped): every item did.
            Err(e) => (0..count).map(|_| Err(e.clone())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_roles_from_a_token_and_nothing_from_garbage() {
        let claims = URL_SAFE_NO_PAD.encode(r#"{"roles":["User.ReadWrite.All","Domain.Read.All"]}"#);
        assert_eq!(roles_of(&format!("h.{claims}.s")), vec!["User.ReadWrite.All", "Domain.Read.All"]);
        assert!(roles_of("not a jwt").is_empty());
    }
}
