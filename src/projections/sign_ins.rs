use cqrs_es::Aggregate;

use super::{Projection, ProjectionError, decode, local_id, tenant_of};
use crate::db::{Arg, Tx};
use crate::domain::sign_in::{SignIn, SignInEvent};
use crate::eventstore::StoredEvent;

/// The `sign_ins` table: one row per attempt, for `signIns(userId, …)`.
pub struct SignInsProjection;

#[async_trait::async_trait]
impl Projection for SignInsProjection {
    fn name(&self) -> &'static str {
        "sign_ins"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["sign_ins"]
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        aggregate_type == SignIn::TYPE
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type != SignIn::TYPE {
            return Ok(());
        }
        let tenant = tenant_of(event)?;
        let id = local_id(event).to_owned();
        let at = event.occurred_at();
        let (details, succeeded, reason, claims) = match decode::<SignInEvent>(event)? {
            SignInEvent::SignInSucceeded { details, claims } => {
                let claims = serde_json::to_string(&claims).map_err(|e| ProjectionError::Decode {
                    position: event.position,
                    event_type: event.event_type.clone(),
                    message: e.to_string(),
                })?;
                (details, true, None, Some(claims))
            }
            SignInEvent::SignInFailed { details, reason } => (details, false, Some(reason.code().to_owned()), None),
        };
        let client = details.client.into_inner();
        tx.execute(
            "INSERT INTO sign_ins (tenant_id, sign_in_id, user_id, upn, succeeded, reason, realm, ip, user_agent, mfa_done, claims, occurred_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
            &[
                tenant.into(),
                id.into(),
                details.user_id.map(|u| u.to_string()).into(),
                details.upn.into(),
                succeeded.into(),
                reason.into(),
                details.realm.into(),
                client.ip.into(),
                client.user_agent.into(),
                details.mfa_done.into(),
                claims.into(),
                Arg::from(at),
            ],
        )
        .await?;
        Ok(())
    }
}
