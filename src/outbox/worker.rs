//! The workers: each claims one due task at a time, runs it against Graph, and records the
//! outcome as an event. They stop between tasks when the server shuts down.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::batching::Coalescer;
use super::claim::{self, Claimed};
use super::claim_batch;
use super::execute::Executor;
use super::graph::batch::MAX_BATCH;
use super::{OutboxSettings, backoff};
use crate::app::graph::{GraphApi, GraphError};
use crate::app::{AppError, Tessera};
use crate::domain::provisioning::{AttemptOutcome, TaskKind};
use crate::domain::values::{GroupId, TenantId, UserId};

/// Spawns `settings.workers` workers; they return when `shutdown` fires (after finishing the
/// task in hand).
pub fn spawn(app: Arc<Tessera>, settings: OutboxSettings, shutdown: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    let instance = uuid::Uuid::new_v4().simple().to_string();
    (0..settings.workers)
        .map(|n| {
            let worker = Worker { app: app.clone(), settings: settings.clone(), name: format!("{}-{n}", &instance[..12]) };
            let shutdown = shutdown.clone();
            tokio::spawn(async move { worker.run(shutdown).await })
        })
        .collect()
}

struct Worker {
    app: Arc<Tessera>,
    settings: OutboxSettings,
    name: String,
}

impl Worker {
    async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let claimed = if self.settings.batch {
                claim_batch::claim_many(self.app.db(), &self.name, self.settings.lease, MAX_BATCH).await
            } else {
                claim::claim(self.app.db(), &self.name, self.settings.lease).await.map(|task| task.into_iter().collect())
            };
            let pause = match claimed {
                Ok(tasks) if !tasks.is_empty() => {
                    failures = 0;
                    self.handle_all(tasks).await;
                    continue;
                }
                Ok(_) => self.settings.poll_interval,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::error!(worker = %self.name, %error, "claiming a provisioning task failed");
                    self.settings.poll_interval.saturating_mul(failures.min(20))
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Runs claimed tasks; several at once share their Graph round trips through `$batch`.
    async fn handle_all(&self, tasks: Vec<Claimed>) {
        let shared = match self.app.graph() {
            Ok(graph) if tasks.len() > 1 => graph,
            _ => {
                for task in &tasks {
                    self.handle(task, None).await;
                }
                return;
            }
        };
        let coalescer = Coalescer::new(shared, tasks.len());
        let runs = tasks.iter().map(|task| async {
            self.handle(task, Some(&coalescer)).await;
            coalescer.leave();
        });
        futures::future::join(futures::future::join_all(runs), coalescer.drive()).await;
    }

    #[tracing::instrument(skip_all, fields(tenant = %task.tenant_id, task = %task.task_id, kind = %task.kind))]
    async fn handle(&self, task: &Claimed, graph: Option<&dyn GraphApi>) {
        let outcome = match self.attempt(task, graph).await {
            Ok(outcome) => outcome,
            Err(error) => {
                // Tessera's own trouble (database, decryption), not Microsoft's: no attempt was
                // made, so none is recorded; the task goes back in line.
                tracing::error!(%error, "could not attempt a provisioning task");
                if let Err(error) = claim::release(self.app.db(), task, &self.name).await {
                    tracing::error!(%error, "could not release a provisioning task; its lease will expire");
                }
                return;
            }
        };
        let Ok(tenant_id) = TenantId::parse(&task.tenant_id) else { return };
        if let Err(error) =
            self.app.record_attempt(tenant_id, &task.task_id, &task.kind, &task.target, task.user_id.as_deref(), outcome).await
        {
            tracing::error!(%error, "could not record a provisioning attempt; its lease will expire and it will run again");
        }
    }

    async fn attempt(&self, task: &Claimed, graph: Option<&dyn GraphApi>) -> Result<AttemptOutcome, AppError> {
        let tenant_id = TenantId::parse(&task.tenant_id)?;
        let result = match TaskKind::parse(&task.kind) {
            None => Err(GraphError::local("UNKNOWN_TASK", format!("unknown task kind {}", task.kind))),
            Some(kind) => self.push(task, tenant_id, kind, graph).await?,
        };
        Ok(match result {
            Ok(done) => {
                tracing::info!(detail = %done.detail, "provisioning task succeeded");
                AttemptOutcome::Succeeded { graph_object_id: done.graph_object_id, detail: done.detail }
            }
            Err(error) => {
                let attempt = u32::try_from(task.round_attempts).unwrap_or(u32::MAX).saturating_add(1);
                // Throttled (429 with Retry-After): wait what Microsoft asked and try again, as
                // long as it keeps asking; throttling is Microsoft pacing us, not the task
                // failing, so it neither grows the wait nor gives the task up. The attempts
                // still count: after many 429s, the next failure of another kind ends the round.
                let throttled = match error.retry_after {
                    Some(wait) if error.status() == Some(429) && error.is_retryable() => Some(wait),
                    _ => None,
                };
                if let Some(wait) = throttled {
                    let delay = backoff::throttled(wait);
                    tracing::warn!(%error, attempt, delay_ms = delay.as_millis() as u64, "provisioning attempt throttled; will retry");
                    let retry_at = chrono::Utc::now() + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::MAX);
                    AttemptOutcome::Retrying { error: error.failure, retry_at }
                } else if error.is_retryable() && attempt < self.settings.max_attempts {
                    let delay = backoff::delay(attempt, self.settings.backoff_base, self.settings.backoff_max, error.retry_after);
                    tracing::warn!(%error, attempt, delay_ms = delay.as_millis() as u64, "provisioning attempt failed; will retry");
                    let retry_at = chrono::Utc::now() + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::MAX);
                    AttemptOutcome::Retrying { error: error.failure, retry_at }
                } else {
                    tracing::warn!(%error, attempt, "provisioning task failed");
                    AttemptOutcome::Failed { error: error.failure }
                }
            }
        })
    }

    /// The Graph side of a task; the outer error is Tessera's own failure.
    async fn push(
        &self,
        task: &Claimed,
        tenant_id: TenantId,
        kind: TaskKind,
        batched: Option<&dyn GraphApi>,
    ) -> Result<Result<super::execute::Done, GraphError>, AppError> {
        let connection = match self.app.open_connection(tenant_id).await {
            Ok(connection) => connection,
            Err(AppError::PreconditionFailed { message, .. }) => return Ok(Err(GraphError::local("MICROSOFT365_NOT_CONNECTED", message))),
            Err(e) => return Err(e),
        };
        if kind == TaskKind::UpdateFederation {
            let Some(domain) = task.target.strip_prefix("domain:") else {
                return Ok(Err(GraphError::local("UNKNOWN_TARGET", format!("task target {} is not a domain", task.target))));
            };
            let pushed = self.app.push_signing_certificates(tenant_id, &connection, domain).await?;
            return Ok(pushed.map(|detail| super::execute::Done { graph_object_id: None, detail }));
        }
        if kind.is_group_task() {
            let Some(group_id) = task.target.strip_prefix("group:") else {
                return Ok(Err(GraphError::local("UNKNOWN_TARGET", format!("task target {} is not a group", task.target))));
            };
            let group = self.app.group_state(tenant_id, GroupId::parse(group_id)?).await?;
            let group_object_id = claim::group_object_id(self.app.db(), &task.tenant_id, group_id).await?;
            let shared = self.app.graph()?;
            let graph = batched.unwrap_or(shared.as_ref());
            let executor = super::groups::GroupExecutor { graph, connection: &connection, group_object_id };
            return Ok(executor.run(task, kind, &group, group_id).await);
        }
        let user_id = task.user_id.as_deref().map(UserId::parse).transpose()?;
        let Some(user_id) = user_id else {
            return Ok(Err(GraphError::local("UNKNOWN_TARGET", format!("task target {} is not a user", task.target))));
        };
        let user = self.app.user_state(tenant_id, user_id).await?;
        let shared = self.app.graph()?;
        let executor = Executor { graph: batched.unwrap_or(shared.as_ref()), connection: &connection };
        Ok(executor.run(task, kind, &user).await)
    }
}
