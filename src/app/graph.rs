//! The port to Microsoft Graph: what use cases and outbox workers need from it, implemented on
//! reqwest in `crate::outbox::graph`. Requests are described here; the client adds the token,
//! the `client-request-id` and the base URL.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;

use crate::domain::microsoft365::GraphFailure;

/// A tenant's connection, opened: what a call needs, secrets included (never logged: the
/// secret types print as `[REDACTED]`).
#[derive(Debug, Clone)]
pub struct GraphConnection {
    /// Identifies the connection's token cache: the tenant and the connection's generation,
    /// so a re-connection never uses a token of the old credential.
    pub cache_key: String,
    pub entra_tenant_id: String,
    pub client_id: String,
    pub login_base_url: String,
    pub graph_base_url: String,
    pub credential: GraphCredential,
}

#[derive(Debug, Clone)]
pub enum GraphCredential {
    Secret(SecretString),
    /// The PKCS#8 PEM key and the base64url SHA-256 thumbprint of its certificate (the client
    /// assertion's `x5t#S256` header).
    Certificate {
        private_key_pem: SecretString,
        x5t_s256: String,
    },
}

impl GraphConnection {
    /// The v2 token endpoint of the connection's Entra tenant (also the assertion's `aud`).
    pub fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.login_base_url.trim_end_matches('/'), self.entra_tenant_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// One Graph v1.0 call; `path` is relative to `/v1.0` (`/users/{id}`), already percent-encoded.
#[derive(Clone)]
pub struct GraphRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl std::fmt::Debug for GraphRequest {
    // Never the body: a create carries the user's initial password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphRequest").field("method", &self.method).field("path", &self.path).finish_non_exhaustive()
    }
}

impl GraphRequest {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self { method, path: path.into(), query: Vec::new(), body: None }
    }

    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

#[derive(Debug, Clone)]
pub struct GraphResponse {
    pub status: u16,
    /// `Value::Null` for an empty body (204).
    pub body: Value,
    pub request_id: Option<String>,
}

/// An access token and what it grants.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The application permissions (`roles` claim) the token carries.
    pub roles: Vec<String>,
}

/// How a failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Throttled or unavailable (429, 5xx): retry later, honouring `retry_after`.
    Transient,
    /// The request may or may not have been applied (timeout, connection dropped after
    /// sending): look the object up before repeating a create.
    Ambiguous,
    /// Nothing was sent (connection refused, DNS): retry later.
    Unreachable,
    /// Microsoft refused the request itself: retrying the same request will not help.
    Permanent,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{} {}: {}", failure.status.map_or_else(|| "-".to_owned(), |s| s.to_string()), failure.code, failure.message)]
pub struct GraphError {
    pub failure: GraphFailure,
    pub kind: FailureKind,
    pub retry_after: Option<Duration>,
    /// `error.details[].target` of an `ObjectConflict` (e.g. `userPrincipalName`).
    pub conflict_target: Option<String>,
}

impl GraphError {
    pub fn is_retryable(&self) -> bool {
        self.kind != FailureKind::Permanent
    }

    pub fn status(&self) -> Option<u16> {
        self.failure.status
    }

    /// A failure Tessera itself reports without asking Microsoft (e.g. no connection).
    pub fn local(code: &str, message: impl Into<String>) -> Self {
        Self {
            failure: GraphFailure {
                status: None,
                code: code.to_owned(),
                message: message.into(),
                request_id: None,
                client_request_id: None,
            },
            kind: FailureKind::Permanent,
            retry_after: None,
            conflict_target: None,
        }
    }
}

/// Microsoft Graph and the identity platform's token endpoint.
#[async_trait::async_trait]
pub trait GraphApi: Send + Sync {
    /// A token for the connection (cached per connection, refreshed before it expires).
    async fn token(&self, connection: &GraphConnection) -> Result<AccessToken, GraphError>;
    /// Sends one request; a 2xx is `Ok`, anything else an error with Graph's code.
    async fn call(&self, connection: &GraphConnection, request: GraphRequest) -> Result<GraphResponse, GraphError>;
    /// Sends independent requests (at most 20) together, as one JSON `$batch` where the client
    /// can; one result per request, in order, each with its own status (a throttled item is
    /// that item's 429 with its own `Retry-After`). By default: one call after another.
    async fn batch(&self, connection: &GraphConnection, requests: Vec<GraphRequest>) -> Vec<Result<GraphResponse, GraphError>> {
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            results.push(self.call(connection, request).await);
        }
        results
    }
}
