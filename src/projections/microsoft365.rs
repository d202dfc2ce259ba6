use std::sync::atomic::{AtomicU64, Ordering};

use cqrs_es::Aggregate;

use super::{Projection, ProjectionError, decode, tenant_of};
use crate::args;
use crate::db::Tx;
use crate::domain::microsoft365::{ConnectionCredential, Microsoft365Connection, Microsoft365Event};
use crate::eventstore::StoredEvent;

/// Counts the subscribed-license refreshes and disconnections this process projected, so that
/// grantLicense's cache of the numbers (`app::users`) can tell they may be out of date.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current count of projected license-table changes (see `GENERATION`).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// The connection as the admin API shows it: settings, the public certificate, the last test
/// and the last compatibility check per domain. Secrets are never copied here.
pub struct Microsoft365Projection;

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

#[async_trait::async_trait]
impl Projection for Microsoft365Projection {
    fn name(&self) -> &'static str {
        "microsoft365_connections"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["microsoft365_connections", "microsoft365_compatibility", "microsoft365_skus"]
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        aggregate_type == Microsoft365Connection::TYPE
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type != Microsoft365Connection::TYPE {
            return Ok(());
        }
        let tenant = tenant_of(event)?;
        let at = event.occurred_at();
        match decode::<Microsoft365Event>(event)? {
            Microsoft365Event::Microsoft365Connected { settings, credential, .. } => {
                let (kind, pem, sha1, sha256, not_before, not_after) = match credential {
                    ConnectionCredential::ClientSecret { .. } => ("CLIENT_SECRET", None, None, None, None, None),
                    ConnectionCredential::Certificate {
                        certificate_pem,
                        sha1_thumbprint,
                        sha256_thumbprint,
                        not_before,
                        not_after,
                        ..
                    } => (
                        "CERTIFICATE",
                        Some(certificate_pem),
                        Some(sha1_thumbprint),
                        Some(sha256_thumbprint),
                        Some(not_before),
                        Some(not_after),
                    ),
                };
                // A re-connection starts over: earlier findings were about the old settings.
                tx.execute("DELETE FROM microsoft365_connections WHERE tenant_id = $1", args![tenant.clone()]).await?;
                tx.execute("DELETE FROM microsoft365_compatibility WHERE tenant_id = $1", args![tenant.clone()]).await?;
                tx.execute(
                    "INSERT INTO microsoft365_connections (tenant_id, entra_tenant_id, client_id, credential_type, certificate_pem,
                         certificate_sha1, certificate_sha256, certificate_not_before, certificate_not_after, login_base_url,
                         graph_base_url, connected_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    args![
                        tenant,
                        settings.entra_tenant_id.to_string(),
                        settings.client_id.to_string(),
                        kind,
                        pem,
                        sha1,
                        sha256,
                        not_before,
                        not_after,
                        settings.login_base_url,
                        settings.graph_base_url,
                        at,
                    ],
                )
                .await?;
            }
            Microsoft365Event::Microsoft365Disconnected => {
                GENERATION.fetch_add(1, Ordering::AcqRel);
                tx.execute("DELETE FROM microsoft365_connections WHERE tenant_id = $1", args![tenant.clone()]).await?;
                tx.execute("DELETE FROM microsoft365_compatibility WHERE tenant_id = $1", args![tenant]).await?;
            }
            Microsoft365Event::ConnectionTested { succeeded, granted_permissions, findings, error } => {
                tx.execute(
                    "UPDATE microsoft365_connections SET last_test_at = $1, last_test_succeeded = $2, last_test_permissions = $3,
                            last_test_findings = $4, last_test_error = $5
                      WHERE tenant_id = $6",
                    args![at, succeeded, json(&granted_permissions), json(&findings), error.as_ref().map(json), tenant],
                )
                .await?;
            }
            Microsoft365Event::SubscribedSkusRefreshed { skus } => {
                // Here and again once committed: a reader that read the old rows in between
                // cached them under a generation that is gone by then.
                GENERATION.fetch_add(1, Ordering::AcqRel);
                tx.execute("DELETE FROM microsoft365_skus WHERE tenant_id = $1", args![tenant.clone()]).await?;
                for sku in skus {
                    tx.execute(
                        "INSERT INTO microsoft365_skus (tenant_id, sku_id, sku_part_number, enabled, consumed, refreshed_at)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        args![tenant.clone(), sku.sku_id, sku.sku_part_number, sku.enabled, sku.consumed, at],
                    )
                    .await?;
                }
            }
            Microsoft365Event::CompatibilityVerified { domain, compatible, findings } => {
                tx.execute(
                    "INSERT INTO microsoft365_compatibility (tenant_id, domain, compatible, findings, checked_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (tenant_id, domain) DO UPDATE SET compatible = excluded.compatible, findings = excluded.findings,
                         checked_at = excluded.checked_at",
                    args![tenant, domain.to_string(), compatible, json(&findings), at],
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
