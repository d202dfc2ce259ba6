use super::{Projection, ProjectionError, decode};
use crate::args;
use crate::db::Tx;
use crate::domain::tenant::{Tenant, TenantEvent};
use crate::eventstore::StoredEvent;
use cqrs_es::Aggregate;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts the tenant events this process projected, so that caches of a tenant's state (the
/// sign-in endpoints') can tell they may be out of date.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current count of projected tenant changes (see `GENERATION`).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

pub struct TenantsProjection;

fn enum_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

#[async_trait::async_trait]
impl Projection for TenantsProjection {
    fn name(&self) -> &'static str {
        "tenants"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["tenants"]
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        aggregate_type == Tenant::TYPE
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type != Tenant::TYPE {
            return Ok(());
        }
        // Here and again once committed (`committed`): a reader that folded the old state in
        // between cached it under a generation that is gone by then.
        GENERATION.fetch_add(1, Ordering::AcqRel);
        let id = event.aggregate_id.clone();
        let at = event.occurred_at();
        let (sql, value): (&str, crate::db::Arg) = match decode::<TenantEvent>(event)? {
            TenantEvent::TenantCreated { tenant_id, name } => {
                tx.execute(
                    "INSERT INTO tenants (tenant_id, name, status, default_usage_location, default_licenses, deprovision_action, mfa_policy, created_at, updated_at)
                     VALUES ($1, $2, 'ACTIVE', NULL, '', 'BLOCK_SIGN_IN', 'OPTIONAL', $3, $4)",
                    args![tenant_id.to_string(), name.to_string(), at, at],
                )
                .await?;
                return Ok(());
            }
            TenantEvent::TenantRenamed { name } => {
                ("UPDATE tenants SET name = $1, updated_at = $2 WHERE tenant_id = $3", name.to_string().into())
            }
            TenantEvent::TenantSuspended => ("UPDATE tenants SET status = $1, updated_at = $2 WHERE tenant_id = $3", "SUSPENDED".into()),
            TenantEvent::TenantReactivated => ("UPDATE tenants SET status = $1, updated_at = $2 WHERE tenant_id = $3", "ACTIVE".into()),
            TenantEvent::DefaultUsageLocationSet { usage_location } => (
                "UPDATE tenants SET default_usage_location = $1, updated_at = $2 WHERE tenant_id = $3",
                usage_location.map(String::from).into(),
            ),
            TenantEvent::DefaultLicensesSet { sku_ids } => (
                "UPDATE tenants SET default_licenses = $1, updated_at = $2 WHERE tenant_id = $3",
                sku_ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",").into(),
            ),
            TenantEvent::DeprovisionActionSet { action, .. } => {
                ("UPDATE tenants SET deprovision_action = $1, updated_at = $2 WHERE tenant_id = $3", enum_text(&action).into())
            }
            TenantEvent::MfaPolicySet { policy } => {
                ("UPDATE tenants SET mfa_policy = $1, updated_at = $2 WHERE tenant_id = $3", enum_text(&policy).into())
            }
            TenantEvent::TokenLifetimeSet { minutes } => {
                ("UPDATE tenants SET token_lifetime_minutes = $1, updated_at = $2 WHERE tenant_id = $3", i64::from(minutes).into())
            }
            TenantEvent::ReplyUrlsSet { urls } => {
                ("UPDATE tenants SET reply_urls = $1, updated_at = $2 WHERE tenant_id = $3", urls.join("\n").into())
            }
        };
        tx.execute(sql, &[value, at.into(), id.into()]).await?;
        Ok(())
    }

    fn committed(&self) {
        GENERATION.fetch_add(1, Ordering::AcqRel);
    }
}
