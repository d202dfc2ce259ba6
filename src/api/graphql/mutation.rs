use async_graphql::{Context, ID, Object};

use super::query::tenant_arg;
use super::types::{
    ApiKey, ApiKeyRole, CreateUserInput, CreatedApiKey, DeprovisionActionKind, Domain, Group, MfaPolicyKind, OrGraphql, ProfileUpdateInput,
    Tenant, User, app, caller,
};
use crate::app::{AppError, ChangedUser, NewUser, ProfileInput, RequestContext, TenantScope};
use crate::domain::values::{ApiKeyId, DomainName, GroupId, TenantId, UserId};
use crate::read::{api_keys, domains, groups, tenants, users};

pub struct Mutation;

type Res<T> = async_graphql::Result<T>;

fn not_visible(what: &str) -> AppError {
    AppError::NotFound(format!("{what} (the change was recorded but is not visible yet; query again)"))
}

async fn tenant_view(ctx: &Context<'_>, caller: &RequestContext, tenant_id: TenantId) -> Res<Tenant> {
    let scope = caller.read_scope(Some(tenant_id)).gql(caller)?;
    let row = tenants::get(app(ctx).db(), &scope).await.gql(caller)?.ok_or_else(|| not_visible("tenant")).gql(caller)?;
    Ok(Tenant { row, scope, past: None })
}

async fn domain(ctx: &Context<'_>, caller: &RequestContext, scope: TenantScope, name: &DomainName) -> Res<Domain> {
    let row = domains::get(app(ctx).db(), &scope, name.as_str()).await.gql(caller)?.ok_or_else(|| not_visible("domain")).gql(caller)?;
    Ok(Domain(row, None))
}

async fn user(ctx: &Context<'_>, caller: &RequestContext, scope: TenantScope, id: UserId) -> Res<User> {
    // Asked for the id alone (as provisioning scripts ask), the answer needs no read: the
    // command has settled already, so a query that follows sees the change.
    if ctx.field().selection_set().all(|field| matches!(field.name(), "id" | "__typename")) {
        let row = users::UserRow::known_by_id(scope.tenant_id().to_string(), id.to_string());
        return Ok(User { row, scope, past: None, deprovisioning: None });
    }
    let row = users::get(app(ctx).db(), &scope, &id.to_string()).await.gql(caller)?.ok_or_else(|| not_visible("user")).gql(caller)?;
    Ok(User { row, scope, past: None, deprovisioning: None })
}

/// A user mutation's answer. What the command decides (state, assignment, usage location, the
/// UPN…) comes from the write side's state as the command left it, which the read models show
/// too once settled (the command waited for that): no read back. A profile field or a
/// timestamp is read back from the read model.
async fn changed_user(ctx: &Context<'_>, caller: &RequestContext, scope: TenantScope, changed: ChangedUser) -> Res<User> {
    const READ_BACK: [&str; 6] = ["displayName", "givenName", "surname", "mail", "createdAt", "updatedAt"];
    if ctx.field().selection_set().all(|field| !READ_BACK.contains(&field.name()))
        && let Some(row) = users::UserRow::decided(scope.tenant_id(), changed.id, &changed.state)
    {
        return Ok(User { row, scope, past: None, deprovisioning: None });
    }
    user(ctx, caller, scope, changed.id).await
}

async fn group(ctx: &Context<'_>, caller: &RequestContext, scope: TenantScope, id: GroupId) -> Res<Group> {
    let row = groups::get(app(ctx).db(), &scope, &id.to_string()).await.gql(caller)?.ok_or_else(|| not_visible("group")).gql(caller)?;
    Ok(Group { row, scope, past: None })
}

/// The tenant scope and parsed tenant argument of a tenant-scoped mutation.
fn scope(caller: &RequestContext, tenant_id: Option<&ID>) -> Res<(Option<TenantId>, TenantScope)> {
    let tenant = tenant_arg(tenant_id).gql(caller)?;
    let scope = caller.read_scope(tenant).gql(caller)?;
    Ok((tenant, scope))
}

fn user_id(caller: &RequestContext, id: &ID) -> Res<UserId> {
    UserId::parse(id).map_err(AppError::from).gql(caller)
}

fn group_id(caller: &RequestContext, id: &ID) -> Res<GroupId> {
    GroupId::parse(id).map_err(AppError::from).gql(caller)
}

/// Every command of the admin API. Each returns the object as it is after the change.
#[Object]
impl Mutation {
    /// Connects the tenant's Microsoft 365 (Entra ID) tenant: the app registration's ids and
    /// either its client secret (stored encrypted, never shown) or `generateCertificate: true`
    /// (upload the returned certificate to the app registration). Re-connecting replaces it.
    async fn connect_microsoft365(
        &self,
        ctx: &Context<'_>,
        input: super::microsoft365::ConnectMicrosoft365Input,
        tenant_id: Option<ID>,
    ) -> Res<super::microsoft365::Microsoft365Connection> {
        super::microsoft365::connect(ctx, input, tenant_id.as_ref()).await
    }

    /// Forgets the connection (its secret included); nothing more is pushed to Microsoft 365.
    async fn disconnect_microsoft365(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> Res<bool> {
        super::microsoft365::disconnect(ctx, tenant_id.as_ref()).await
    }

    /// Gets a token and calls Graph; reports (and records) missing permissions and errors.
    async fn test_connection(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> Res<super::microsoft365::ConnectionTest> {
        super::microsoft365::test(ctx, tenant_id.as_ref()).await
    }

    /// Checks through Graph whether a domain can be federated; records the findings.
    async fn verify_compatibility(
        &self,
        ctx: &Context<'_>,
        domain: String,
        tenant_id: Option<ID>,
    ) -> Res<super::microsoft365::Compatibility> {
        super::microsoft365::verify(ctx, &domain, tenant_id.as_ref()).await
    }

    /// Reads the Microsoft 365 tenant's subscribed licenses (`subscribedSkus`) with the units
    /// left; grants of a license with none left are then refused before any call.
    async fn refresh_licenses(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> Res<Vec<super::microsoft365::SubscribedSku>> {
        super::microsoft365::refresh_licenses(ctx, tenant_id.as_ref()).await
    }

    /// Starts importing the Microsoft 365 users of `domains` (verified domains of the tenant;
    /// by default its federated domains): matched by UPN, missing onPremisesImmutableIds set,
    /// the others created in Tessera and assigned. One import or export job runs per tenant at a
    /// time (`CONFLICT` otherwise); follow it with `job(id)`.
    async fn start_import_users(&self, ctx: &Context<'_>, domains: Option<Vec<String>>, tenant_id: Option<ID>) -> Res<super::jobs::Job> {
        super::jobs::start_import(ctx, domains, tenant_id.as_ref()).await
    }

    /// Starts pushing every assigned user not yet provisioned into Microsoft 365 (`CONFLICT`
    /// while another job runs); follow it with `job(id)`.
    async fn start_export_users(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> Res<super::jobs::Job> {
        super::jobs::start_export(ctx, tenant_id.as_ref()).await
    }

    /// Puts a FAILED provisioning task back in line.
    async fn retry_task(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>) -> Res<super::provisioning::ProvisioningTask> {
        super::provisioning::retry(ctx, &id, tenant_id.as_ref()).await
    }

    /// Puts every FAILED provisioning task of the tenant back in line; returns how many.
    async fn retry_failed_tasks(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> Res<i32> {
        super::provisioning::retry_failed(ctx, tenant_id.as_ref()).await
    }

    /// Cancels a provisioning task that has not succeeded; later tasks of its object go ahead.
    async fn cancel_task(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>) -> Res<super::provisioning::ProvisioningTask> {
        super::provisioning::cancel(ctx, &id, tenant_id.as_ref()).await
    }

    /// Creates a tenant (operator keys only).
    async fn create_tenant(&self, ctx: &Context<'_>, name: String) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let id = app(ctx).create_tenant(caller, &name).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    async fn rename_tenant(&self, ctx: &Context<'_>, name: String, tenant_id: Option<ID>) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let id = app(ctx).rename_tenant(caller, tenant_arg(tenant_id.as_ref()).gql(caller)?, &name).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    /// Suspends a tenant: its users get no tokens and its data cannot change (operator keys only).
    async fn suspend_tenant(&self, ctx: &Context<'_>, tenant_id: ID) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let tenant_id = TenantId::parse(&tenant_id).map_err(AppError::from).gql(caller)?;
        let id = app(ctx).suspend_tenant(caller, tenant_id).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    async fn reactivate_tenant(&self, ctx: &Context<'_>, tenant_id: ID) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let tenant_id = TenantId::parse(&tenant_id).map_err(AppError::from).gql(caller)?;
        let id = app(ctx).reactivate_tenant(caller, tenant_id).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    /// Sets (or with null clears) the usage location given to new users.
    async fn set_default_usage_location(&self, ctx: &Context<'_>, usage_location: Option<String>, tenant_id: Option<ID>) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let id = app(ctx).set_default_usage_location(caller, tenant, usage_location.as_deref()).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    async fn set_default_licenses(&self, ctx: &Context<'_>, sku_ids: Vec<String>, tenant_id: Option<ID>) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let id = app(ctx).set_default_licenses(caller, tenant, &sku_ids).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    /// What unassigning (or deleting) a user does in Microsoft 365. `graceHours` (0 to 720, default
    /// 72) is how long DELETE waits; re-assignment within it cancels the deletion. Deletions
    /// already scheduled keep their time (see `pendingDeletions`).
    async fn set_deprovision_action(
        &self,
        ctx: &Context<'_>,
        action: DeprovisionActionKind,
        grace_hours: Option<i32>,
        tenant_id: Option<ID>,
    ) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let id = app(ctx).set_deprovision_action(caller, tenant, action.into(), grace_hours).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    async fn set_mfa_policy(&self, ctx: &Context<'_>, policy: MfaPolicyKind, tenant_id: Option<ID>) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let id = app(ctx).set_mfa_policy(caller, tenant, policy.into()).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    /// Replaces the URLs (besides Microsoft's sign-in endpoints) that tokens may be posted to.
    async fn set_reply_urls(&self, ctx: &Context<'_>, urls: Vec<String>, tenant_id: Option<ID>) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let id = app(ctx).set_reply_urls(caller, tenant, &urls).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    /// Sets how long issued tokens are valid (5 to 480 minutes).
    async fn set_token_lifetime(&self, ctx: &Context<'_>, minutes: i32, tenant_id: Option<ID>) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let id = app(ctx).set_token_lifetime(caller, tenant, minutes).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    /// Generates the next signing key and publishes it in metadata (push its certificate to
    /// Microsoft as `nextSigningCertificate`), ready to be activated.
    async fn generate_next_signing_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] key_size: super::sign_in::SigningKeySize,
        tenant_id: Option<ID>,
    ) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let id = app(ctx).generate_next_signing_key(caller, tenant, key_size.into()).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    /// Makes the next signing key the active one; tokens are signed with it from now on.
    async fn activate_next_signing_key(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> Res<Tenant> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let id = app(ctx).activate_next_signing_key(caller, tenant).await.gql(caller)?;
        tenant_view(ctx, caller, id).await
    }

    /// Adds a custom domain; publish its `verificationRecord` as a DNS TXT record, then verify.
    async fn add_domain(&self, ctx: &Context<'_>, name: String, tenant_id: Option<ID>) -> Res<Domain> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let name = app(ctx).add_domain(caller, tenant, &name).await.gql(caller)?;
        domain(ctx, caller, scope, &name).await
    }
    /// Looks up the domain's TXT records now and marks it verified when the record is there.
    async fn verify_domain(&self, ctx: &Context<'_>, name: String, tenant_id: Option<ID>) -> Res<Domain> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let name = app(ctx).verify_domain(caller, tenant, &name).await.gql(caller)?;
        domain(ctx, caller, scope, &name).await
    }
    /// Federates the domain with Microsoft 365 (verified, not onmicrosoft.com, not the default
    /// domain). With a Microsoft 365 connection it is done through Graph now and ends FEDERATED
    /// or MANAGED with `federationError`; without one it stays FEDERATION_REQUESTED until the
    /// admin has run `federationScript` and `confirmManualFederation`. `preview: true` returns
    /// the exact Graph request in `federationPreview` and changes nothing.
    async fn federate_domain(
        &self,
        ctx: &Context<'_>,
        name: String,
        tenant_id: Option<ID>,
        #[graphql(default)] preview: bool,
        #[graphql(default)] mfa_behavior: super::federation::FederatedIdpMfaBehavior,
    ) -> Res<Domain> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let (name, planned) = app(ctx).federate_domain_with(caller, tenant, &name, mfa_behavior.into(), preview).await.gql(caller)?;
        let mut view = domain(ctx, caller, scope, &name).await?;
        view.1 = planned;
        Ok(view)
    }
    /// Returns the domain to managed (cloud) authentication: through Graph when connected, else
    /// DEFEDERATION_REQUESTED until `confirmManualFederation`. `preview: true` lists the Graph
    /// requests and the users who would need cloud passwords, and changes nothing.
    async fn defederate_domain(
        &self,
        ctx: &Context<'_>,
        name: String,
        tenant_id: Option<ID>,
        #[graphql(default)] preview: bool,
    ) -> Res<Domain> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let (name, planned) = app(ctx).defederate_domain_with(caller, tenant, &name, preview).await.gql(caller)?;
        let mut view = domain(ctx, caller, scope, &name).await?;
        view.1 = planned;
        Ok(view)
    }
    /// Records a federation change made with PowerShell, once Graph shows it.
    async fn confirm_manual_federation(&self, ctx: &Context<'_>, name: String, tenant_id: Option<ID>) -> Res<Domain> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let name = app(ctx).confirm_manual_federation(caller, tenant, &name).await.gql(caller)?;
        domain(ctx, caller, scope, &name).await
    }

    /// Removes a (managed) domain; returns its name.
    async fn remove_domain(&self, ctx: &Context<'_>, name: String, tenant_id: Option<ID>) -> Res<String> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        Ok(app(ctx).remove_domain(caller, tenant, &name).await.gql(caller)?.to_string())
    }

    /// Creates a user in a verified domain; the ImmutableID is generated once, here.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput, tenant_id: Option<ID>) -> Res<User> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let new_user = NewUser {
            user_principal_name: input.user_principal_name,
            profile: ProfileInput {
                display_name: input.display_name,
                given_name: input.given_name,
                surname: input.surname,
                mail: input.mail,
            },
            usage_location: input.usage_location,
            password: input.password,
        };
        let id = app(ctx).create_user(caller, tenant, new_user).await.gql(caller)?;
        user(ctx, caller, scope, id).await
    }

    async fn update_user_profile(&self, ctx: &Context<'_>, id: ID, input: ProfileUpdateInput, tenant_id: Option<ID>) -> Res<User> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let profile =
            ProfileInput { display_name: input.display_name, given_name: input.given_name, surname: input.surname, mail: input.mail };
        let changed = app(ctx).update_user_profile(caller, tenant, user_id(caller, &id)?, profile).await.gql(caller)?;
        changed_user(ctx, caller, scope, changed).await
    }

    /// Sets the user's password (8 to 256 characters), stored as a sealed argon2id hash.
    async fn set_password(&self, ctx: &Context<'_>, id: ID, password: String, tenant_id: Option<ID>) -> Res<User> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let changed = app(ctx).set_password(caller, tenant, user_id(caller, &id)?, &password).await.gql(caller)?;
        changed_user(ctx, caller, scope, changed).await
    }

    async fn suspend_user(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>) -> Res<User> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let changed = app(ctx).suspend_user(caller, tenant, user_id(caller, &id)?).await.gql(caller)?;
        changed_user(ctx, caller, scope, changed).await
    }
    async fn reactivate_user(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>) -> Res<User> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let changed = app(ctx).reactivate_user(caller, tenant, user_id(caller, &id)?).await.gql(caller)?;
        changed_user(ctx, caller, scope, changed).await
    }
    /// Assigns the user to Microsoft 365 (provisioning follows).
    async fn assign_user(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>) -> Res<User> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let changed = app(ctx).assign_user(caller, tenant, user_id(caller, &id)?).await.gql(caller)?;
        changed_user(ctx, caller, scope, changed).await
    }
    /// Unassigns the user from Microsoft 365; the tenant's deprovision action follows there.
    /// `preview: true` changes nothing and returns the user with `deprovisioningPreview`: the
    /// action that would apply, when, and the exact Graph requests.
    async fn unassign_user(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>, #[graphql(default)] preview: bool) -> Res<User> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        if preview {
            let planned = app(ctx)
                .preview_deprovisioning(caller, tenant, user_id(caller, &id)?, crate::app::DeprovisionCause::Unassign)
                .await
                .gql(caller)?;
            let mut view = user(ctx, caller, scope, planned.user_id).await?;
            view.deprovisioning = Some(planned);
            return Ok(view);
        }
        let changed = app(ctx).unassign_user(caller, tenant, user_id(caller, &id)?).await.gql(caller)?;
        changed_user(ctx, caller, scope, changed).await
    }

    /// Deletes the user and frees the UPN; returns the id. An assigned user gets the tenant's
    /// deprovision action in Microsoft 365: `deprovisioningPreview(userId, cause: DELETE)` shows
    /// what it would do first.
    async fn delete_user(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>) -> Res<ID> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let id = app(ctx).delete_user(caller, tenant, user_id(caller, &id)?).await.gql(caller)?;
        Ok(ID(id.to_string()))
    }

    /// Forgets a deleted user (admin keys): destroys the keys their personal data was sealed
    /// with, so every read model, history and export shows it as forgotten, while the audit
    /// chain still verifies. Cannot be undone. With `preview: true`, changes nothing and tells
    /// what would be destroyed. Fails with USER_NOT_DELETED for a user not deleted first.
    async fn forget_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = false)] preview: bool,
        tenant_id: Option<ID>,
    ) -> Res<super::forget::ForgetUserResult> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let report = app(ctx).forget_user(caller, tenant, user_id(caller, &id)?, preview).await.gql(caller)?;
        Ok(report.into())
    }

    async fn set_usage_location(&self, ctx: &Context<'_>, id: ID, usage_location: String, tenant_id: Option<ID>) -> Res<User> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let changed = app(ctx).set_usage_location(caller, tenant, user_id(caller, &id)?, &usage_location).await.gql(caller)?;
        changed_user(ctx, caller, scope, changed).await
    }

    /// Grants a license (needs a usage location).
    async fn grant_license(&self, ctx: &Context<'_>, id: ID, sku_id: String, tenant_id: Option<ID>) -> Res<User> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let changed = app(ctx).grant_license(caller, tenant, user_id(caller, &id)?, &sku_id).await.gql(caller)?;
        changed_user(ctx, caller, scope, changed).await
    }

    async fn revoke_license(&self, ctx: &Context<'_>, id: ID, sku_id: String, tenant_id: Option<ID>) -> Res<User> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let changed = app(ctx).revoke_license(caller, tenant, user_id(caller, &id)?, &sku_id).await.gql(caller)?;
        changed_user(ctx, caller, scope, changed).await
    }

    async fn create_group(
        &self,
        ctx: &Context<'_>,
        display_name: String,
        description: Option<String>,
        tenant_id: Option<ID>,
    ) -> Res<Group> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let id = app(ctx).create_group(caller, tenant, &display_name, description.as_deref()).await.gql(caller)?;
        group(ctx, caller, scope, id).await
    }

    async fn rename_group(&self, ctx: &Context<'_>, id: ID, display_name: String, tenant_id: Option<ID>) -> Res<Group> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let id = app(ctx).rename_group(caller, tenant, group_id(caller, &id)?, &display_name).await.gql(caller)?;
        group(ctx, caller, scope, id).await
    }

    async fn add_group_member(&self, ctx: &Context<'_>, group_id: ID, user_id: ID, tenant_id: Option<ID>) -> Res<Group> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let user_id = self::user_id(caller, &user_id)?;
        let id = app(ctx).add_group_member(caller, tenant, self::group_id(caller, &group_id)?, user_id).await.gql(caller)?;
        group(ctx, caller, scope, id).await
    }

    async fn remove_group_member(&self, ctx: &Context<'_>, group_id: ID, user_id: ID, tenant_id: Option<ID>) -> Res<Group> {
        let caller = caller(ctx)?;
        let (tenant, scope) = scope(caller, tenant_id.as_ref())?;
        let user_id = self::user_id(caller, &user_id)?;
        let id = app(ctx).remove_group_member(caller, tenant, self::group_id(caller, &group_id)?, user_id).await.gql(caller)?;
        group(ctx, caller, scope, id).await
    }

    /// Deletes the group; returns its id.
    async fn delete_group(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>) -> Res<ID> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let id = app(ctx).delete_group(caller, tenant, group_id(caller, &id)?).await.gql(caller)?;
        Ok(ID(id.to_string()))
    }

    /// Creates an API key. The secret is returned this once; only its hash is kept.
    async fn create_api_key(&self, ctx: &Context<'_>, name: String, role: ApiKeyRole, tenant_id: Option<ID>) -> Res<CreatedApiKey> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let created = app(ctx).create_api_key(caller, tenant, &name, role.into()).await.gql(caller)?;
        let row = api_keys::get(app(ctx).db(), &created.key_id.to_string())
            .await
            .gql(caller)?
            .ok_or_else(|| not_visible("API key"))
            .gql(caller)?;
        Ok(CreatedApiKey { api_key: ApiKey::from(row), secret: created.secret })
    }

    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Res<ApiKey> {
        let caller = caller(ctx)?;
        let key_id = ApiKeyId::parse(&id).map_err(AppError::from).gql(caller)?;
        let key_id = app(ctx).revoke_api_key(caller, key_id).await.gql(caller)?;
        let row = api_keys::get(app(ctx).db(), &key_id.to_string()).await.gql(caller)?.ok_or_else(|| not_visible("API key")).gql(caller)?;
        Ok(ApiKey::from(row))
    }
}
