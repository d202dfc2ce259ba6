use cqrs_es::Aggregate;

use super::{FORGOTTEN, Projection, ProjectionError, decode, local_id, tenant_of};
use crate::args;
use crate::db::Tx;
use crate::domain::Personal;
use crate::domain::user::{User, UserEvent, UserProfile};
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

    fn reads_personal_data(&self) -> bool {
        true
    }

    fn handles(&self, aggregate_type: &str) -> bool {
        aggregate_type == User::TYPE
    }

    fn fold(&self) -> Option<Box<dyn super::Fold>> {
        Some(Box::new(super::fold::UsersFold::default()))
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
                let forgotten = upn.is_forgotten() || profile.is_forgotten();
                let (upn, domain) = upn
                    .into_value()
                    .map_or_else(|| (FORGOTTEN.to_owned(), FORGOTTEN.to_owned()), |u| (u.to_string(), u.domain().to_string()));
                let p = Columns::of(profile);
                tx.execute(
                    "INSERT INTO users (tenant_id, user_id, upn, domain, immutable_id, display_name, given_name, surname, mail,
                                        status, assigned, usage_location, password_set, forgotten, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'ACTIVE', false, $10, false, $11, $12, $13)",
                    args![
                        tenant,
                        user,
                        upn,
                        domain,
                        immutable_id.to_string(),
                        p.display_name,
                        p.given_name,
                        p.surname,
                        p.mail,
                        usage_location.map(String::from),
                        forgotten,
                        at,
                        at,
                    ],
                )
                .await?;
            }
            UserEvent::UserProfileUpdated { profile } => {
                let forgotten = profile.is_forgotten();
                let p = Columns::of(profile);
                tx.execute(
                    "UPDATE users SET display_name = $1, given_name = $2, surname = $3, mail = $4, forgotten = (forgotten OR $5), updated_at = $6
                      WHERE tenant_id = $7 AND user_id = $8",
                    args![p.display_name, p.given_name, p.surname, p.mail, forgotten, at, tenant, user],
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
            UserEvent::UserForgotten { .. } => {
                // A forgotten user was deleted first, so there is normally no row left; a row
                // folded from an older point (time travel) shows what forgetting leaves.
                tx.execute(
                    "UPDATE users SET upn = $1, domain = $2, display_name = $3, given_name = NULL, surname = NULL, mail = NULL, forgotten = true
                      WHERE tenant_id = $4 AND user_id = $5",
                    args![FORGOTTEN, FORGOTTEN, FORGOTTEN, tenant, user],
                )
                .await?;
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

/// A profile as the `users` columns hold it; a forgotten one leaves the marker in the one
/// required column and nothing in the others.
pub(super) struct Columns {
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
}

impl Columns {
    pub fn forgotten() -> Self {
        Self { display_name: FORGOTTEN.to_owned(), given_name: None, surname: None, mail: None }
    }

    pub fn of(profile: Personal<UserProfile>) -> Self {
        Self::of_ref(&profile)
    }

    pub fn of_ref(profile: &Personal<UserProfile>) -> Self {
        match profile.value() {
            Some(p) => Self {
                display_name: p.display_name.to_string(),
                given_name: p.given_name.as_ref().map(|n| n.to_string()),
                surname: p.surname.as_ref().map(|n| n.to_string()),
                mail: p.mail.clone(),
            },
            None => Self::forgotten(),
        }
    }
}
