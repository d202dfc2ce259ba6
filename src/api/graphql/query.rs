use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::audit::{AuditEvent, AuditEventFilter, HistoryEntry};
use super::types::{ApiKey, AuditPublicKey, Domain, Group, OrGraphql, Tenant, User, UserFilterInput, app, caller};
use crate::app::AppError;
use crate::domain::values::{GroupId, TenantId, Upn, UserId};
use crate::read::{api_keys, audit, domains, groups, tenants, users};

pub struct Query;

/// Parses an optional `tenantId` argument (only operators may name a tenant).
pub fn tenant_arg(id: Option<&ID>) -> Result<Option<TenantId>, AppError> {
    Ok(id.map(|id| TenantId::parse(id)).transpose()?)
}

/// The tenant a read acts on: the key's own, or for an operator the one it names.
pub fn read_scope(caller: &crate::app::RequestContext, id: Option<&ID>) -> async_graphql::Result<crate::app::TenantScope> {
    tenant_arg(id).and_then(|t| caller.read_scope(t)).gql(caller)
}

const MAX_PAGE: i32 = 100;

/// Reads of the tenant's directory. Admin and auditor keys read their own tenant; operator keys
/// name one with `tenantId`.
#[Object]
impl Query {
    /// Every tenant (operator keys only).
    async fn tenants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Tenant>> {
        let caller = caller(ctx)?;
        caller.require_operator().gql(caller)?;
        let rows = tenants::list_all(app(ctx).db()).await.gql(caller)?;
        rows.into_iter()
            .map(|row| {
                let scope = caller.read_scope(Some(TenantId::parse(&row.tenant_id)?))?;
                Ok(Tenant { row, scope, past: None })
            })
            .collect::<Result<Vec<_>, AppError>>()
            .gql(caller)
    }

    /// The tenant; with `asOf`, as it was then (folded from its events up to that moment).
    async fn tenant(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<Tenant>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        let past = app(ctx).past(&scope, as_of).await.gql(caller)?;
        let row = tenants::get(past.as_ref().unwrap_or(app(ctx).db()), &scope).await.gql(caller)?;
        Ok(row.map(|row| Tenant { row, scope, past }))
    }

    async fn domains(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> async_graphql::Result<Vec<Domain>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        Ok(domains::list(app(ctx).db(), &scope).await.gql(caller)?.into_iter().map(Domain::from).collect())
    }

    /// A domain; with `asOf`, as it was then.
    async fn domain(
        &self,
        ctx: &Context<'_>,
        name: String,
        tenant_id: Option<ID>,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<Domain>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        let name = crate::domain::values::DomainName::parse(&name).map_err(AppError::from).gql(caller)?;
        let past = app(ctx).past(&scope, as_of).await.gql(caller)?;
        Ok(domains::get(past.as_ref().unwrap_or(app(ctx).db()), &scope, name.as_str()).await.gql(caller)?.map(Domain::from))
    }

    /// Users in creation order, a page at a time (Relay cursor connection; `first` at most 100).
    async fn users(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<UserFilterInput>,
    ) -> async_graphql::Result<Connection<String, User>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        let first = first.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&first) {
            return Err(AppError::validation("first", format!("must be between 1 and {MAX_PAGE}")).to_graphql(&caller.correlation_id));
        }
        let after = after
            .map(|cursor| {
                UserId::parse(&cursor)
                    .map(|id| id.to_string())
                    .map_err(|_| AppError::validation("after", "is not a cursor from this connection"))
            })
            .transpose()
            .gql(caller)?;
        let filter = filter.unwrap_or_default().into_filter();
        let (rows, more) = users::page(app(ctx).db(), &scope, &filter, i64::from(first), after.as_deref()).await.gql(caller)?;
        let mut connection = Connection::new(after.is_some(), more);
        connection
            .edges
            .extend(rows.into_iter().map(|row| Edge::new(row.user_id.clone(), User { row, scope, past: None, deprovisioning: None })));
        Ok(connection)
    }

    /// What unassigning (`cause: UNASSIGN`) or deleting (`cause: DELETE`) the user would do in
    /// Microsoft 365: who, the tenant's deprovision action, when, and the exact Graph requests.
    /// Changes nothing (admin keys).
    async fn deprovisioning_preview(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        #[graphql(default)] cause: super::deprovisioning::DeprovisionCause,
        tenant_id: Option<ID>,
    ) -> async_graphql::Result<super::deprovisioning::DeprovisioningPreview> {
        super::deprovisioning::preview(ctx, &user_id, cause, tenant_id.as_ref()).await
    }

    /// The Microsoft 365 users the DELETE deprovision action will delete when their grace period
    /// ends, the soonest first, each with the exact Graph request. Changes nothing.
    async fn pending_deletions(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
    ) -> async_graphql::Result<Vec<super::deprovisioning::PendingDeletion>> {
        super::deprovisioning::pending(ctx, tenant_id.as_ref()).await
    }

    /// A user; with `asOf`, as they were then (licenses and groups included).
    async fn user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        tenant_id: Option<ID>,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<User>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        let user_id = UserId::parse(&id).map_err(AppError::from).gql(caller)?;
        let past = app(ctx).past(&scope, as_of).await.gql(caller)?;
        let row = users::get(past.as_ref().unwrap_or(app(ctx).db()), &scope, &user_id.to_string()).await.gql(caller)?;
        Ok(row.map(|row| User { row, scope, past, deprovisioning: None }))
    }

    async fn user_by_upn(
        &self,
        ctx: &Context<'_>,
        user_principal_name: String,
        tenant_id: Option<ID>,
    ) -> async_graphql::Result<Option<User>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        let upn = Upn::parse(&user_principal_name).map_err(AppError::from).gql(caller)?;
        Ok(users::by_upn(app(ctx).db(), &scope, &upn.to_string()).await.gql(caller)?.map(|row| User {
            row,
            scope,
            past: None,
            deprovisioning: None,
        }))
    }

    async fn groups(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> async_graphql::Result<Vec<Group>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        Ok(groups::list(app(ctx).db(), &scope).await.gql(caller)?.into_iter().map(|row| Group { row, scope, past: None }).collect())
    }

    /// A group; with `asOf`, as it was then (members included).
    async fn group(
        &self,
        ctx: &Context<'_>,
        id: ID,
        tenant_id: Option<ID>,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<Group>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        let group_id = GroupId::parse(&id).map_err(AppError::from).gql(caller)?;
        let past = app(ctx).past(&scope, as_of).await.gql(caller)?;
        let row = groups::get(past.as_ref().unwrap_or(app(ctx).db()), &scope, &group_id.to_string()).await.gql(caller)?;
        Ok(row.map(|row| Group { row, scope, past }))
    }

    /// The tenant's Microsoft 365 connection (null when not connected). Never shows secrets.
    async fn microsoft365_connection(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
    ) -> async_graphql::Result<Option<super::microsoft365::Microsoft365Connection>> {
        super::microsoft365::connection(ctx, tenant_id.as_ref()).await
    }

    /// The provisioning outbox: tasks pushing changes to Microsoft 365, oldest first, filtered
    /// by status and user (Relay cursor connection; `first` at most 100).
    async fn provisioning_tasks(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
        status: Option<super::provisioning::TaskStatus>,
        user_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, super::provisioning::ProvisioningTask>> {
        super::provisioning::tasks(ctx, tenant_id.as_ref(), status, user_id, first, after).await
    }

    /// An import or export job: progress counts while it runs, the per-user report at the end.
    async fn job(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>) -> async_graphql::Result<Option<super::jobs::Job>> {
        super::jobs::job(ctx, &id, tenant_id.as_ref()).await
    }

    /// The tenant's import and export jobs, newest first (Relay cursor connection; `first` at
    /// most 100).
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, super::jobs::Job>> {
        super::jobs::list(ctx, tenant_id.as_ref(), first, after).await
    }

    async fn provisioning_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        tenant_id: Option<ID>,
    ) -> async_graphql::Result<Option<super::provisioning::ProvisioningTask>> {
        super::provisioning::task(ctx, &id, tenant_id.as_ref()).await
    }

    /// The exact PowerShell (Microsoft Graph PowerShell, or MSOnline for old tenants) that
    /// federates the domain with Tessera or reverts it to managed; then `confirmManualFederation`.
    async fn federation_script(
        &self,
        ctx: &Context<'_>,
        domain: String,
        action: super::federation::FederationAction,
        #[graphql(default_with = "super::federation::PowerShellFlavor::GraphPowershell")] flavor: super::federation::PowerShellFlavor,
        #[graphql(default)] mfa_behavior: super::federation::FederatedIdpMfaBehavior,
        tenant_id: Option<ID>,
    ) -> async_graphql::Result<String> {
        super::federation::script(ctx, &domain, action, flavor, mfa_behavior, tenant_id.as_ref()).await
    }

    /// A user's sign-in attempts at the WS-Federation endpoint, newest first (`first` at most
    /// 100): why each failed, or exactly which claims were sent to Microsoft.
    async fn sign_ins(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        tenant_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, super::sign_in::SignInRecord>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        let user_id = UserId::parse(&user_id).map_err(AppError::from).gql(caller)?;
        let first = first.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&first) {
            return Err(AppError::validation("first", format!("must be between 1 and {MAX_PAGE}")).to_graphql(&caller.correlation_id));
        }
        let after = after
            .map(|cursor| {
                uuid::Uuid::parse_str(&cursor)
                    .map(|id| id.to_string())
                    .map_err(|_| AppError::validation("after", "is not a cursor from this connection"))
            })
            .transpose()
            .gql(caller)?;
        let (rows, more) = crate::read::sign_ins::page(app(ctx).db(), &scope, &user_id.to_string(), i64::from(first), after.as_deref())
            .await
            .gql(caller)?;
        let mut connection = Connection::new(after.is_some(), more);
        connection.edges.extend(rows.into_iter().map(|row| Edge::new(row.sign_in_id.clone(), super::sign_in::SignInRecord(row))));
        Ok(connection)
    }

    /// API keys of the tenant (or, for an operator without `tenantId`, the operator keys).
    /// Secrets are never listed.
    async fn api_keys(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> async_graphql::Result<Vec<ApiKey>> {
        let caller = caller(ctx)?;
        let tenant = if caller.is_operator() && tenant_id.is_none() {
            String::new()
        } else {
            read_scope(caller, tenant_id.as_ref())?.tenant_id().to_string()
        };
        Ok(api_keys::list(app(ctx).db(), &tenant).await.gql(caller)?.into_iter().map(ApiKey::from).collect())
    }

    /// The tenant's current audit public key (also at `GET /audit/{tenantId}/public-key.pem`).
    async fn audit_public_key(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> async_graphql::Result<AuditPublicKey> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        let keys = app(ctx).audit_public_keys(scope.tenant_id()).await.gql(caller)?;
        let key = keys.into_iter().last().ok_or_else(|| AppError::NotFound("audit key".into())).gql(caller)?;
        Ok(AuditPublicKey { key_id: key.key_id, public_key_pem: key.public_key_pem })
    }

    /// The tenant's event history in global order, a page at a time (`first` at most 100;
    /// the cursor is the position). Every key that may read the tenant may read its history.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
        filter: Option<AuditEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, AuditEvent>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        let first = first.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&first) {
            return Err(AppError::validation("first", format!("must be between 1 and {MAX_PAGE}")).to_graphql(&caller.correlation_id));
        }
        let after = after
            .map(|cursor| cursor.parse::<i64>().map_err(|_| AppError::validation("after", "is not a cursor from this connection")))
            .transpose()
            .gql(caller)?;
        let filter = filter.unwrap_or_default().into_filter();
        let (mut rows, more) = audit::page(app(ctx).db(), &scope, &filter, i64::from(first), after).await.gql(caller)?;
        app(ctx).open_audit_rows(&scope, &mut rows).await.gql(caller)?;
        let mut connection = Connection::new(after.is_some(), more);
        connection.edges.extend(rows.into_iter().map(|row| Edge::new(row.position.to_string(), AuditEvent(row))));
        Ok(connection)
    }

    /// One event of the tenant's history by its global position.
    async fn audit_event(&self, ctx: &Context<'_>, position: i64, tenant_id: Option<ID>) -> async_graphql::Result<Option<AuditEvent>> {
        let caller = caller(ctx)?;
        let scope = read_scope(caller, tenant_id.as_ref())?;
        let mut rows: Vec<_> = audit::get(app(ctx).db(), &scope, position).await.gql(caller)?.into_iter().collect();
        app(ctx).open_audit_rows(&scope, &mut rows).await.gql(caller)?;
        Ok(rows.pop().map(AuditEvent))
    }

    /// A user's timeline as readable sentences, oldest first (their events and group
    /// memberships).
    async fn history(&self, ctx: &Context<'_>, user_id: ID, tenant_id: Option<ID>) -> async_graphql::Result<Vec<HistoryEntry>> {
        let caller = caller(ctx)?;
        let tenant = tenant_arg(tenant_id.as_ref()).gql(caller)?;
        let user_id = UserId::parse(&user_id).map_err(AppError::from).gql(caller)?;
        Ok(app(ctx).user_history(caller, tenant, user_id).await.gql(caller)?.into_iter().map(HistoryEntry).collect())
    }

    /// The key making this request.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ApiKey>> {
        let caller = caller(ctx)?;
        Ok(api_keys::get(app(ctx).db(), &caller.principal.key_id.to_string()).await.gql(caller)?.map(ApiKey::from))
    }
}
