//! Previews of deprovisioning, the destructive side of the outbox: what unassigning or
//! deleting a user would do in Microsoft 365 (the tenant's deprovision action, when, and the
//! exact Graph requests), and the deletions waiting for their grace period to end. A preview
//! reads only; nothing is recorded or sent.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::federation::PlannedRequest;
use super::{AppError, RequestContext, Tessera};
use crate::domain::tenant::DeprovisionAction;
use crate::domain::user::User;
use crate::domain::values::{TenantId, UserId};
use crate::outbox::execute::segment;
use crate::read::deprovisioning as read;

/// What would make a user leave Microsoft 365.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeprovisionCause {
    Unassign,
    Delete,
}

/// What unassigning (or deleting) a user would do in Microsoft 365.
#[derive(Debug, Clone)]
pub struct DeprovisionPreview {
    pub user_id: UserId,
    pub user_principal_name: Option<String>,
    /// The action that would apply: the tenant's deprovision action, or NONE when nothing would.
    pub action: DeprovisionAction,
    /// DELETE: when the request would be sent (the grace period from now).
    pub due_at: Option<DateTime<Utc>>,
    /// The user's Microsoft 365 object, if Tessera provisioned or matched one.
    pub graph_object_id: Option<String>,
    /// Exactly what would be sent (without the token), in order.
    pub requests: Vec<PlannedRequest>,
    /// Why, in words (what happens, or why nothing does).
    pub explanation: String,
}

/// A Microsoft 365 user the DELETE deprovision action will delete when its grace period ends.
#[derive(Debug, Clone)]
pub struct PendingDeletion {
    pub task_id: String,
    pub user_id: String,
    pub user_principal_name: Option<String>,
    pub graph_object_id: Option<String>,
    pub unassigned_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// `None` when the user has no Microsoft 365 object (the task will send nothing).
    pub request: Option<PlannedRequest>,
}

fn user_url(base: &str, object_id: &str) -> String {
    format!("{base}/v1.0/users/{}", segment(object_id))
}

/// The requests the outbox sends for a deprovision action (`outbox::execute`).
fn requests(action: DeprovisionAction, base: &str, object_id: &str) -> Vec<PlannedRequest> {
    match action {
        DeprovisionAction::BlockSignIn => {
            vec![PlannedRequest { method: "PATCH", url: user_url(base, object_id), body: Some(json!({ "accountEnabled": false })) }]
        }
        DeprovisionAction::Delete => vec![PlannedRequest { method: "DELETE", url: user_url(base, object_id), body: None }],
        DeprovisionAction::None => Vec::new(),
    }
}

fn action_named(text: &str) -> DeprovisionAction {
    match text {
        "DELETE" => DeprovisionAction::Delete,
        "NONE" => DeprovisionAction::None,
        _ => DeprovisionAction::BlockSignIn,
    }
}

impl Tessera {
    /// What unassigning (`Unassign`) or deleting (`Delete`) the user would do in Microsoft 365,
    /// as the outbox would carry it out now. Changes nothing.
    pub async fn preview_deprovisioning(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        user_id: UserId,
        cause: DeprovisionCause,
    ) -> Result<DeprovisionPreview, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let tenant_id = scope.tenant_id();
        let user = self.load::<User>(&format!("{tenant_id}/{user_id}")).await?;
        if !user.exists() {
            return Err(AppError::NotFound("user".into()));
        }
        let read_scope = ctx.read_scope(Some(tenant_id))?;
        let outbox = read::tenant(self.db(), &read_scope).await?;
        let object = read::user(self.db(), &read_scope, &user_id.to_string()).await?;
        let graph_object_id = object.as_ref().and_then(|o| o.graph_object_id.clone());
        let (connected, tenant_action, grace) = outbox.as_ref().map_or((false, DeprovisionAction::BlockSignIn, 72), |t| {
            (t.connected, action_named(&t.deprovision_action), t.delete_grace_hours)
        });
        let mut preview = DeprovisionPreview {
            user_id,
            user_principal_name: user.upn.as_ref().map(ToString::to_string),
            action: DeprovisionAction::None,
            due_at: None,
            graph_object_id: graph_object_id.clone(),
            requests: Vec::new(),
            explanation: String::new(),
        };
        let what = if cause == DeprovisionCause::Delete { "deleting" } else { "unassigning" };
        if !user.assigned {
            preview.explanation = format!("the user is not assigned to Microsoft 365: {what} it changes nothing there");
            return Ok(preview);
        }
        preview.action = tenant_action;
        if tenant_action == DeprovisionAction::None {
            preview.explanation = "the tenant's deprovision action is NONE: the Microsoft 365 account is left as it is".into();
            return Ok(preview);
        }
        if tenant_action == DeprovisionAction::Delete {
            preview.due_at = Some(Utc::now() + TimeDelta::hours(grace));
        }
        let Some(object_id) = graph_object_id.as_deref() else {
            preview.explanation = "the user has no Microsoft 365 account from Tessera yet (never provisioned, or its provisioning \
                                   is pending or failed): nothing would be sent"
                .into();
            return Ok(preview);
        };
        preview.requests = requests(tenant_action, &self.graph_base(tenant_id).await?, object_id);
        preview.explanation = match (tenant_action, connected) {
            (DeprovisionAction::Delete, true) => format!(
                "the Microsoft 365 user is deleted after the grace period of {grace} hour(s); assigning the user again before then cancels it"
            ),
            (_, true) => "sign-in to Microsoft 365 is blocked at once".into(),
            (_, false) => "Microsoft 365 is not connected: this is sent when it is connected again".into(),
        };
        Ok(preview)
    }

    /// The Microsoft 365 users the DELETE deprovision action will delete, the soonest first,
    /// with the exact request each will send. Changes nothing.
    pub async fn pending_deletions(&self, ctx: &RequestContext, tenant: Option<TenantId>) -> Result<Vec<PendingDeletion>, AppError> {
        let scope = ctx.read_scope(tenant)?;
        let tenant_id = scope.tenant_id();
        let base = self.graph_base(tenant_id).await?;
        let rows = read::pending_deletions(self.db(), &scope).await?;
        Ok(rows
            .into_iter()
            .map(|row| PendingDeletion {
                request: row.graph_object_id.as_deref().map(|id| PlannedRequest { method: "DELETE", url: user_url(&base, id), body: None }),
                task_id: row.task_id,
                user_id: row.user_id,
                user_principal_name: row.upn,
                graph_object_id: row.graph_object_id,
                unassigned_at: row.created_at,
                due_at: DateTime::from_timestamp_millis(row.next_attempt_at).unwrap_or(row.created_at),
            })
            .collect())
    }
}
