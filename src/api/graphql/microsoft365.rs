//! GraphQL types and resolvers of the Microsoft 365 connection. No field ever carries a client
//! secret or a private key: the connection shows only the public certificate.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::query::{read_scope, tenant_arg};
use super::types::{OrGraphql, app, caller};
use crate::app::ConnectInput;

use crate::app::{CompatibilityReport as CompatibilityFindings, ConnectionTestReport};
use crate::domain::microsoft365::{self as m365, GraphFailure};
use crate::domain::provisioning::ShownFailure;
use crate::read::microsoft365::{CompatibilityRow, ConnectionRow, SkuRow};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "m365::FindingReason")]
pub enum FindingReason {
    DomainIsDefault,
    #[graphql(name = "DOMAIN_NOT_IN_MICROSOFT365")]
    DomainNotInMicrosoft365,
    #[graphql(name = "DOMAIN_NOT_VERIFIED_IN_MICROSOFT365")]
    DomainNotVerifiedInMicrosoft365,
    DomainIsOnmicrosoft,
    AlreadyFederated,
    InsufficientPermissions,
    ConnectionFailed,
}

/// One thing a check found; each reason names what to fix.
#[derive(SimpleObject, Clone)]
pub struct Finding {
    pub reason: FindingReason,
    pub message: String,
    /// For INSUFFICIENT_PERMISSIONS: the Graph application permission to grant (least privilege).
    pub permission: Option<String>,
}

impl From<m365::Finding> for Finding {
    fn from(f: m365::Finding) -> Self {
        Self { reason: f.reason.into(), message: f.message, permission: f.permission }
    }
}

fn findings(list: Vec<m365::Finding>) -> Vec<Finding> {
    list.into_iter().map(Finding::from).collect()
}

fn findings_json(text: Option<&str>) -> Vec<Finding> {
    findings(text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default())
}

/// Microsoft's answer to a failed call: what support asks for.
#[derive(SimpleObject, Clone)]
pub struct GraphError {
    /// HTTP status; null when no answer came (timeout, dropped connection).
    pub status: Option<i32>,
    /// Graph's `error.code` (e.g. `Request_BadRequest`), Entra's `error`, or Tessera's code for
    /// a failure without an answer (`TIMEOUT`, `CONNECTION_DROPPED`, …).
    pub code: String,
    /// Microsoft's message; `(forgotten)` once the person it may quote was forgotten.
    pub message: String,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
    /// The message was about a person who has since been forgotten.
    pub personal_data_forgotten: bool,
}

impl From<GraphFailure> for GraphError {
    fn from(f: GraphFailure) -> Self {
        ShownFailure::from(f).into()
    }
}

impl From<ShownFailure> for GraphError {
    fn from(f: ShownFailure) -> Self {
        Self {
            status: f.status.map(i32::from),
            code: f.code,
            message: f.message,
            request_id: f.request_id,
            client_request_id: f.client_request_id,
            personal_data_forgotten: f.personal_data_forgotten,
        }
    }
}

/// A failure kept as JSON by a read model (a `GraphFailure`, or a task's `ShownFailure`).
pub fn graph_error_json(text: Option<&str>) -> Option<GraphError> {
    text.and_then(|t| serde_json::from_str::<ShownFailure>(t).ok()).map(GraphError::from)
}

/// The outcome of `testConnection`.
#[derive(SimpleObject)]
pub struct ConnectionTest {
    /// Whether a token was issued and Graph answered.
    pub succeeded: bool,
    /// The Graph application permissions the app's token carries.
    pub granted_permissions: Vec<String>,
    pub findings: Vec<Finding>,
    pub error: Option<GraphError>,
    pub tested_at: Option<DateTime<Utc>>,
}

impl From<ConnectionTestReport> for ConnectionTest {
    fn from(r: ConnectionTestReport) -> Self {
        Self {
            succeeded: r.succeeded,
            granted_permissions: r.granted_permissions,
            findings: findings(r.findings),
            error: r.error.map(GraphError::from),
            tested_at: Some(Utc::now()),
        }
    }
}

/// Whether a domain can be federated through the connection.
#[derive(SimpleObject)]
pub struct Compatibility {
    pub domain: String,
    /// True when nothing was found.
    pub compatible: bool,
    pub findings: Vec<Finding>,
    pub checked_at: DateTime<Utc>,
}

impl From<CompatibilityFindings> for Compatibility {
    fn from(r: CompatibilityFindings) -> Self {
        Self { domain: r.domain, compatible: r.compatible, findings: findings(r.findings), checked_at: Utc::now() }
    }
}

impl From<CompatibilityRow> for Compatibility {
    fn from(r: CompatibilityRow) -> Self {
        Self { domain: r.domain, compatible: r.compatible, findings: findings_json(Some(&r.findings)), checked_at: r.checked_at }
    }
}

/// The certificate Tessera generated for the app registration: upload `pem` (a .cer/.pem
/// file) under "Certificates & secrets". The private key never leaves Tessera.
#[derive(SimpleObject)]
pub struct ClientCertificate {
    pub pem: String,
    /// SHA-1 thumbprint as the Entra admin center shows it.
    pub sha1_thumbprint: String,
    pub sha256_thumbprint: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CredentialType {
    ClientSecret,
    Certificate,
}

pub struct Microsoft365Connection {
    pub row: ConnectionRow,
    pub compatibility: Vec<CompatibilityRow>,
    pub skus: Vec<SkuRow>,
}

/// A license the Microsoft 365 tenant subscribes to, as of the last `refreshLicenses`.
#[derive(SimpleObject)]
pub struct SubscribedSku {
    pub sku_id: ID,
    pub sku_part_number: String,
    pub enabled: i64,
    pub consumed: i64,
    /// enabled − consumed; a grant is refused with NO_LICENSE_UNITS_LEFT when this is 0.
    pub units_left: i64,
    pub refreshed_at: Option<DateTime<Utc>>,
}

impl From<SkuRow> for SubscribedSku {
    fn from(r: SkuRow) -> Self {
        Self {
            sku_id: ID(r.sku_id),
            sku_part_number: r.sku_part_number,
            enabled: r.enabled,
            consumed: r.consumed,
            units_left: r.enabled - r.consumed,
            refreshed_at: Some(r.refreshed_at),
        }
    }
}

/// The tenant's connection to its Microsoft 365 (Entra ID) tenant. Secrets are never shown.
#[Object]
impl Microsoft365Connection {
    async fn entra_tenant_id(&self) -> ID {
        ID(self.row.entra_tenant_id.clone())
    }
    /// The application (client) id of the app registration.
    async fn client_id(&self) -> ID {
        ID(self.row.client_id.clone())
    }
    async fn credential_type(&self) -> CredentialType {
        if self.row.credential_type == "CERTIFICATE" { CredentialType::Certificate } else { CredentialType::ClientSecret }
    }
    /// The generated certificate to upload to the app registration (CERTIFICATE only).
    async fn certificate(&self) -> Option<ClientCertificate> {
        Some(ClientCertificate {
            pem: self.row.certificate_pem.clone()?,
            sha1_thumbprint: self.row.certificate_sha1.clone()?,
            sha256_thumbprint: self.row.certificate_sha256.clone()?,
            not_before: self.row.certificate_not_before?,
            not_after: self.row.certificate_not_after?,
        })
    }
    async fn login_base_url(&self) -> &str {
        &self.row.login_base_url
    }
    async fn graph_base_url(&self) -> &str {
        &self.row.graph_base_url
    }
    async fn connected_at(&self) -> DateTime<Utc> {
        self.row.connected_at
    }
    /// The last `testConnection` since (re)connecting.
    async fn last_test(&self) -> Option<ConnectionTest> {
        Some(ConnectionTest {
            succeeded: self.row.last_test_succeeded?,
            granted_permissions: self.row.last_test_permissions.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default(),
            findings: findings_json(self.row.last_test_findings.as_deref()),
            error: graph_error_json(self.row.last_test_error.as_deref()),
            tested_at: self.row.last_test_at,
        })
    }
    /// The subscribed licenses as of the last `refreshLicenses` (empty before the first).
    async fn subscribed_skus(&self) -> Vec<SubscribedSku> {
        self.skus.iter().cloned().map(SubscribedSku::from).collect()
    }
    /// The last `verifyCompatibility` of each domain.
    async fn compatibility(&self) -> Vec<Compatibility> {
        self.compatibility.iter().cloned().map(Compatibility::from).collect()
    }
}

/// What `connectMicrosoft365` needs: the app registration, and either its client secret or
/// `generateCertificate: true`.
#[derive(InputObject)]
pub struct ConnectMicrosoft365Input {
    /// The Entra (directory) tenant id.
    pub entra_tenant_id: String,
    /// The application (client) id of the app registration.
    pub client_id: String,
    /// A client secret of the app registration; stored encrypted, never shown again.
    #[graphql(secret)]
    pub client_secret: Option<String>,
    /// Let Tessera generate a key pair; upload the returned certificate to the app registration.
    #[graphql(default)]
    pub generate_certificate: bool,
    /// Default `https://login.microsoftonline.com` (national clouds: their login host).
    pub login_base_url: Option<String>,
    /// Default `https://graph.microsoft.com` (national clouds: their Graph host).
    pub graph_base_url: Option<String>,
}

// Resolvers, called from the Query and Mutation roots.

type Res<T> = async_graphql::Result<T>;

pub async fn connection(ctx: &Context<'_>, tenant_id: Option<&ID>) -> Res<Option<Microsoft365Connection>> {
    let caller = caller(ctx)?;
    let scope = read_scope(caller, tenant_id)?;
    let Some(row) = crate::read::microsoft365::connection(app(ctx).db(), &scope).await.gql(caller)? else { return Ok(None) };
    let compatibility = crate::read::microsoft365::compatibility(app(ctx).db(), &scope).await.gql(caller)?;
    let skus = crate::read::microsoft365::skus(app(ctx).db(), &scope).await.gql(caller)?;
    Ok(Some(Microsoft365Connection { row, compatibility, skus }))
}

pub async fn connect(ctx: &Context<'_>, input: ConnectMicrosoft365Input, tenant_id: Option<&ID>) -> Res<Microsoft365Connection> {
    let caller = caller(ctx)?;
    let input = ConnectInput {
        entra_tenant_id: input.entra_tenant_id,
        client_id: input.client_id,
        client_secret: input.client_secret.map(secrecy::SecretString::from),
        generate_certificate: input.generate_certificate,
        login_base_url: input.login_base_url,
        graph_base_url: input.graph_base_url,
    };
    let tenant = app(ctx).connect_microsoft365(caller, tenant_arg(tenant_id).gql(caller)?, input).await.gql(caller)?;
    let id = ID(tenant.to_string());
    connection(ctx, Some(&id)).await?.ok_or_else(|| {
        crate::app::AppError::NotFound("Microsoft 365 connection (recorded but not visible yet; query again)".into())
            .to_graphql(&caller.correlation_id)
    })
}

pub async fn disconnect(ctx: &Context<'_>, tenant_id: Option<&ID>) -> Res<bool> {
    let caller = caller(ctx)?;
    app(ctx).disconnect_microsoft365(caller, tenant_arg(tenant_id).gql(caller)?).await.gql(caller)?;
    Ok(true)
}

pub async fn test(ctx: &Context<'_>, tenant_id: Option<&ID>) -> Res<ConnectionTest> {
    let caller = caller(ctx)?;
    let report = app(ctx).test_connection(caller, tenant_arg(tenant_id).gql(caller)?).await.gql(caller)?;
    Ok(report.into())
}

pub async fn verify(ctx: &Context<'_>, domain: &str, tenant_id: Option<&ID>) -> Res<Compatibility> {
    let caller = caller(ctx)?;
    let report = app(ctx).verify_compatibility(caller, tenant_arg(tenant_id).gql(caller)?, domain).await.gql(caller)?;
    Ok(report.into())
}

pub async fn refresh_licenses(ctx: &Context<'_>, tenant_id: Option<&ID>) -> Res<Vec<SubscribedSku>> {
    let caller = caller(ctx)?;
    let tenant = tenant_arg(tenant_id).gql(caller)?;
    app(ctx).refresh_licenses(caller, tenant).await.gql(caller)?;
    let scope = read_scope(caller, tenant_id)?;
    let rows = crate::read::microsoft365::skus(app(ctx).db(), &scope).await.gql(caller)?;
    Ok(rows.into_iter().map(SubscribedSku::from).collect())
}
