//! ExportUsers: every assigned user without a Microsoft 365 object yet is handed to the outbox
//! (one PROVISION_USER task each, derived by the outbox projection from `JobUsersQueued`), whose
//! workers push them (in `$batch` requests, with retries, lookups before re-creating); the job
//! follows those tasks and records each user's outcome as it ends.

use std::collections::{HashMap, HashSet};

use chrono::TimeDelta;
use serde_json::Value;

use super::worker::Worker;
use crate::app::{AppError, ItemReport, RequestContext, RunningJob};
use crate::args;
use crate::domain::job::{ItemOutcome, export_task_id};
use crate::domain::values::UserId;

/// Users per `JobUsersQueued` event.
const QUEUE_CHUNK: usize = 1_000;

#[derive(sqlx::FromRow)]
struct ProvisionTask {
    task_id: String,
    user_id: Option<String>,
    status: String,
}

#[derive(sqlx::FromRow)]
struct Candidate {
    user_id: String,
}

#[derive(sqlx::FromRow)]
struct Ended {
    task_id: String,
    user_id: Option<String>,
    status: String,
    last_error: Option<String>,
    detail: Option<String>,
    graph_object_id: Option<String>,
    upn: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Key {
    item_key: String,
}

fn outcome(row: &Ended) -> ItemReport {
    let user = row.user_id.clone().unwrap_or_default();
    let upn = row.upn.clone().unwrap_or_default();
    let user_id = UserId::parse(&user).ok();
    match row.status.as_str() {
        "SUCCEEDED" if row.graph_object_id.is_some() => {
            let created = row.detail.as_deref().is_some_and(|d| d.starts_with("created"));
            ItemReport {
                key: user,
                user_id,
                graph_object_id: row.graph_object_id.clone(),
                upn,
                outcome: if created { ItemOutcome::Created } else { ItemOutcome::Matched },
                error_code: None,
                error_message: None,
            }
        }
        "SUCCEEDED" => ItemReport::failed(user, upn, user_id, "NOT_PROVISIONED", row.detail.clone().unwrap_or_default()),
        "CANCELLED" => ItemReport::failed(user, upn, user_id, "CANCELLED", "the provisioning task was cancelled"),
        _ => {
            let error: Value = row.last_error.as_deref().and_then(|e| serde_json::from_str(e).ok()).unwrap_or(Value::Null);
            ItemReport::failed(
                user,
                upn,
                user_id,
                error["code"].as_str().unwrap_or("FAILED"),
                error["message"].as_str().unwrap_or("the provisioning task failed"),
            )
        }
    }
}

impl Worker {
    async fn provision_tasks(&self, tenant: &str) -> Result<Vec<ProvisionTask>, AppError> {
        let mut tx = self.app.db().begin_system().await?;
        let rows: Vec<ProvisionTask> = tx
            .fetch_all(
                "SELECT task_id, user_id, status FROM outbox_tasks WHERE tenant_id = $1 AND kind = 'PROVISION_USER' ORDER BY seq",
                args![tenant],
            )
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// `Ok(Some(reason))` when the job cannot go on; `Err` for Tessera's own trouble.
    pub(super) async fn export(&self, ctx: &RequestContext, job: &RunningJob) -> Result<Option<String>, AppError> {
        let tenant = job.tenant_id.to_string();
        if let Err(AppError::PreconditionFailed { message, .. }) = self.app.open_connection(job.tenant_id).await {
            return Ok(Some(message));
        }
        let tasks = self.provision_tasks(&tenant).await?;
        // task id → user id: this job's tasks (queued by an earlier run of it, if resumed)…
        let mut tracked: HashMap<String, String> = tasks
            .iter()
            .filter_map(|t| t.user_id.as_ref().map(|u| (t.task_id.clone(), u.clone())))
            .filter(|(task, user)| *task == export_task_id(&job.job_id, user))
            .collect();
        let mut latest_open: HashMap<String, (String, String)> = HashMap::new();
        for t in &tasks {
            if let Some(user) = &t.user_id {
                if t.status == "PENDING" || t.status == "FAILED" {
                    latest_open.insert(user.clone(), (t.task_id.clone(), t.status.clone()));
                } else {
                    latest_open.remove(user);
                }
            }
        }
        let mut tx = self.app.db().begin_system().await?;
        let candidates: Vec<Candidate> = tx
            .fetch_all(
                "SELECT user_id FROM outbox_users WHERE tenant_id = $1 AND assigned = $2 AND graph_object_id IS NULL ORDER BY user_id",
                args![tenant.clone(), true],
            )
            .await?;
        tx.commit().await?;
        // …plus every user not yet provisioned: already on its way (a PENDING task), failed
        // before (retried), or not queued at all (queued now).
        let followed: HashSet<String> = tracked.values().cloned().collect();
        let mut queue = Vec::new();
        let mut retry = Vec::new();
        for Candidate { user_id } in candidates {
            if followed.contains(&user_id) {
                continue;
            }
            match latest_open.get(&user_id) {
                Some((task, status)) => {
                    if status == "FAILED" {
                        retry.push(task.clone());
                    }
                    tracked.insert(task.clone(), user_id);
                }
                None => {
                    tracked.insert(export_task_id(&job.job_id, &user_id), user_id.clone());
                    queue.push(UserId::parse(&user_id)?);
                }
            }
        }
        self.app.job_count_total(ctx, job, tracked.len() as u64).await?;
        for task in retry {
            match self.app.retry_task(ctx, Some(job.tenant_id), &task).await {
                Ok(_) | Err(AppError::PreconditionFailed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        for chunk in queue.chunks(QUEUE_CHUNK) {
            self.renew(job).await;
            self.app.job_queue_export(ctx, job, chunk.to_vec()).await?;
        }

        let mut tx = self.app.db().begin_system().await?;
        let done: Vec<Key> = tx
            .fetch_all("SELECT item_key FROM job_items WHERE tenant_id = $1 AND job_id = $2", args![tenant.clone(), job.job_id.to_string()])
            .await?;
        tx.commit().await?;
        let mut reported: HashSet<String> = done.into_iter().map(|k| k.item_key).collect();
        // A user unassigned meanwhile (or a disconnected tenant) got no task: nothing will come.
        let existing: HashSet<String> = self.provision_tasks(&tenant).await?.into_iter().map(|t| t.task_id).collect();
        for (task, user) in &tracked {
            if !existing.contains(task) && !reported.contains(user) {
                let item = ItemReport::failed(
                    user.clone(),
                    String::new(),
                    UserId::parse(user).ok(),
                    "NOT_QUEUED",
                    "the user was no longer assigned, or Microsoft 365 no longer connected, when the export queued it",
                );
                self.app.job_record_item(ctx, job, item).await?;
                reported.insert(user.clone());
            }
        }
        let since = job.started_at - TimeDelta::minutes(5);
        while reported.len() < tracked.len() {
            self.renew(job).await;
            let mut tx = self.app.db().begin_system().await?;
            let ended: Vec<Ended> = tx
                .fetch_all(
                    "SELECT t.task_id, t.user_id, t.status, t.last_error, t.detail, t.graph_object_id, u.upn
                       FROM outbox_tasks t LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.user_id = t.user_id
                      WHERE t.tenant_id = $1 AND t.kind = 'PROVISION_USER' AND t.status <> 'PENDING' AND t.updated_at >= $2",
                    args![tenant.clone(), since],
                )
                .await?;
            tx.commit().await?;
            for row in &ended {
                let Some(user) = tracked.get(&row.task_id) else { continue };
                if reported.contains(user) {
                    continue;
                }
                self.app.job_record_item(ctx, job, outcome(row)).await?;
                reported.insert(user.clone());
            }
            if reported.len() < tracked.len() {
                tokio::time::sleep(self.pause()).await;
            }
        }
        Ok(None)
    }
}
