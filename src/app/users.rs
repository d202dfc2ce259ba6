use cqrs_es::Aggregate as _;
use rand::RngCore;

use super::domains::domain_id;
use super::{AppError, RequestContext, TenantScope, Tessera};
use crate::domain::claim::{ClaimCommand, UniqueClaim, legacy_upn_key, upn_key};
use crate::domain::custom_domain::CustomDomain;
use crate::domain::tenant::Tenant;
use crate::domain::user::{User, UserCommand, UserProfile};
use crate::domain::values::{DisplayName, ImmutableId, Pseudonym, SkuId, TenantId, Upn, UsageLocation, UserId};
use crate::domain::{Personal, Reason, SealedSecret};
use crate::eventstore::Loaded;
use crate::read::microsoft365::SkuRow;

/// How long grantLicense trusts a subscribed license's numbers read from the read model without a
/// refreshLicenses projected in this process (one from another instance is seen within it).
pub(super) const SKU_CHECK_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Profile fields as the API receives them, parsed here.
#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub user_principal_name: String,
    pub profile: ProfileInput,
    pub usage_location: Option<String>,
    pub password: Option<String>,
}

fn parse_profile(input: &ProfileInput) -> Result<UserProfile, AppError> {
    let optional = |field: &'static str, value: &Option<String>| -> Result<Option<DisplayName>, AppError> {
        Ok(value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(|v| DisplayName::parse(field, v)).transpose()?)
    };
    let mail = match input.mail.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        // A mail address has the same shape rules as a UPN here; Graph refuses anything else.
        Some(mail) => {
            Some(Upn::parse(mail).map_err(|_| AppError::validation("mail", "must be an e-mail address like name@contoso.com"))?.to_string())
        }
        None => None,
    };
    Ok(UserProfile {
        display_name: DisplayName::parse("displayName", &input.display_name)?,
        given_name: optional("givenName", &input.given_name)?,
        surname: optional("surname", &input.surname)?,
        mail,
    })
}

/// A user as a command left them on the write side: a mutation answers what the command
/// decided from this, without reading the read models back.
#[derive(Debug)]
pub struct ChangedUser {
    pub id: UserId,
    pub state: User,
}

/// The aggregate id of a tenant's user.
pub(super) fn user_id_key(tenant_id: TenantId, user_id: UserId) -> String {
    format!("{tenant_id}/{user_id}")
}

impl Tessera {
    /// Creates a user whose UPN is in a verified domain of the tenant and unique in it: the UPN
    /// is claimed on the write side first, so of many racing creations exactly one wins.
    pub async fn create_user(&self, ctx: &RequestContext, tenant: Option<TenantId>, input: NewUser) -> Result<UserId, AppError> {
        self.create_user_with_anchor(ctx, tenant, input, None).await
    }

    /// `create_user`, keeping a given ImmutableID (an import adopts the one Microsoft 365 has)
    /// instead of drawing one.
    pub(super) async fn create_user_with_anchor(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        input: NewUser,
        anchor: Option<ImmutableId>,
    ) -> Result<UserId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let tenant_id = scope.tenant_id();
        let upn = Upn::parse(&input.user_principal_name)?;
        let profile = parse_profile(&input.profile)?;
        let usage_location = input.usage_location.as_deref().map(UsageLocation::parse).transpose()?;
        let password_hash = match &input.password {
            Some(password) => Some(self.seal_password(tenant_id, password).await?),
            None => None,
        };
        // The tenant, the domain and a claim on the UPN in clear, in one read.
        let (tenant_key, domain_key, legacy_key) =
            (tenant_id.to_string(), domain_id(tenant_id, upn.domain()), legacy_upn_key(&tenant_id, &upn));
        let mut loaded =
            self.load_many(&[(Tenant::TYPE, &tenant_key), (CustomDomain::TYPE, &domain_key), (UniqueClaim::TYPE, &legacy_key)]).await?;
        let tenant_state = loaded.take::<Tenant>(&tenant_key)?.state;
        tenant_state.ensure_active()?;
        let domain = loaded.take::<CustomDomain>(&domain_key)?.state;
        if !domain.exists() || !domain.verified {
            return Err(AppError::precondition(
                Reason::DomainNotVerified,
                format!("{} is not a verified domain of this tenant", upn.domain()),
            ));
        }
        let legacy_holder = loaded.take::<UniqueClaim>(&legacy_key)?.state.owner;

        let user_id = UserId::new();
        let upn_pseudonym = self.personal_data().upn_pseudonym(self.db(), &tenant_id, &upn.to_string()).await?;
        self.claim_upn(ctx, tenant_id, &upn, &upn_pseudonym, user_id, legacy_holder).await?;

        let immutable_id = anchor.unwrap_or_else(|| {
            let mut anchor = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut anchor);
            ImmutableId::from_bytes(anchor)
        });
        let command = UserCommand::CreateUser {
            tenant_id,
            user_id,
            upn,
            upn_pseudonym,
            immutable_id,
            profile: Personal::new(profile),
            usage_location: usage_location.or(tenant_state.default_usage_location),
        };
        let key = user_id_key(tenant_id, user_id);
        // The user id was just made: nothing to load.
        let (_, user) = self.run_on::<User>(ctx, Some(tenant_id), &key, Some(Loaded::new_aggregate()), command).await?;
        if let Some(password_hash) = password_hash {
            self.run_on::<User>(ctx, Some(tenant_id), &key, Some(user), UserCommand::SetPassword { password_hash }).await?;
        }
        Ok(user_id)
    }

    /// Takes the UPN for `user_id`, under its pseudonym. A claim left by a user that was deleted
    /// since (say the process died between the deletion and the release) is taken over. A claim
    /// under the UPN in clear (made before pseudonyms; `legacy_holder` holds it) still counts
    /// while its user exists.
    async fn claim_upn(
        &self,
        ctx: &RequestContext,
        tenant_id: TenantId,
        upn: &Upn,
        pseudonym: &Pseudonym,
        user_id: UserId,
        legacy_holder: Option<String>,
    ) -> Result<(), AppError> {
        let taken = || AppError::Conflict(format!("a user with userPrincipalName {upn} already exists"));
        if let Some(holder) = legacy_holder
            && !self.stale_claim(tenant_id, &holder).await?
        {
            return Err(taken());
        }
        let key = upn_key(&tenant_id, pseudonym);
        let claim = ClaimCommand::Claim { owner: user_id.to_string() };
        // Most UPNs were never claimed: try as a new claim, decided again on its history if not.
        match self.run_on::<UniqueClaim>(ctx, Some(tenant_id), &key, Some(Loaded::new_aggregate()), claim.clone()).await {
            Ok(_) => Ok(()),
            Err(AppError::Conflict(_)) => {
                let holder = self.load::<UniqueClaim>(&key).await?.owner.unwrap_or_default();
                if !self.stale_claim(tenant_id, &holder).await? {
                    return Err(taken());
                }
                self.run::<UniqueClaim>(ctx, Some(tenant_id), &key, ClaimCommand::Release { owner: holder }).await?;
                self.run::<UniqueClaim>(ctx, Some(tenant_id), &key, claim).await.map_err(|_| taken())?;
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// Whether a claim's holder is a user that no longer exists.
    async fn stale_claim(&self, tenant_id: TenantId, holder: &str) -> Result<bool, AppError> {
        Ok(match UserId::parse(holder) {
            Ok(holder_id) => self.load::<User>(&user_id_key(tenant_id, holder_id)).await?.is_deleted(),
            Err(_) => false,
        })
    }

    /// Gives up the user's UPN claim, wherever it is: under the pseudonym, or (users from before
    /// pseudonyms) under the UPN in clear. Idempotent.
    pub(super) async fn release_upn(
        &self,
        ctx: &RequestContext,
        tenant_id: TenantId,
        user_id: UserId,
        user: &User,
    ) -> Result<(), AppError> {
        let pseudonym = match (&user.upn_pseudonym, &user.upn) {
            (Some(pseudonym), _) => Some(pseudonym.clone()),
            (None, Some(upn)) => Some(self.personal_data().upn_pseudonym(self.db(), &tenant_id, &upn.to_string()).await?),
            (None, None) => None,
        };
        let mut keys: Vec<String> = pseudonym.iter().map(|p| upn_key(&tenant_id, p)).collect();
        keys.extend(user.upn.iter().map(|upn| legacy_upn_key(&tenant_id, upn)));
        for key in keys {
            let release = ClaimCommand::Release { owner: user_id.to_string() };
            self.run::<UniqueClaim>(ctx, Some(tenant_id), &key, release).await?;
        }
        Ok(())
    }

    async fn seal_password(&self, tenant_id: TenantId, password: &str) -> Result<SealedSecret, AppError> {
        let phc = self.passwords.hash(password).await?;
        Ok(SealedSecret::new(self.crypto.seal(&format!("password:{tenant_id}"), phc.as_bytes())))
    }

    pub async fn update_user_profile(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        user_id: UserId,
        profile: ProfileInput,
    ) -> Result<ChangedUser, AppError> {
        let profile = parse_profile(&profile)?;
        self.user_command(ctx, tenant, user_id, UserCommand::UpdateUserProfile { profile: Personal::new(profile) }).await
    }

    pub async fn set_password(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        user_id: UserId,
        password: &str,
    ) -> Result<ChangedUser, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let password_hash = self.seal_password(scope.tenant_id(), password).await?;
        self.user_command(ctx, tenant, user_id, UserCommand::SetPassword { password_hash }).await
    }

    pub async fn suspend_user(&self, ctx: &RequestContext, tenant: Option<TenantId>, user_id: UserId) -> Result<ChangedUser, AppError> {
        self.user_command(ctx, tenant, user_id, UserCommand::SuspendUser).await
    }

    pub async fn reactivate_user(&self, ctx: &RequestContext, tenant: Option<TenantId>, user_id: UserId) -> Result<ChangedUser, AppError> {
        self.user_command(ctx, tenant, user_id, UserCommand::ReactivateUser).await
    }

    /// Deletes the user and frees the UPN for reuse.
    pub async fn delete_user(&self, ctx: &RequestContext, tenant: Option<TenantId>, user_id: UserId) -> Result<UserId, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let user = self.load::<User>(&user_id_key(scope.tenant_id(), user_id)).await?;
        self.user_command(ctx, tenant, user_id, UserCommand::DeleteUser).await?;
        self.release_upn(ctx, scope.tenant_id(), user_id, &user).await?;
        Ok(user_id)
    }

    /// Assigns the user to Microsoft 365, with the tenant's default licenses when the user has a
    /// usage location (Microsoft 365 refuses licenses without one).
    pub async fn assign_user(&self, ctx: &RequestContext, tenant: Option<TenantId>, user_id: UserId) -> Result<ChangedUser, AppError> {
        let (tenant_state, mut user) = self.user_command_on(ctx, tenant, user_id, UserCommand::AssignUser).await?;
        let tenant_id = ctx.admin_scope(tenant)?.tenant_id();
        if user.state.usage_location.is_some() {
            let key = user_id_key(tenant_id, user_id);
            let missing: Vec<SkuId> = tenant_state.default_licenses.into_iter().filter(|sku| !user.state.licenses.contains(sku)).collect();
            for sku_id in missing {
                user = self.run_on::<User>(ctx, Some(tenant_id), &key, Some(user), UserCommand::GrantLicense { sku_id }).await?.1;
            }
        }
        Ok(ChangedUser { id: user_id, state: user.state })
    }

    pub async fn unassign_user(&self, ctx: &RequestContext, tenant: Option<TenantId>, user_id: UserId) -> Result<ChangedUser, AppError> {
        self.user_command(ctx, tenant, user_id, UserCommand::UnassignUser).await
    }

    pub async fn set_usage_location(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        user_id: UserId,
        usage_location: &str,
    ) -> Result<ChangedUser, AppError> {
        let usage_location = UsageLocation::parse(usage_location)?;
        self.user_command(ctx, tenant, user_id, UserCommand::SetUsageLocation { usage_location }).await
    }

    pub async fn grant_license(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        user_id: UserId,
        sku_id: &str,
    ) -> Result<ChangedUser, AppError> {
        let sku_id = SkuId::parse(sku_id)?;
        let read = ctx.read_scope(tenant)?;
        // Microsoft's numbers as of the last refreshLicenses: refused before any call to Graph.
        if let Some(sku) = self.subscribed_sku(&read, &sku_id).await?
            && sku.enabled - sku.consumed <= 0
        {
            return Err(AppError::precondition(
                crate::domain::Reason::NoLicenseUnitsLeft,
                format!(
                    "no {} units are left in Microsoft 365 ({} enabled, {} consumed at the last refreshLicenses)",
                    sku.sku_part_number, sku.enabled, sku.consumed
                ),
            ));
        }
        self.user_command(ctx, tenant, user_id, UserCommand::GrantLicense { sku_id }).await
    }

    /// A subscribed license of the tenant as of the last refreshLicenses, read at most once per
    /// `SKU_CHECK_TTL` per tenant and SKU (a refresh projected in this process is seen at once).
    async fn subscribed_sku(&self, read: &TenantScope, sku_id: &SkuId) -> Result<Option<SkuRow>, AppError> {
        let key = (read.tenant_id(), sku_id.to_string());
        let generation = crate::projections::microsoft365::generation();
        if let Some(sku) = self.skus.get(&key, generation) {
            return Ok(sku);
        }
        let sku = crate::read::microsoft365::sku(self.db(), read, &key.1).await?;
        self.skus.put(key, sku.clone(), generation);
        Ok(sku)
    }

    pub async fn revoke_license(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        user_id: UserId,
        sku_id: &str,
    ) -> Result<ChangedUser, AppError> {
        let sku_id = SkuId::parse(sku_id)?;
        self.user_command(ctx, tenant, user_id, UserCommand::RevokeLicense { sku_id }).await
    }

    async fn user_command(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        user_id: UserId,
        command: UserCommand,
    ) -> Result<ChangedUser, AppError> {
        let (_, user) = self.user_command_on(ctx, tenant, user_id, command).await?;
        Ok(ChangedUser { id: user_id, state: user.state })
    }

    /// Runs a command on a user of an active tenant, the tenant and the user read in one round
    /// trip; returns the tenant, and the user as the command left it.
    async fn user_command_on(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        user_id: UserId,
        command: UserCommand,
    ) -> Result<(Tenant, Loaded<User>), AppError> {
        let tenant_id = ctx.admin_scope(tenant)?.tenant_id();
        let (tenant_key, key) = (tenant_id.to_string(), user_id_key(tenant_id, user_id));
        let mut loaded = self.load_many(&[(Tenant::TYPE, &tenant_key), (User::TYPE, &key)]).await?;
        let tenant_state = loaded.take::<Tenant>(&tenant_key)?.state;
        tenant_state.ensure_active()?;
        let user = loaded.take::<User>(&key)?;
        let (_, user) = self.run_on::<User>(ctx, Some(tenant_id), &key, Some(user), command).await?;
        Ok((tenant_state, user))
    }

    /// Whether a user exists (not deleted) in the tenant, by the write side.
    pub(super) async fn user_exists(&self, tenant_id: TenantId, user_id: UserId) -> Result<bool, AppError> {
        Ok(self.load::<User>(&user_id_key(tenant_id, user_id)).await?.exists())
    }
}
