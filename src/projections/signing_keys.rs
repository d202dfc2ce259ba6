use std::sync::atomic::{AtomicU64, Ordering};

use cqrs_es::Aggregate;

use super::{Projection, ProjectionError, decode, tenant_of};
use crate::args;
use crate::db::Tx;
use crate::domain::signing_key::{KeyRole, SigningKeyEvent, SigningKeys};
use crate::eventstore::StoredEvent;

/// Counts the changes this process made to the `signing_keys` table, so that caches of what it
/// says (the token issuer's active key) can tell they may be out of date.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current count of changes (see `GENERATION`).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// The `signing_keys` table: every key of a tenant with its role, for the token issuer and
/// the metadata endpoint.
pub struct SigningKeysProjection;

#[async_trait::async_trait]
impl Projection for SigningKeysProjection {
    fn name(&self) -> &'static str {
        "signing_keys"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["signing_keys"]
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        aggregate_type == SigningKeys::TYPE
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type != SigningKeys::TYPE {
            return Ok(());
        }
        let tenant = tenant_of(event)?;
        let at = event.occurred_at();
        // Here and again once committed (`committed`): a reader that read the old rows in
        // between cached them under a generation that is gone by then.
        GENERATION.fetch_add(1, Ordering::AcqRel);
        match decode::<SigningKeyEvent>(event)? {
            SigningKeyEvent::SigningKeyGenerated { role, key, .. } => {
                let (status, activated_at) = match role {
                    KeyRole::Active => ("ACTIVE", Some(at)),
                    KeyRole::Next => ("NEXT", None),
                };
                tx.execute(
                    "INSERT INTO signing_keys (tenant_id, key_id, status, key_bits, certificate_pem, sha1_thumbprint, private_key,
                                               not_before, not_after, created_at, activated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    &[
                        tenant.into(),
                        key.key_id.into(),
                        status.into(),
                        i64::from(key.key_bits).into(),
                        key.certificate_pem.into(),
                        key.sha1_thumbprint.into(),
                        key.private_key.ciphertext().into(),
                        key.not_before.into(),
                        key.not_after.into(),
                        at.into(),
                        activated_at.into(),
                    ],
                )
                .await?;
            }
            SigningKeyEvent::NextSigningKeyActivated { key_id, retired_key_id } => {
                tx.execute(
                    "UPDATE signing_keys SET status = 'RETIRED' WHERE tenant_id = $1 AND key_id = $2",
                    args![tenant.clone(), retired_key_id],
                )
                .await?;
                tx.execute(
                    "UPDATE signing_keys SET status = 'ACTIVE', activated_at = $1 WHERE tenant_id = $2 AND key_id = $3",
                    args![at, tenant, key_id],
                )
                .await?;
            }
        }
        Ok(())
    }

    fn committed(&self) {
        GENERATION.fetch_add(1, Ordering::AcqRel);
    }
}
