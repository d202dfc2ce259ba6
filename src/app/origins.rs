//! Where a request that changed something came from (client IP, user agent). Personal data with
//! its own retention, kept beside the events rather than in them, so it can be purged without
//! touching the hash-chained history.

use std::sync::atomic::Ordering;

use super::{RequestContext, Tessera};
use crate::args;
use crate::domain::values::TenantId;
use crate::eventstore::{Committed, RequestOrigin};

/// Longest user agent kept; longer ones are cut (they are free text from the client).
const MAX_USER_AGENT: usize = 512;

impl Tessera {
    /// The request's origin, unless it has none or it is already stored.
    pub(super) fn origin_to_record(ctx: &RequestContext, tenant: Option<TenantId>) -> Option<RequestOrigin> {
        if (ctx.origin.ip.is_none() && ctx.origin.user_agent.is_none()) || ctx.origin_recorded.load(Ordering::Acquire) {
            return None;
        }
        Some(RequestOrigin {
            tenant_id: tenant.map(|t| t.to_string()).unwrap_or_default(),
            request_id: ctx.request_id.clone(),
            client_ip: ctx.origin.ip.clone(),
            user_agent: ctx.origin.user_agent.as_ref().map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>()),
            recorded_at: chrono::Utc::now(),
        })
    }

    /// Records the request's origin (`origin_to_record`, taken before the command) once per
    /// request and tenant, where the command's append did not already (it does for one event on
    /// PostgreSQL). A failure here is logged, not returned: the command has already been
    /// committed.
    pub(super) async fn record_origin(&self, ctx: &RequestContext, committed: Committed, origin: Option<RequestOrigin>) {
        if committed.origin_recorded {
            ctx.origin_recorded.store(true, Ordering::Release);
            return;
        }
        let Some(origin) = origin.filter(|_| committed.events > 0) else { return };
        if ctx.origin_recorded.swap(true, Ordering::AcqRel) {
            return;
        }
        let result = self
            .db()
            .execute_one(
                "INSERT INTO request_origins (tenant_id, request_id, client_ip, user_agent, recorded_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, request_id) DO NOTHING",
                args![origin.tenant_id, origin.request_id, origin.client_ip, origin.user_agent, origin.recorded_at],
            )
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, request_id = %ctx.request_id, "could not record the request's origin");
        }
    }
}
