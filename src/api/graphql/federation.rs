//! GraphQL types of federation through Graph: the MFA behaviour, previews of Graph requests,
//! the recorded failure, and the PowerShell of manual mode.

use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};

use super::microsoft365::{GraphError, graph_error_json};
use super::query::tenant_arg;
use super::types::{OrGraphql, app, caller};
use crate::app::{self as use_cases, FederationAction as Action, ScriptFlavor};

/// Graph's `federatedIdpMfaBehavior`: what Entra does with Tessera's MFA claim.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
#[graphql(remote = "use_cases::MfaBehavior")]
#[allow(clippy::enum_variant_names)] // Graph's own member names
pub enum FederatedIdpMfaBehavior {
    /// Accept Tessera's MFA; Entra asks for it itself when Tessera did not do it (default).
    #[default]
    AcceptIfMfaDoneByFederatedIdp,
    EnforceMfaByFederatedIdp,
    RejectMfaByFederatedIdp,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "use_cases::FederationAction")]
pub enum FederationAction {
    Federate,
    Defederate,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "use_cases::ScriptFlavor")]
pub enum PowerShellFlavor {
    /// Microsoft Graph PowerShell.
    GraphPowershell,
    /// The legacy MSOnline module (old tenants).
    Msonline,
}

/// A Graph request exactly as Tessera would send it (plus the bearer token).
#[derive(SimpleObject)]
pub struct PlannedGraphRequest {
    pub method: String,
    pub url: String,
    pub body: Option<Json<serde_json::Value>>,
}

pub struct FederationPreview(pub use_cases::FederationPreview);

/// What a federation mutation would do; nothing was sent or recorded.
#[Object]
impl FederationPreview {
    async fn requests(&self) -> Vec<PlannedGraphRequest> {
        self.0
            .requests
            .iter()
            .map(|r| PlannedGraphRequest { method: r.method.to_owned(), url: r.url.clone(), body: r.body.clone().map(Json) })
            .collect()
    }
    /// Users of the domain it affects (defederation: they will need cloud passwords).
    async fn affected_users(&self) -> &[String] {
        &self.0.affected_users
    }
}

/// Why the last federation change did not happen.
#[derive(SimpleObject)]
pub struct FederationError {
    pub reason: String,
    pub error: Option<GraphError>,
}

impl FederationError {
    pub fn parse(text: Option<&str>) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(text?).ok()?;
        let error = value.get("error").filter(|e| !e.is_null()).map(ToString::to_string);
        Some(Self { reason: value["reason"].as_str().unwrap_or_default().to_owned(), error: graph_error_json(error.as_deref()) })
    }
}

/// The PowerShell that federates the domain with Tessera, or reverts it to managed.
pub async fn script(
    ctx: &Context<'_>,
    domain: &str,
    action: FederationAction,
    flavor: PowerShellFlavor,
    mfa: FederatedIdpMfaBehavior,
    tenant_id: Option<&ID>,
) -> async_graphql::Result<String> {
    let caller = caller(ctx)?;
    let tenant = tenant_arg(tenant_id).gql(caller)?;
    let action: Action = action.into();
    let flavor: ScriptFlavor = flavor.into();
    app(ctx).federation_script(caller, tenant, domain, action, flavor, mfa.into()).await.gql(caller)
}
