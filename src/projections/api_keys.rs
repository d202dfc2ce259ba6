use cqrs_es::Aggregate;

use super::{Projection, ProjectionError, decode};
use crate::args;
use crate::db::Tx;
use crate::domain::api_key::{ApiKey, ApiKeyEvent};
use crate::eventstore::StoredEvent;

pub struct ApiKeysProjection;

#[async_trait::async_trait]
impl Projection for ApiKeysProjection {
    fn name(&self) -> &'static str {
        "api_keys"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["api_keys"]
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        aggregate_type == ApiKey::TYPE
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type != ApiKey::TYPE {
            return Ok(());
        }
        // Operator keys belong to no tenant; they are stored under ''.
        let tenant = event.tenant_id().unwrap_or_default().to_owned();
        match decode::<ApiKeyEvent>(event)? {
            ApiKeyEvent::ApiKeyCreated { key_id, name, role, secret_hash, .. } => {
                tx.execute(
                    "INSERT INTO api_keys (tenant_id, key_id, name, role, secret_hash, revoked, created_at)
                     VALUES ($1, $2, $3, $4, $5, false, $6)",
                    args![tenant, key_id.to_string(), name.to_string(), role.as_str(), secret_hash, event.occurred_at()],
                )
                .await?;
            }
            ApiKeyEvent::ApiKeyRevoked => {
                tx.execute(
                    "UPDATE api_keys SET revoked = true WHERE tenant_id = $1 AND key_id = $2",
                    args![tenant, event.aggregate_id.clone()],
                )
                .await?;
            }
        }
        Ok(())
    }
}
