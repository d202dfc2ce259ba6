//! Where a request that changed something came from (client IP, user agent). Personal data with
//! its own retention, kept beside the events rather than in them, so it can be purged without
//! touching the hash-chained history.

use super::{RequestContext, Tessera};
use crate::args;
use crate::domain::values::TenantId;

/// Longest user agent kept; longer ones are cut (they are free text from the client).
const MAX_USER_AGENT: usize = 512;

impl Tessera {
    /// Records the request's origin once per request and tenant. A failure here is logged, not
    /// returned: the command has already been committed.
    pub(super) async fn record_origin(&self, ctx: &RequestContext, tenant: Option<TenantId>) {
        if ctx.origin.ip.is_none() && ctx.origin.user_agent.is_none() {
            return;
        }
        if ctx.origin_recorded.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let user_agent = ctx.origin.user_agent.as_ref().map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>());
        let result = self
            .db()
            .execute_one(
                "INSERT INTO request_origins (tenant_id, request_id, client_ip, user_agent, recorded_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, request_id) DO NOTHING",
                args![
                    tenant.map(|t| t.to_string()).unwrap_or_default(),
                    ctx.request_id.clone(),
                    ctx.origin.ip.clone(),
                    user_agent,
                    chrono::Utc::now()
                ],
            )
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, request_id = %ctx.request_id, "could not record the request's origin");
        }
    }
}
