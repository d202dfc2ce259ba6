//! ImportUsers: reads every page of the Microsoft 365 users (following `@odata.nextLink`),
//! keeps those of the job's domains, and for each: matches a Tessera user by UPN
//! (case-insensitively), or creates one (assigned, with the user's onPremisesImmutableId when
//! it has a usable one, else a fresh ImmutableID); a Microsoft 365 user without an
//! onPremisesImmutableId gets the Tessera user's by PATCH (20 to a `$batch`).

// Results carry Graph errors, which hold Microsoft's whole answer (as every call's do).
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::worker::Worker;
use crate::app::graph::{GraphApi, GraphConnection, GraphError, GraphRequest, GraphResponse, Method};
use crate::app::{AppError, ItemReport, NewUser, ProfileInput, RequestContext, RunningJob};
use crate::domain::job::ItemOutcome;
use crate::domain::values::{ImmutableId, Upn, UsageLocation, UserId};
use crate::outbox::backoff;

const SELECT: &str = "id,userPrincipalName,onPremisesImmutableId,displayName,givenName,surname,mail,usageLocation";
const CHUNK: usize = 20;

/// One Microsoft 365 user on its way through the import.
struct Entry {
    graph_id: String,
    upn: String,
    user_id: Option<UserId>,
    /// Tessera's ImmutableID for the user, to PATCH when Microsoft 365 has none.
    patch: Option<String>,
    created: bool,
    report: Option<ItemReport>,
}

impl Entry {
    fn fail(&mut self, code: &str, message: impl Into<String>) {
        self.report = Some(ItemReport::failed(self.graph_id.clone(), self.upn.clone(), self.user_id, code, message));
    }
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The request for a next page: the link's path and query, unchanged (graph-notes.md §6).
#[allow(clippy::result_large_err)] // a Graph error, like every call's
fn next_page(link: &str, connection: &GraphConnection) -> Result<GraphRequest, GraphError> {
    let root = format!("{}/v1.0", connection.graph_base_url.trim_end_matches('/'));
    link.strip_prefix(&root)
        .filter(|rest| rest.starts_with('/'))
        .map(|rest| GraphRequest::new(Method::Get, rest))
        .ok_or_else(|| GraphError::local("UNEXPECTED_NEXT_LINK", "Graph's @odata.nextLink points outside the connection's Graph URL"))
}

fn domain_of(upn: &str) -> String {
    upn.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default()
}

impl Worker {
    /// One Graph call, retried while throttled or unavailable (honouring `Retry-After`).
    async fn call_with_retries(
        &self,
        graph: &dyn GraphApi,
        connection: &GraphConnection,
        request: GraphRequest,
    ) -> Result<GraphResponse, GraphError> {
        let mut attempt = 1;
        loop {
            match graph.call(connection, request.clone()).await {
                Err(e) if e.is_retryable() && attempt < self.settings.max_attempts => {
                    tokio::time::sleep(backoff::delay(attempt, self.settings.backoff_base, self.settings.backoff_max, e.retry_after)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Independent requests, together in `$batch` requests (or one by one when batching is
    /// off); an item throttled inside a batch is sent again on its own schedule, the others not.
    async fn send_all(
        &self,
        graph: &dyn GraphApi,
        connection: &GraphConnection,
        requests: Vec<GraphRequest>,
    ) -> Vec<Result<GraphResponse, GraphError>> {
        if !self.settings.batch {
            let mut results = Vec::with_capacity(requests.len());
            for request in requests {
                results.push(self.call_with_retries(graph, connection, request).await);
            }
            return results;
        }
        let mut results: Vec<Option<Result<GraphResponse, GraphError>>> = requests.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let mut attempt = 1;
        while !pending.is_empty() {
            let answers = graph.batch(connection, pending.iter().map(|i| requests[*i].clone()).collect()).await;
            let mut again = Vec::new();
            let mut wait = Duration::ZERO;
            for (index, answer) in pending.iter().zip(answers) {
                match answer {
                    Err(e) if e.is_retryable() && attempt < self.settings.max_attempts => {
                        wait = wait.max(backoff::delay(attempt, self.settings.backoff_base, self.settings.backoff_max, e.retry_after));
                        again.push(*index);
                    }
                    other => results[*index] = Some(other),
                }
            }
            if !again.is_empty() {
                tokio::time::sleep(wait).await;
            }
            pending = again;
            attempt += 1;
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(GraphError::local("NOT_SENT", "the request was not sent")))).collect()
    }

    pub(super) async fn import(&self, ctx: &RequestContext, job: &RunningJob) -> Result<Option<String>, AppError> {
        let connection = match self.app.open_connection(job.tenant_id).await {
            Ok(connection) => connection,
            Err(AppError::PreconditionFailed { message, .. }) => return Ok(Some(message)),
            Err(e) => return Err(e),
        };
        let graph = self.app.graph()?;
        let domains: Vec<String> = job.domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        let mut users: Vec<Value> = Vec::new();
        let mut next =
            Some(GraphRequest::new(Method::Get, "/users").query("$select", SELECT).query("$top", self.settings.page_size.to_string()));
        while let Some(request) = next.take() {
            self.renew(job).await;
            let page = match self.call_with_retries(graph.as_ref(), &connection, request).await {
                Ok(page) => page.body,
                Err(e) => return Ok(Some(format!("listing the Microsoft 365 users failed: {e}"))),
            };
            let value = page["value"].as_array().cloned().unwrap_or_default();
            users
                .extend(value.into_iter().filter(|u| u["userPrincipalName"].as_str().is_some_and(|upn| domains.contains(&domain_of(upn)))));
            if let Some(link) = page["@odata.nextLink"].as_str() {
                match next_page(link, &connection) {
                    Ok(request) => next = Some(request),
                    Err(e) => return Ok(Some(e.to_string())),
                }
            }
        }
        self.app.job_count_total(ctx, job, users.len() as u64).await?;
        for chunk in users.chunks(CHUNK) {
            self.renew(job).await;
            self.import_chunk(ctx, job, &connection, &graph, chunk).await?;
        }
        Ok(None)
    }

    async fn import_chunk(
        &self,
        ctx: &RequestContext,
        job: &RunningJob,
        connection: &GraphConnection,
        graph: &Arc<dyn GraphApi>,
        chunk: &[Value],
    ) -> Result<(), AppError> {
        let scope = ctx.read_scope(Some(job.tenant_id))?;
        let mut entries = Vec::with_capacity(chunk.len());
        for user in chunk {
            let mut entry = Entry {
                graph_id: text(&user["id"]).unwrap_or_default(),
                upn: text(&user["userPrincipalName"]).unwrap_or_default(),
                user_id: None,
                patch: None,
                created: false,
                report: None,
            };
            self.resolve(ctx, job, &scope, user, &mut entry).await?;
            entries.push(entry);
        }
        let patching: Vec<usize> =
            entries.iter().enumerate().filter(|(_, e)| e.report.is_none() && e.patch.is_some()).map(|(i, _)| i).collect();
        let requests = patching
            .iter()
            .map(|i| {
                let e = &entries[*i];
                GraphRequest::new(Method::Patch, format!("/users/{}", e.graph_id)).json(json!({"onPremisesImmutableId": e.patch}))
            })
            .collect();
        let results = self.send_all(graph.as_ref(), connection, requests).await;
        for (index, result) in patching.into_iter().zip(results) {
            if let Err(e) = result {
                let entry = &mut entries[index];
                let message =
                    format!("{}{}", e.failure.message, e.failure.request_id.map(|id| format!(" (request-id {id})")).unwrap_or_default());
                entry.fail(&e.failure.code, message);
            }
        }
        for mut entry in entries {
            if entry.report.is_none() {
                let outcome = if entry.created {
                    if let Some(user_id) = entry.user_id
                        && let Err(e) = self.app.assign_user(ctx, Some(job.tenant_id), user_id).await
                    {
                        entry.fail(e.code(), e.public_message());
                    }
                    ItemOutcome::Created
                } else if entry.patch.is_some() {
                    ItemOutcome::Updated
                } else {
                    ItemOutcome::Matched
                };
                if entry.report.is_none() {
                    entry.report = Some(ItemReport {
                        key: entry.graph_id.clone(),
                        user_id: entry.user_id,
                        graph_object_id: Some(entry.graph_id.clone()),
                        upn: entry.upn.clone(),
                        outcome,
                        error_code: None,
                        error_message: None,
                    });
                }
            }
            if let Some(report) = entry.report {
                self.app.job_record_item(ctx, job, report).await?;
            }
        }
        Ok(())
    }

    /// Matches or creates the Tessera user of one Microsoft 365 user; decides whether its
    /// anchor needs setting. Failures land in `entry.report`.
    async fn resolve(
        &self,
        ctx: &RequestContext,
        job: &RunningJob,
        scope: &crate::app::TenantScope,
        user: &Value,
        entry: &mut Entry,
    ) -> Result<(), AppError> {
        if uuid::Uuid::parse_str(&entry.graph_id).is_err() {
            entry.fail("INVALID_RESPONSE", "Graph listed a user without a valid id");
            return Ok(());
        }
        let upn = match Upn::parse(&entry.upn) {
            Ok(upn) => upn,
            Err(e) => {
                entry.fail("VALIDATION", format!("the userPrincipalName is not one Tessera accepts: {}", e.message));
                return Ok(());
            }
        };
        let theirs = text(&user["onPremisesImmutableId"]);
        if let Some(row) = crate::read::users::by_upn(self.app.db(), scope, &upn.to_string()).await? {
            entry.user_id = Some(UserId::parse(&row.user_id)?);
            match theirs {
                None => entry.patch = Some(row.immutable_id),
                Some(theirs) if theirs == row.immutable_id => {}
                Some(_) => entry.fail(
                    "IMMUTABLE_ID_MISMATCH",
                    "the Microsoft 365 user has another onPremisesImmutableId than the Tessera user with its UPN; federated sign-in would fail, so nothing was changed",
                ),
            }
            return Ok(());
        }
        let anchor = match theirs.as_deref().map(ImmutableId::parse) {
            None => None,
            Some(Ok(anchor)) => Some(anchor),
            Some(Err(_)) => {
                entry.fail(
                    "IMMUTABLE_ID_UNUSABLE",
                    "the Microsoft 365 user's onPremisesImmutableId is not a base64 16-byte anchor Tessera can issue; set it in Microsoft 365 or clear it",
                );
                return Ok(());
            }
        };
        let alias = upn.alias().to_owned();
        let input = NewUser {
            user_principal_name: upn.to_string(),
            profile: ProfileInput {
                display_name: text(&user["displayName"]).unwrap_or(alias),
                given_name: text(&user["givenName"]),
                surname: text(&user["surname"]),
                mail: text(&user["mail"]),
            },
            usage_location: text(&user["usageLocation"]).filter(|l| UsageLocation::parse(l).is_ok()),
            password: None,
        };
        match self.app.job_create_user(ctx, job, input, anchor.clone()).await {
            Ok((user_id, created_anchor)) => {
                entry.user_id = Some(user_id);
                entry.created = true;
                if anchor.is_none() {
                    entry.patch = Some(created_anchor.as_str().to_owned());
                }
            }
            Err(e) => entry.fail(e.code(), e.public_message()),
        }
        Ok(())
    }
}
