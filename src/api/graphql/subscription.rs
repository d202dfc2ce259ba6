//! Live tails over WebSocket (graphql-transport-ws at `GET /graphql`). The API key goes in the
//! `connection_init` payload (`{"authorization": "Bearer tsk_…"}`), checked before anything runs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::{Context, Data, ID, Subscription as SubscriptionObject};
use futures::Stream;

use super::AdminSchema;
use super::audit::{AuditEvent, AuditEventFilter};
use super::endpoint::client_origin;
use super::query::tenant_arg;
use super::types::{OrGraphql, app, caller};
use crate::api::request_id::CorrelationId;
use crate::app::{AppError, RequestContext, Tessera};
use crate::read::audit;

/// How often a live tail looks for newly chained events.
const POLL: Duration = Duration::from_millis(200);

pub struct Subscription;

/// Live tails of the tenant's history.
#[SubscriptionObject]
impl Subscription {
    /// Every event of the tenant chained from now on that matches `filter`, in commit order.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
        filter: Option<AuditEventFilter>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AuditEvent>>> {
        let caller = caller(ctx)?.clone();
        let scope = tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(&caller)?;
        let app = app(ctx).clone();
        let filter = filter.unwrap_or_default().into_filter();
        let start = audit::head_seq(app.db(), &scope).await.gql(&caller)?;
        let state = Some((start, VecDeque::new()));
        Ok(futures::stream::unfold(state, move |state| {
            let (app, caller, filter) = (app.clone(), caller.clone(), filter.clone());
            async move {
                let (mut after, mut buffered) = state?;
                loop {
                    if let Some(row) = buffered.pop_front() {
                        return Some((Ok(AuditEvent(row)), Some((after, buffered))));
                    }
                    let tail = match audit::tail(app.db(), &scope, &filter, after).await {
                        Ok((mut rows, head)) => app.open_audit_rows(&scope, &mut rows).await.map(|()| (rows, head)),
                        Err(e) => Err(AppError::from(e)),
                    };
                    match tail {
                        Ok((rows, head)) => {
                            after = head;
                            buffered.extend(rows);
                            if buffered.is_empty() {
                                tokio::time::sleep(POLL).await;
                            }
                        }
                        Err(e) => return Some((Err(e.to_graphql(&caller.correlation_id)), None)),
                    }
                }
            }
        }))
    }
}

/// The key from a `connection_init` payload: `authorization` (with or without `Bearer `) or
/// `apiKey`.
fn key_from(payload: &serde_json::Value) -> Option<String> {
    let value = ["authorization", "Authorization", "apiKey"].iter().find_map(|k| payload.get(*k)?.as_str())?;
    let value = value.trim();
    Some(value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or(value).trim().to_owned())
}

/// GET /graphql with `Upgrade: websocket`.
pub async fn graphql_ws(
    req: HttpRequest,
    payload: web::Payload,
    schema: web::Data<AdminSchema>,
    app: web::Data<Arc<Tessera>>,
) -> actix_web::Result<HttpResponse> {
    let app = app.get_ref().clone();
    let correlation_id = CorrelationId::of(&req);
    let origin = client_origin(&req);
    async_graphql_actix_web::GraphQLSubscription::new(AdminSchema::clone(&schema))
        .on_connection_init(move |init| async move {
            let refused = |e: AppError| e.to_graphql(&correlation_id);
            let secret = key_from(&init)
                .ok_or_else(|| refused(AppError::Unauthenticated("send the API key in the connection_init payload".into())))?;
            let principal = app.authenticate(&secret).await.map_err(refused)?;
            let mut data = Data::default();
            data.insert(RequestContext {
                principal,
                correlation_id: correlation_id.clone(),
                request_id: uuid::Uuid::new_v4().to_string(),
                origin,
                origin_recorded: Default::default(),
            });
            Ok(data)
        })
        .start(&req, payload)
}
