//! The `jobs` read model: import/export jobs with their progress counts, and the per-user
//! outcomes that make up each job's report.

use cqrs_es::Aggregate;

use super::{FORGOTTEN, Projection, ProjectionError, decode, local_id, tenant_of};
use crate::args;
use crate::db::Tx;
use crate::domain::job::{JobEnd, JobEvent, JobItem, JobItemEvent, TenantJobs};
use crate::domain::user::{User, UserEvent};
use crate::eventstore::StoredEvent;

pub struct JobsProjection;

#[derive(sqlx::FromRow)]
struct Previous {
    outcome: String,
}

fn counter(outcome: &str) -> Option<&'static str> {
    match outcome {
        "CREATED" => Some("created"),
        "MATCHED" => Some("matched"),
        "UPDATED" => Some("updated"),
        "FAILED" => Some("failed"),
        _ => None,
    }
}

async fn apply_job(tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
    let tenant = tenant_of(event)?;
    let at = event.occurred_at();
    match decode::<JobEvent>(event)? {
        JobEvent::JobStarted { job_id, kind, domains } => {
            let actor = event.actor().unwrap_or_default().to_owned();
            tx.execute(
                "INSERT INTO jobs (tenant_id, job_id, kind, status, domains, started_by, started_at)
                 VALUES ($1, $2, $3, 'RUNNING', $4, $5, $6) ON CONFLICT (tenant_id, job_id) DO NOTHING",
                args![tenant, job_id.to_string(), kind.as_str(), serde_json::to_string(&domains).unwrap_or_default(), actor, at],
            )
            .await?;
        }
        JobEvent::JobTotalCounted { job_id, total } => {
            tx.execute(
                "UPDATE jobs SET total = $1 WHERE tenant_id = $2 AND job_id = $3",
                args![i64::try_from(total).unwrap_or(i64::MAX), tenant, job_id.to_string()],
            )
            .await?;
        }
        JobEvent::JobUsersQueued { .. } => {}
        JobEvent::JobFinished { job_id, end, error } => {
            let status = match end {
                JobEnd::Completed => "COMPLETED",
                JobEnd::Failed => "FAILED",
            };
            tx.execute(
                "UPDATE jobs SET status = $1, error = $2, finished_at = $3, lease_until = NULL, claimed_by = NULL
                  WHERE tenant_id = $4 AND job_id = $5",
                args![status, error, at, tenant, job_id.to_string()],
            )
            .await?;
        }
    }
    Ok(())
}

async fn apply_item(tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
    let tenant = tenant_of(event)?;
    let key = local_id(event).split_once('/').map_or("", |(_, key)| key).to_owned();
    let JobItemEvent::JobItemRecorded { job_id, user_id, graph_object_id, upn, outcome, error_code, error_message, .. } =
        decode::<JobItemEvent>(event)?;
    let job = job_id.to_string();
    let upn = if upn.is_forgotten() { FORGOTTEN.to_owned() } else { upn.into_value().unwrap_or_default() };
    let error_message = error_message.map(|m| m.text().unwrap_or(FORGOTTEN).to_owned());
    let previous: Option<Previous> = tx
        .fetch_optional(
            "SELECT outcome FROM job_items WHERE tenant_id = $1 AND job_id = $2 AND item_key = $3",
            args![tenant.clone(), job.clone(), key.clone()],
        )
        .await?;
    tx.execute(
        "INSERT INTO job_items (tenant_id, job_id, item_key, user_id, graph_object_id, upn, outcome, error_code, error_message, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant_id, job_id, item_key) DO UPDATE SET user_id = excluded.user_id, graph_object_id = excluded.graph_object_id,
             upn = excluded.upn, outcome = excluded.outcome, error_code = excluded.error_code, error_message = excluded.error_message,
             recorded_at = excluded.recorded_at",
        args![
            tenant.clone(),
            job.clone(),
            key,
            user_id.map(|u| u.to_string()),
            graph_object_id,
            upn,
            outcome.as_str(),
            error_code,
            error_message,
            event.occurred_at()
        ],
    )
    .await?;
    // Column names come from a fixed list, never from input.
    if let Some(column) = previous.as_ref().and_then(|p| counter(&p.outcome)) {
        tx.execute(
            &format!("UPDATE jobs SET {column} = {column} - 1 WHERE tenant_id = $1 AND job_id = $2"),
            args![tenant.clone(), job.clone()],
        )
        .await?;
    }
    if let Some(column) = counter(outcome.as_str()) {
        tx.execute(&format!("UPDATE jobs SET {column} = {column} + 1 WHERE tenant_id = $1 AND job_id = $2"), args![tenant, job]).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl Projection for JobsProjection {
    fn name(&self) -> &'static str {
        "jobs"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["jobs", "job_items"]
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        [TenantJobs::TYPE, JobItem::TYPE, User::TYPE].contains(&aggregate_type)
    }

    fn reads_personal_data(&self) -> bool {
        true
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type == TenantJobs::TYPE {
            return apply_job(tx, event).await;
        }
        if event.aggregate_type == JobItem::TYPE {
            return apply_item(tx, event).await;
        }
        // A forgotten person's UPN, and Graph's messages about them, leave the reports too.
        if event.event_type == "UserForgotten"
            && let UserEvent::UserForgotten { .. } = decode::<UserEvent>(event)?
        {
            tx.execute(
                "UPDATE job_items SET upn = $1, error_message = CASE WHEN error_message IS NULL THEN NULL ELSE $1 END
                  WHERE tenant_id = $2 AND user_id = $3",
                args![FORGOTTEN, tenant_of(event)?, local_id(event).to_owned()],
            )
            .await?;
        }
        Ok(())
    }
}
