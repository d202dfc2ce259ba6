use cqrs_es::Aggregate;
use serde_json::Value;

use super::{FORGOTTEN, Projection, ProjectionError, decode, local_id, tenant_of};
use crate::args;
use crate::db::{Arg, Tx};
use crate::domain::sign_in::{IssuedClaims, SignIn, SignInEvent};
use crate::domain::user::{User, UserEvent};
use crate::eventstore::StoredEvent;

/// The `sign_ins` table: one row per attempt, for `signIns(userId, …)`.
pub struct SignInsProjection;

#[derive(sqlx::FromRow)]
struct Claims {
    sign_in_id: String,
    claims: String,
}

fn failed(event: &StoredEvent, e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::Decode { position: event.position, event_type: event.event_type.clone(), message: e.to_string() }
}

/// The claims as the row keeps them (JSON), the UPN in clear or, forgotten, the marker. The
/// scrub below rewrites stored claims the same way, so a replay gives the same text.
fn with_upn(mut claims: Value, upn: Option<String>) -> String {
    if let Some(fields) = claims.as_object_mut() {
        fields.insert("upn".to_owned(), Value::String(upn.unwrap_or_else(|| FORGOTTEN.to_owned())));
    }
    claims.to_string()
}

impl SignInsProjection {
    async fn record(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        let tenant = tenant_of(event)?;
        let id = local_id(event).to_owned();
        let at = event.occurred_at();
        let (details, succeeded, reason, claims): (_, _, _, Option<IssuedClaims>) = match decode::<SignInEvent>(event)? {
            SignInEvent::SignInSucceeded { details, claims } => (details, true, None, Some(claims)),
            SignInEvent::SignInFailed { details, reason } => (details, false, Some(reason.code().to_owned()), None),
        };
        let mut forgotten = details.upn.is_forgotten() || details.client.is_forgotten();
        let claims = match claims {
            Some(claims) => {
                forgotten |= claims.upn.is_forgotten();
                let upn = claims.upn.value().cloned();
                Some(with_upn(serde_json::to_value(&claims).map_err(|e| failed(event, e))?, upn))
            }
            None => None,
        };
        let upn = details.upn.into_value().unwrap_or_else(|| FORGOTTEN.to_owned());
        let (ip, user_agent) =
            details.client.into_value().map_or_else(|| (FORGOTTEN.to_owned(), FORGOTTEN.to_owned()), |c| (c.ip, c.user_agent));
        tx.execute(
            "INSERT INTO sign_ins (tenant_id, sign_in_id, user_id, upn, account, succeeded, reason, realm, ip, user_agent, mfa_done, claims,
                                   forgotten, occurred_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
            &[
                tenant.into(),
                id.into(),
                details.user_id.map(|u| u.to_string()).into(),
                upn.into(),
                details.account.map(String::from).into(),
                succeeded.into(),
                reason.into(),
                details.realm.into(),
                ip.into(),
                user_agent.into(),
                details.mfa_done.into(),
                claims.into(),
                forgotten.into(),
                Arg::from(at),
            ],
        )
        .await?;
        Ok(())
    }

    /// A forgotten user's attempts, and those of unknown users under their UPN, keep only what
    /// is not personal.
    async fn scrub(&self, tx: &mut Tx, event: &StoredEvent, account: Option<String>) -> Result<(), ProjectionError> {
        let tenant = tenant_of(event)?;
        let user = local_id(event).to_owned();
        let whose = "tenant_id = $1 AND (user_id = $2 OR (user_id IS NULL AND account = $3))";
        let rows: Vec<Claims> = tx
            .fetch_all(
                &format!("SELECT sign_in_id, claims FROM sign_ins WHERE {whose} AND claims IS NOT NULL"),
                args![tenant.clone(), user.clone(), account.clone()],
            )
            .await?;
        for row in rows {
            let claims: Value = serde_json::from_str(&row.claims).map_err(|e| failed(event, e))?;
            tx.execute(
                "UPDATE sign_ins SET claims = $1 WHERE tenant_id = $2 AND sign_in_id = $3",
                args![with_upn(claims, None), tenant.clone(), row.sign_in_id],
            )
            .await?;
        }
        tx.execute(
            &format!("UPDATE sign_ins SET upn = $4, ip = $4, user_agent = $4, forgotten = true WHERE {whose}"),
            args![tenant, user, account, FORGOTTEN],
        )
        .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Projection for SignInsProjection {
    fn name(&self) -> &'static str {
        "sign_ins"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["sign_ins"]
    }

    fn reads_personal_data(&self) -> bool {
        true
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        // A user's forgetting scrubs their attempts.
        aggregate_type == SignIn::TYPE || aggregate_type == User::TYPE
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type == SignIn::TYPE {
            return self.record(tx, event).await;
        }
        if event.aggregate_type == User::TYPE
            && event.event_type == "UserForgotten"
            && let UserEvent::UserForgotten { upn_pseudonym } = decode::<UserEvent>(event)?
        {
            return self.scrub(tx, event, upn_pseudonym.map(String::from)).await;
        }
        Ok(())
    }
}
