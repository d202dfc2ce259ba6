//! Connect Microsoft 365: the tenant's app registration (client secret, or a certificate
//! Tessera generates), `testConnection` and `verifyCompatibility(domain)`, whose findings are
//! recorded as events.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::graph::{GraphApi, GraphConnection, GraphCredential, GraphError, GraphRequest, Method};
use super::{AppError, RequestContext, Tessera};
use crate::domain::microsoft365::{
    ConnectionCredential, ConnectionSettings, Finding, FindingReason, GraphFailure, Microsoft365Command, Microsoft365Connection,
    SubscribedSku,
};
use crate::domain::values::{DomainName, TenantId};
use crate::domain::{Reason, SealedSecret};

pub const DEFAULT_LOGIN_BASE_URL: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com";
/// Validity of a generated client certificate. Entra shows the expiry on the app registration.
const CERTIFICATE_DAYS: i64 = 730;
const MAX_SECRET_CHARS: usize = 1024;

/// What an admin enters to connect.
#[derive(Debug, Clone)]
pub struct ConnectInput {
    pub entra_tenant_id: String,
    pub client_id: String,
    /// Either a client secret…
    pub client_secret: Option<SecretString>,
    /// …or a certificate that Tessera generates (its key never leaves Tessera).
    pub generate_certificate: bool,
    pub login_base_url: Option<String>,
    pub graph_base_url: Option<String>,
}

/// A Graph application permission a feature needs: the least-privileged one (what Tessera asks
/// for) and every permission Microsoft also accepts for the same calls.
pub struct Requirement {
    pub feature: &'static str,
    pub permission: &'static str,
    pub accepted: &'static [&'static str],
}

/// Every permission Tessera's features need, least privilege first (README lists the same).
pub const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        feature: "read domains (testConnection, verifyCompatibility)",
        permission: "Domain.Read.All",
        accepted: &["Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
    },
    Requirement {
        feature: "federate domains",
        permission: "Domain-InternalFederation.ReadWrite.All",
        accepted: &["Domain-InternalFederation.ReadWrite.All", "Domain.ReadWrite.All"],
    },
    Requirement {
        feature: "provision users",
        permission: "User.ReadWrite.All",
        accepted: &["User.ReadWrite.All", "Directory.ReadWrite.All"],
    },
    Requirement {
        feature: "assign licenses",
        permission: "LicenseAssignment.ReadWrite.All",
        accepted: &["LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"],
    },
    Requirement {
        feature: "push security groups and their members",
        permission: "Group.ReadWrite.All",
        accepted: &["Group.ReadWrite.All", "Directory.ReadWrite.All"],
    },
    Requirement {
        feature: "read subscribed SKUs",
        permission: "LicenseAssignment.Read.All",
        accepted: &[
            "LicenseAssignment.Read.All",
            "LicenseAssignment.ReadWrite.All",
            "Organization.Read.All",
            "Organization.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
    },
];

fn missing(roles: &[String], requirement: &Requirement) -> Option<Finding> {
    let granted = roles.iter().any(|r| requirement.accepted.iter().any(|a| a.eq_ignore_ascii_case(r)));
    (!granted).then(|| Finding {
        reason: FindingReason::InsufficientPermissions,
        message: format!(
            "the app registration lacks the Graph application permission {} (needed to {}); grant it with admin consent",
            requirement.permission, requirement.feature
        ),
        permission: Some(requirement.permission.to_owned()),
    })
}

/// What `testConnection` found.
#[derive(Debug, Clone)]
pub struct ConnectionTestReport {
    pub succeeded: bool,
    pub granted_permissions: Vec<String>,
    pub findings: Vec<Finding>,
    pub error: Option<GraphFailure>,
}

/// What `verifyCompatibility` found; compatible when there are no findings.
#[derive(Debug, Clone)]
pub struct CompatibilityReport {
    pub domain: String,
    pub compatible: bool,
    pub findings: Vec<Finding>,
}

fn secret_context(tenant_id: TenantId) -> String {
    format!("microsoft365-client-secret:{tenant_id}")
}

fn key_context(tenant_id: TenantId) -> String {
    format!("microsoft365-private-key:{tenant_id}")
}

/// An absolute http(s) base URL without query or fragment; plain http only on loopback (the
/// emulator), since tokens and secrets travel over it.
fn base_url(field: &'static str, input: Option<&str>, default: &str) -> Result<String, AppError> {
    let Some(input) = input.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(default.to_owned()) };
    let url =
        reqwest::Url::parse(input).map_err(|_| AppError::validation(field, "must be an absolute URL like https://graph.microsoft.com"))?;
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(AppError::validation(field, "must use https (plain http is allowed on loopback only)")),
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::validation(field, "must not carry credentials, a query or a fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn guid(field: &'static str, input: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(input.trim()).map_err(|_| AppError::validation(field, "must be a GUID as shown in the Entra admin center"))
}

impl Tessera {
    /// The Graph client; set at start-up.
    pub fn graph(&self) -> Result<Arc<dyn GraphApi>, AppError> {
        self.graph.clone().ok_or_else(|| AppError::Internal("no Microsoft Graph client is configured".into()))
    }

    pub async fn connect_microsoft365(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        input: ConnectInput,
    ) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let tenant_id = scope.tenant_id();
        let settings = ConnectionSettings {
            entra_tenant_id: guid("entraTenantId", &input.entra_tenant_id)?,
            client_id: guid("clientId", &input.client_id)?,
            login_base_url: base_url("loginBaseUrl", input.login_base_url.as_deref(), DEFAULT_LOGIN_BASE_URL)?,
            graph_base_url: base_url("graphBaseUrl", input.graph_base_url.as_deref(), DEFAULT_GRAPH_BASE_URL)?,
        };
        self.active_tenant(tenant_id).await?;
        let credential = match (&input.client_secret, input.generate_certificate) {
            (Some(secret), false) => {
                let secret = secret.expose_secret();
                if secret.is_empty() || secret.chars().count() > MAX_SECRET_CHARS || secret.chars().any(char::is_control) {
                    return Err(AppError::validation("clientSecret", format!("must be 1 to {MAX_SECRET_CHARS} printable characters")));
                }
                let sealed = self.crypto.seal(&secret_context(tenant_id), secret.as_bytes());
                ConnectionCredential::ClientSecret { sealed_client_secret: SealedSecret::new(sealed) }
            }
            (None, true) => self.generate_client_certificate(tenant_id).await?,
            _ => return Err(AppError::validation("clientSecret", "give either clientSecret or generateCertificate: true")),
        };
        let command = Microsoft365Command::Connect { tenant_id, settings, credential };
        self.run::<Microsoft365Connection>(ctx, Some(tenant_id), &tenant_id.to_string(), command).await?;
        Ok(tenant_id)
    }

    async fn generate_client_certificate(&self, tenant_id: TenantId) -> Result<ConnectionCredential, AppError> {
        let params = crate::wsfed::CertificateParams {
            common_name: format!("Tessera Graph client {tenant_id}"),
            not_before: Utc::now() - TimeDelta::minutes(5),
            validity: TimeDelta::days(CERTIFICATE_DAYS),
            key_size: crate::wsfed::KeySize::Rsa2048,
        };
        let internal = |e: crate::wsfed::WsFedError| AppError::Internal(e.to_string());
        // RSA key generation takes a while: off the async threads.
        let credential = tokio::task::spawn_blocking(move || crate::wsfed::SigningCredential::generate(&params))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(internal)?;
        let pem = credential.private_key_pkcs8_pem().map_err(internal)?;
        let certificate = credential.certificate();
        Ok(ConnectionCredential::Certificate {
            certificate_pem: certificate.to_pem().map_err(internal)?,
            sha1_thumbprint: certificate.sha1_thumbprint(),
            sha256_thumbprint: certificate.sha256_thumbprint(),
            not_before: certificate.not_before(),
            not_after: certificate.not_after(),
            sealed_private_key: SealedSecret::new(self.crypto.seal(&key_context(tenant_id), pem.expose_secret().as_bytes())),
        })
    }

    pub async fn disconnect_microsoft365(&self, ctx: &RequestContext, tenant: Option<TenantId>) -> Result<TenantId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let tenant_id = scope.tenant_id();
        self.run::<Microsoft365Connection>(ctx, Some(tenant_id), &tenant_id.to_string(), Microsoft365Command::Disconnect).await?;
        Ok(tenant_id)
    }

    /// The tenant's connection with its secret opened, ready for calls.
    pub async fn open_connection(&self, tenant_id: TenantId) -> Result<GraphConnection, AppError> {
        let connection = self.load::<Microsoft365Connection>(&tenant_id.to_string()).await?;
        let (Some(settings), Some(credential)) = (connection.settings, connection.credential) else {
            return Err(AppError::precondition(
                Reason::Microsoft365NotConnected,
                "Microsoft 365 is not connected: run connectMicrosoft365 first",
            ));
        };
        let open = |context: String, sealed: &SealedSecret| -> Result<SecretString, AppError> {
            let bytes = self.crypto.open(&context, sealed.ciphertext()).map_err(|e| AppError::Internal(e.to_string()))?;
            String::from_utf8(bytes)
                .map(SecretString::from)
                .map_err(|_| AppError::Internal("a sealed Graph credential is not UTF-8".into()))
        };
        let credential = match credential {
            ConnectionCredential::ClientSecret { sealed_client_secret } => {
                GraphCredential::Secret(open(secret_context(tenant_id), &sealed_client_secret)?)
            }
            ConnectionCredential::Certificate { certificate_pem, sealed_private_key, .. } => {
                let certificate =
                    crate::wsfed::Certificate::from_pem(certificate_pem.as_bytes()).map_err(|e| AppError::Internal(e.to_string()))?;
                GraphCredential::Certificate {
                    private_key_pem: open(key_context(tenant_id), &sealed_private_key)?,
                    x5t_s256: crate::outbox::graph::x5t_s256(certificate.der()),
                }
            }
        };
        Ok(GraphConnection {
            cache_key: format!("{tenant_id}#{}", connection.generation),
            entra_tenant_id: settings.entra_tenant_id.to_string(),
            client_id: settings.client_id.to_string(),
            login_base_url: settings.login_base_url,
            graph_base_url: settings.graph_base_url,
            credential,
        })
    }

    /// Gets a token, reads the permissions it carries, and asks Graph for the tenant's domains.
    /// The outcome is recorded (`ConnectionTested`) and returned; a refusal by Microsoft is a
    /// finding, not an error of this call.
    pub async fn test_connection(&self, ctx: &RequestContext, tenant: Option<TenantId>) -> Result<ConnectionTestReport, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let tenant_id = scope.tenant_id();
        let connection = self.open_connection(tenant_id).await?;
        let graph = self.graph()?;
        let report = match graph.token(&connection).await {
            Err(e) => ConnectionTestReport {
                succeeded: false,
                granted_permissions: Vec::new(),
                findings: vec![connection_failed("the token endpoint refused the app's credential", &e)],
                error: Some(e.failure),
            },
            Ok(token) => {
                let mut findings: Vec<Finding> = REQUIREMENTS.iter().filter_map(|r| missing(&token.roles, r)).collect();
                let probe = graph.call(&connection, GraphRequest::new(Method::Get, "/domains").query("$select", "id")).await;
                let (succeeded, error) = match probe {
                    Ok(_) => (true, None),
                    // Graph accepted the token but not the call: permissions, already a finding.
                    Err(e) if e.status() == Some(403) => (true, None),
                    Err(e) => {
                        findings.push(connection_failed("Microsoft Graph did not answer the test call", &e));
                        (false, Some(e.failure))
                    }
                };
                ConnectionTestReport { succeeded, granted_permissions: token.roles, findings, error }
            }
        };
        let command = Microsoft365Command::RecordConnectionTest {
            succeeded: report.succeeded,
            granted_permissions: report.granted_permissions.clone(),
            findings: report.findings.clone(),
            error: report.error.clone(),
        };
        self.run::<Microsoft365Connection>(ctx, Some(tenant_id), &tenant_id.to_string(), command).await?;
        Ok(report)
    }

    /// Whether `domain` can be federated through this connection: it must exist in Microsoft
    /// 365, be verified there, not be the default or a `*.onmicrosoft.com` domain, and not be
    /// federated already; the app needs the federation permission. Recorded as
    /// `CompatibilityVerified`.
    pub async fn verify_compatibility(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        domain: &str,
    ) -> Result<CompatibilityReport, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let tenant_id = scope.tenant_id();
        let domain = DomainName::parse(domain)?;
        let connection = self.open_connection(tenant_id).await?;
        let findings = if domain.is_onmicrosoft() {
            // Refused before any call to Microsoft.
            vec![Finding {
                reason: FindingReason::DomainIsOnmicrosoft,
                message: format!("{domain} is a Microsoft-provided *.onmicrosoft.com domain, which can never be federated"),
                permission: None,
            }]
        } else {
            self.domain_findings(&connection, &domain).await?
        };
        let command = Microsoft365Command::RecordCompatibility { domain: domain.clone(), findings: findings.clone() };
        self.run::<Microsoft365Connection>(ctx, Some(tenant_id), &tenant_id.to_string(), command).await?;
        Ok(CompatibilityReport { domain: domain.to_string(), compatible: findings.is_empty(), findings })
    }

    /// `RefreshLicenses`: reads `subscribedSkus` and records it (`SubscribedSkusRefreshed`), so
    /// grants can be checked for units left before any call.
    pub async fn refresh_licenses(&self, ctx: &RequestContext, tenant: Option<TenantId>) -> Result<Vec<SubscribedSku>, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let tenant_id = scope.tenant_id();
        let connection = self.open_connection(tenant_id).await?;
        let request = GraphRequest::new(Method::Get, "/subscribedSkus").query("$select", "skuId,skuPartNumber,prepaidUnits,consumedUnits");
        let body = self.graph()?.call(&connection, request).await.map_err(|e| {
            AppError::precondition(
                Reason::GraphCallFailed,
                format!(
                    "Microsoft Graph did not list the subscribed licenses: {} {}{}",
                    e.failure.code,
                    e.failure.message,
                    e.failure.request_id.map(|id| format!(" (request-id {id})")).unwrap_or_default()
                ),
            )
        })?;
        let skus: Vec<SubscribedSku> = body
            .body
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|sku| {
                Some(SubscribedSku {
                    sku_id: sku["skuId"].as_str()?.to_ascii_lowercase(),
                    sku_part_number: sku["skuPartNumber"].as_str().unwrap_or_default().to_owned(),
                    enabled: sku["prepaidUnits"]["enabled"].as_i64().unwrap_or(0),
                    consumed: sku["consumedUnits"].as_i64().unwrap_or(0),
                })
            })
            .collect();
        let command = Microsoft365Command::RecordSubscribedSkus { skus: skus.clone() };
        self.run::<Microsoft365Connection>(ctx, Some(tenant_id), &tenant_id.to_string(), command).await?;
        Ok(skus)
    }

    async fn domain_findings(&self, connection: &GraphConnection, domain: &DomainName) -> Result<Vec<Finding>, AppError> {
        let graph = self.graph()?;
        let token = match graph.token(connection).await {
            Ok(token) => token,
            Err(e) => return Ok(vec![connection_failed("the token endpoint refused the app's credential", &e)]),
        };
        let mut findings = Vec::new();
        let request = GraphRequest::new(Method::Get, format!("/domains/{}", domain.as_str()))
            .query("$select", "id,isVerified,isDefault,authenticationType");
        match graph.call(connection, request).await {
            Ok(response) => findings.extend(domain_state(domain, &response.body)),
            Err(e) if e.status() == Some(404) => findings.push(Finding {
                reason: FindingReason::DomainNotInMicrosoft365,
                message: format!("{domain} is not a domain of the Microsoft 365 tenant; add and verify it there first"),
                permission: None,
            }),
            Err(e) if e.status() == Some(403) => {
                let read = &REQUIREMENTS[0];
                findings.push(missing(&[], read).unwrap_or_else(|| connection_failed("Graph refused to read the domain", &e)));
            }
            Err(e) => findings.push(connection_failed("Microsoft Graph did not answer", &e)),
        }
        findings.extend(missing(&token.roles, &REQUIREMENTS[1]));
        Ok(findings)
    }
}

/// The findings a domain's Graph representation gives, in the order an admin fixes them.
fn domain_state(domain: &DomainName, body: &Value) -> Vec<Finding> {
    let finding = |reason, message: String| Finding { reason, message, permission: None };
    let mut findings = Vec::new();
    if body["isVerified"].as_bool() != Some(true) {
        findings.push(finding(
            FindingReason::DomainNotVerifiedInMicrosoft365,
            format!("{domain} is not verified in Microsoft 365; verify it in the Microsoft 365 admin center first"),
        ));
    }
    if body["isDefault"].as_bool() == Some(true) {
        findings.push(finding(
            FindingReason::DomainIsDefault,
            format!(
                "{domain} is the Microsoft 365 default domain, which cannot be federated; make the .onmicrosoft.com domain the default"
            ),
        ));
    }
    if body["authenticationType"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("Federated")) {
        findings.push(finding(FindingReason::AlreadyFederated, format!("{domain} is already federated in Microsoft 365")));
    }
    findings
}

fn connection_failed(what: &str, error: &GraphError) -> Finding {
    let request = error.failure.request_id.as_deref().map(|id| format!(" (request-id {id})")).unwrap_or_default();
    Finding {
        reason: FindingReason::ConnectionFailed,
        message: format!("{what}: {} {}{request}", error.failure.code, error.failure.message),
        permission: None,
    }
}
