use cqrs_es::Aggregate;

use super::{Projection, ProjectionError, decode, local_id, tenant_of};
use crate::args;
use crate::db::Tx;
use crate::domain::user::{User, UserEvent};
use crate::eventstore::StoredEvent;

pub struct UsersProjection;

#[async_trait::async_trait]
impl Projection for UsersProjection {
    fn name(&self) -> &'static str {
        "users"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["users", "user_licenses"]
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        aggregate_type == User::TYPE
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type != User::TYPE {
            return Ok(());
        }
        let tenant = tenant_of(event)?;
        let user = local_id(event).to_owned();
        let at = event.occurred_at();
        let set = |column: &'static str| format!("UPDATE users SET {column} = $1, updated_at = $2 WHERE tenant_id = $3 AND user_id = $4");
        match decode::<UserEvent>(event)? {
            UserEvent::UserCreated { upn, immutable_id, profile, usage_location, .. } => {
                let profile = profile.into_inner();
                tx.execute(
                    "INSERT INTO users (tenant_id, user_id, upn, domain, immutable_id, display_name, given_name, surname, mail,
                                        status, assigned, usage_location, password_set, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'ACTIVE', false, $10, false, $11, $12)",
                    args![
                        tenant,
                        user,
                        upn.to_string(),
                        upn.domain().to_string(),
                        immutable_id.to_string(),
                        profile.display_name.to_string(),
                        profile.given_name.map(|n| n.to_string()),
                        profile.surname.map(|n| n.to_string()),
                        profile.mail,
                        usage_location.map(String::from),
                        at,
                        at,
                    ],
                )
                .await?;
            }
            UserEvent::UserProfileUpdated { profile } => {
                let profile = profile.into_inner();
                tx.execute(
                    "UPDATE users SET display_name = $1, given_name = $2, surname = $3, mail = $4, updated_at = $5
                      WHERE tenant_id = $6 AND user_id = $7",
                    args![
                        profile.display_name.to_string(),
                        profile.given_name.map(|n| n.to_string()),
                        profile.surname.map(|n| n.to_string()),
                        profile.mail,
                        at,
                        tenant,
                        user,
                    ],
                )
                .await?;
            }
            UserEvent::UserPasswordSet { .. } => {
                tx.execute(&set("password_set"), args![true, at, tenant, user]).await?;
            }
            UserEvent::TotpEnrolled { .. } => {
                tx.execute(&set("mfa_enrolled"), args![true, at, tenant, user]).await?;
            }
            UserEvent::TotpRemoved => {
                tx.execute(&set("mfa_enrolled"), args![false, at, tenant, user]).await?;
            }
            UserEvent::RecoveryCodeUsed { .. } => {}
            UserEvent::UserSuspended => {
                tx.execute(&set("status"), args!["SUSPENDED", at, tenant, user]).await?;
            }
            UserEvent::UserReactivated => {
                tx.execute(&set("status"), args!["ACTIVE", at, tenant, user]).await?;
            }
            UserEvent::UserDeleted => {
                tx.execute("DELETE FROM user_licenses WHERE tenant_id = $1 AND user_id = $2", args![tenant.clone(), user.clone()]).await?;
                tx.execute("DELETE FROM users WHERE tenant_id = $1 AND user_id = $2", args![tenant, user]).await?;
            }
            UserEvent::UserAssigned => {
                tx.execute(&set("assigned"), args![true, at, tenant, user]).await?;
            }
            UserEvent::UserUnassigned => {
                tx.execute(&set("assigned"), args![false, at, tenant, user]).await?;
            }
            UserEvent::UsageLocationSet { usage_location } => {
                tx.execute(&set("usage_location"), args![String::from(usage_location), at, tenant, user]).await?;
            }
            UserEvent::LicenseGranted { sku_id } => {
                tx.execute(
                    "INSERT INTO user_licenses (tenant_id, user_id, sku_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    args![tenant.clone(), user.clone(), sku_id.to_string()],
                )
                .await?;
                tx.execute("UPDATE users SET updated_at = $1 WHERE tenant_id = $2 AND user_id = $3", args![at, tenant, user]).await?;
            }
            UserEvent::LicenseRevoked { sku_id } => {
                tx.execute(
                    "DELETE FROM user_licenses WHERE tenant_id = $1 AND user_id = $2 AND sku_id = $3",
                    args![tenant.clone(), user.clone(), sku_id.to_string()],
                )
                .await?;
                tx.execute("UPDATE users SET updated_at = $1 WHERE tenant_id = $2 AND user_id = $3", args![at, tenant, user]).await?;
            }
        }
        Ok(())
    }
}
