//! Job workers: each claims one RUNNING job at a time and runs it to its end.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::JobSettings;
use super::claim::{self, ClaimedJob};
use crate::app::{AppError, RunningJob, Tessera};
use crate::domain::job::{JobEnd, JobKind};
use crate::domain::values::TenantId;

pub fn spawn(app: Arc<Tessera>, settings: JobSettings, shutdown: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    let instance = uuid::Uuid::new_v4().simple().to_string();
    (0..settings.workers)
        .map(|n| {
            let worker = Worker { app: app.clone(), settings: settings.clone(), name: format!("job-{}-{n}", &instance[..12]) };
            let shutdown = shutdown.clone();
            tokio::spawn(async move { worker.run(shutdown).await })
        })
        .collect()
}

pub(super) struct Worker {
    pub app: Arc<Tessera>,
    pub settings: JobSettings,
    pub name: String,
}

fn running(claimed: &ClaimedJob) -> Result<RunningJob, AppError> {
    let kind = match claimed.kind.as_str() {
        "IMPORT_USERS" => JobKind::ImportUsers,
        "EXPORT_USERS" => JobKind::ExportUsers,
        other => return Err(AppError::Internal(format!("unknown job kind {other}"))),
    };
    Ok(RunningJob {
        tenant_id: TenantId::parse(&claimed.tenant_id)?,
        job_id: uuid::Uuid::parse_str(&claimed.job_id).map_err(|e| AppError::Internal(e.to_string()))?,
        kind,
        domains: serde_json::from_str(&claimed.domains).unwrap_or_default(),
        started_by: claimed.started_by.clone(),
        started_at: claimed.started_at,
    })
}

impl Worker {
    async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let pause = match claim::claim(self.app.db(), &self.name, self.settings.lease).await {
                Ok(Some(job)) => {
                    failures = 0;
                    // Stopping mid-job leaves it RUNNING: its lease runs out and it is resumed.
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = self.handle(&job) => {}
                    }
                    continue;
                }
                Ok(None) => self.settings.poll_interval,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::error!(worker = %self.name, %error, "claiming a job failed");
                    self.settings.poll_interval.saturating_mul(failures.min(20))
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    #[tracing::instrument(skip_all, fields(tenant = %claimed.tenant_id, job = %claimed.job_id, kind = %claimed.kind))]
    async fn handle(&self, claimed: &ClaimedJob) {
        let job = match running(claimed) {
            Ok(job) => job,
            Err(error) => {
                tracing::error!(%error, "a job row does not parse");
                return;
            }
        };
        let ctx = self.app.job_context(&job);
        let result = match job.kind {
            JobKind::ImportUsers => self.import(&ctx, &job).await,
            JobKind::ExportUsers => self.export(&ctx, &job).await,
        };
        let (end, error) = match result {
            Ok(None) => (JobEnd::Completed, None),
            Ok(Some(reason)) => (JobEnd::Failed, Some(reason)),
            Err(error) => {
                // Tessera's own trouble (database): the job stays RUNNING and is resumed once
                // its lease runs out.
                tracing::error!(%error, "a job step failed; it will be resumed");
                return;
            }
        };
        tracing::info!(?end, "job finished");
        if let Err(error) = self.app.job_finish(&ctx, &job, end, error).await {
            tracing::error!(%error, "could not record the end of a job; it will be resumed");
        }
    }

    pub(super) async fn renew(&self, job: &RunningJob) {
        if let Err(error) =
            claim::renew(self.app.db(), &job.tenant_id.to_string(), &job.job_id.to_string(), &self.name, self.settings.lease).await
        {
            tracing::warn!(%error, "could not renew a job's lease");
        }
    }

    pub(super) fn pause(&self) -> Duration {
        self.settings.poll_interval
    }
}
