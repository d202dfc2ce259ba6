//! What group tasks send to Graph: a Tessera group is a security group in Microsoft 365
//! (`mailEnabled: false`, `securityEnabled: true`, no `groupTypes`), found again by its
//! `mailNickname` (`tessera-{group id}`) when an earlier attempt's answer was lost; members are
//! `members/$ref` of the users' Microsoft 365 objects. Every task pushes the group's current state.

// GraphError carries Microsoft's whole answer, like every Graph call's error here.
#![allow(clippy::result_large_err)]

use serde_json::{Value, json};

use super::claim::Claimed;
use super::execute::Done;
use crate::app::graph::{FailureKind, GraphApi, GraphConnection, GraphError, GraphRequest, Method};
use crate::domain::group::Group;
use crate::domain::provisioning::TaskKind;
use crate::domain::values::UserId;

/// Graph's answer when the member is already there (graph-notes.md §8): the goal is reached.
const ALREADY_MEMBER: &str = "already exist";

pub fn mail_nickname(group_id: &str) -> String {
    format!("tessera-{}", group_id.replace('-', ""))
}

/// A failure that resolves itself (the member's own provisioning is still under way).
fn wait_for(code: &str, message: &str) -> GraphError {
    let mut error = GraphError::local(code, message);
    error.kind = FailureKind::Transient;
    error
}

pub struct GroupExecutor<'a> {
    pub graph: &'a dyn GraphApi,
    pub connection: &'a GraphConnection,
    /// The group's Microsoft 365 object id, once PROVISION_GROUP created or found it.
    pub group_object_id: Option<String>,
}

impl GroupExecutor<'_> {
    async fn call(&self, request: GraphRequest) -> Result<Value, GraphError> {
        Ok(self.graph.call(self.connection, request).await?.body)
    }

    fn group_path(&self) -> Result<String, GraphError> {
        let id = self.group_object_id.as_deref().ok_or_else(|| {
            GraphError::local(
                "GROUP_NOT_PROVISIONED",
                "the group was never created in Microsoft 365; retry or cancel its PROVISION_GROUP task first",
            )
        })?;
        Ok(format!("/groups/{id}"))
    }

    pub async fn run(&self, task: &Claimed, kind: TaskKind, group: &Group, group_id: &str) -> Result<Done, GraphError> {
        let noop = |detail: &str| Ok(Done { graph_object_id: None, detail: detail.to_owned() });
        if !group.exists() && kind != TaskKind::DeleteGroup {
            return noop("the group no longer exists in Tessera; nothing to push");
        }
        let member = task.user_id.as_deref().and_then(|u| UserId::parse(u).ok());
        match kind {
            TaskKind::ProvisionGroup => self.provision(task, group, group_id).await,
            TaskKind::UpdateGroup => {
                let body = json!({"displayName": group.name.as_ref().map(ToString::to_string)});
                self.call(GraphRequest::new(Method::Patch, self.group_path()?).json(body)).await?;
                noop("group renamed")
            }
            TaskKind::AddGroupMember => {
                if member.is_none_or(|m| !group.members.contains(&m)) {
                    return noop("no longer a member; nothing to add");
                }
                let Some(user_object) = task.graph_object_id.as_deref() else {
                    return Err(wait_for(
                        "USER_NOT_PROVISIONED_YET",
                        "the member is not in Microsoft 365 yet (its PROVISION_USER task has not succeeded)",
                    ));
                };
                let reference = format!("{}/v1.0/directoryObjects/{user_object}", self.connection.graph_base_url.trim_end_matches('/'));
                let request =
                    GraphRequest::new(Method::Post, format!("{}/members/$ref", self.group_path()?)).json(json!({"@odata.id": reference}));
                match self.call(request).await {
                    Ok(_) => noop("member added"),
                    Err(e) if e.status() == Some(400) && e.failure.message.contains(ALREADY_MEMBER) => noop("already a member"),
                    Err(e) => Err(e),
                }
            }
            TaskKind::RemoveGroupMember => {
                if member.is_some_and(|m| group.members.contains(&m)) {
                    return noop("a member again; not removed");
                }
                let Some(user_object) = task.graph_object_id.as_deref() else { return noop("the user is not in Microsoft 365") };
                let request = GraphRequest::new(Method::Delete, format!("{}/members/{user_object}/$ref", self.group_path()?));
                match self.call(request).await {
                    Ok(_) => noop("member removed"),
                    Err(e) if e.status() == Some(404) => noop("not a member"),
                    Err(e) => Err(e),
                }
            }
            TaskKind::DeleteGroup => {
                if self.group_object_id.is_none() {
                    return noop("never created in Microsoft 365; nothing to delete");
                }
                match self.call(GraphRequest::new(Method::Delete, self.group_path()?)).await {
                    Ok(_) => noop("group deleted"),
                    Err(e) if e.status() == Some(404) => noop("already deleted"),
                    Err(e) => Err(e),
                }
            }
            _ => Err(GraphError::local("UNKNOWN_TASK", format!("{} is not a group task", kind.as_str()))),
        }
    }

    async fn provision(&self, task: &Claimed, group: &Group, group_id: &str) -> Result<Done, GraphError> {
        let nickname = mail_nickname(group_id);
        if task.attempts > 0 || task.reclaimed || self.group_object_id.is_some() {
            // An earlier attempt may have created it without our seeing the answer.
            let request = GraphRequest::new(Method::Get, "/groups")
                .query("$filter", format!("mailNickname eq '{nickname}'"))
                .query("$select", "id,displayName");
            let found = self.call(request).await?;
            if let Some(id) = found["value"].as_array().and_then(|v| v.first()).and_then(|g| g["id"].as_str()) {
                return Ok(Done { graph_object_id: Some(id.to_owned()), detail: "matched by mailNickname".to_owned() });
            }
        }
        let body = json!({
            "displayName": group.name.as_ref().map(ToString::to_string),
            "mailEnabled": false,
            "mailNickname": nickname,
            "securityEnabled": true,
            "groupTypes": [],
        });
        let created = self.call(GraphRequest::new(Method::Post, "/groups").json(body)).await?;
        let id =
            created["id"].as_str().ok_or_else(|| GraphError::local("INVALID_RESPONSE", "Graph created the group but returned no id"))?;
        Ok(Done { graph_object_id: Some(id.to_owned()), detail: "created".to_owned() })
    }
}
