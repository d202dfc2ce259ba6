use cqrs_es::Aggregate;

use super::{Projection, ProjectionError, decode, local_id, tenant_of};
use crate::args;
use crate::db::Tx;
use crate::domain::custom_domain::{CustomDomain, DomainEvent};
use crate::eventstore::StoredEvent;

pub struct DomainsProjection;

#[async_trait::async_trait]
impl Projection for DomainsProjection {
    fn name(&self) -> &'static str {
        "domains"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["domains"]
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        aggregate_type == CustomDomain::TYPE
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type != CustomDomain::TYPE {
            return Ok(());
        }
        let tenant = tenant_of(event)?;
        let name = local_id(event).to_owned();
        let at = event.occurred_at();
        match decode::<DomainEvent>(event)? {
            DomainEvent::DomainAdded { verification_token, .. } => {
                // A removed domain that is added again starts over.
                tx.execute("DELETE FROM domains WHERE tenant_id = $1 AND name = $2", args![tenant.clone(), name.clone()]).await?;
                tx.execute(
                    "INSERT INTO domains (tenant_id, name, verification_token, verified, federation, added_at, verified_at)
                     VALUES ($1, $2, $3, false, 'MANAGED', $4, NULL)",
                    args![tenant, name, verification_token, at],
                )
                .await?;
            }
            DomainEvent::DomainVerified { .. } => {
                tx.execute(
                    "UPDATE domains SET verified = true, verified_at = $1 WHERE tenant_id = $2 AND name = $3",
                    args![at, tenant, name],
                )
                .await?;
            }
            DomainEvent::DomainRemoved => {
                tx.execute("DELETE FROM domains WHERE tenant_id = $1 AND name = $2", args![tenant, name]).await?;
            }
            DomainEvent::DomainFederationRequested => set_federation(tx, tenant, name, "FEDERATION_REQUESTED").await?,
            DomainEvent::DomainDefederationRequested => set_federation(tx, tenant, name, "DEFEDERATION_REQUESTED").await?,
        }
        Ok(())
    }
}

async fn set_federation(tx: &mut Tx, tenant: String, name: String, state: &str) -> Result<(), ProjectionError> {
    tx.execute("UPDATE domains SET federation = $1 WHERE tenant_id = $2 AND name = $3", args![state, tenant, name]).await?;
    Ok(())
}
