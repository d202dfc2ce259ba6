//! GraphQL types of deprovisioning previews: what unassigning or deleting a user would do in
//! Microsoft 365, and the deletions waiting for their grace period, with the exact Graph
//! requests (the style of federation previews).

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use super::federation::PlannedGraphRequest;
use super::query::tenant_arg;
use super::types::{DeprovisionActionKind, OrGraphql, app, caller};
use crate::app::AppError;
use crate::app::{self as use_cases, PlannedRequest};
use crate::domain::values::UserId;

/// What would take a user out of Microsoft 365.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
#[graphql(remote = "use_cases::DeprovisionCause")]
pub enum DeprovisionCause {
    /// `unassignUser`.
    #[default]
    Unassign,
    /// `deleteUser`.
    Delete,
}

fn planned(r: &PlannedRequest) -> PlannedGraphRequest {
    PlannedGraphRequest { method: r.method.to_owned(), url: r.url.clone(), body: r.body.clone().map(async_graphql::Json) }
}

pub struct DeprovisioningPreview(pub use_cases::DeprovisionPreview);

/// What unassigning or deleting the user would do in Microsoft 365; nothing was changed or sent.
#[Object]
impl DeprovisioningPreview {
    /// Who would be affected.
    async fn user_id(&self) -> ID {
        ID(self.0.user_id.to_string())
    }
    async fn user_principal_name(&self) -> Option<&str> {
        self.0.user_principal_name.as_deref()
    }
    /// The action that would apply: the tenant's deprovision action, or NONE when nothing would
    /// happen in Microsoft 365 (the user is not assigned, or the action is NONE).
    async fn action(&self) -> DeprovisionActionKind {
        self.0.action.into()
    }
    /// DELETE: when the request would be sent, at the end of the grace period counted from now.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// The user's Microsoft 365 object id.
    async fn graph_object_id(&self) -> Option<&str> {
        self.0.graph_object_id.as_deref()
    }
    /// Exactly what would be sent to Graph (plus the bearer token), in order.
    async fn requests(&self) -> Vec<PlannedGraphRequest> {
        self.0.requests.iter().map(planned).collect()
    }
    /// What happens, or why nothing does, in words.
    async fn explanation(&self) -> &str {
        &self.0.explanation
    }
}

pub struct PendingDeletion(pub use_cases::PendingDeletion);

/// A Microsoft 365 user the DELETE deprovision action will delete when its grace period ends
/// (assigning the user again before then cancels it).
#[Object]
impl PendingDeletion {
    /// The DELETE_USER provisioning task (`cancelTask` keeps the account).
    async fn task_id(&self) -> ID {
        ID(self.0.task_id.clone())
    }
    async fn user_id(&self) -> ID {
        ID(self.0.user_id.clone())
    }
    async fn user_principal_name(&self) -> Option<&str> {
        self.0.user_principal_name.as_deref()
    }
    async fn graph_object_id(&self) -> Option<&str> {
        self.0.graph_object_id.as_deref()
    }
    async fn unassigned_at(&self) -> DateTime<Utc> {
        self.0.unassigned_at
    }
    /// When the request is sent (a retry's time after a failed attempt).
    async fn due_at(&self) -> DateTime<Utc> {
        self.0.due_at
    }
    /// The exact request; null when the user has no Microsoft 365 object (nothing is sent).
    async fn request(&self) -> Option<PlannedGraphRequest> {
        self.0.request.as_ref().map(planned)
    }
}

/// `deprovisioningPreview(userId, cause)`.
pub async fn preview(
    ctx: &Context<'_>,
    id: &ID,
    cause: DeprovisionCause,
    tenant_id: Option<&ID>,
) -> async_graphql::Result<DeprovisioningPreview> {
    let caller = caller(ctx)?;
    let tenant = tenant_arg(tenant_id).gql(caller)?;
    let user = UserId::parse(id).map_err(AppError::from).gql(caller)?;
    Ok(DeprovisioningPreview(app(ctx).preview_deprovisioning(caller, tenant, user, cause.into()).await.gql(caller)?))
}

/// `pendingDeletions`.
pub async fn pending(ctx: &Context<'_>, tenant_id: Option<&ID>) -> async_graphql::Result<Vec<PendingDeletion>> {
    let caller = caller(ctx)?;
    let tenant = tenant_arg(tenant_id).gql(caller)?;
    Ok(app(ctx).pending_deletions(caller, tenant).await.gql(caller)?.into_iter().map(PendingDeletion).collect())
}
