use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object};

use super::types::{ApiKey, Domain, Group, OrGraphql, Tenant, User, UserFilterInput, app, caller};
use crate::app::AppError;
use crate::domain::values::{GroupId, TenantId, Upn, UserId};
use crate::read::{api_keys, domains, groups, tenants, users};

pub struct Query;

/// Parses an optional `tenantId` argument (only operators may name a tenant).
pub fn tenant_arg(id: Option<&ID>) -> Result<Option<TenantId>, AppError> {
    Ok(id.map(|id| TenantId::parse(id)).transpose()?)
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
                Ok(Tenant { row, scope })
            })
            .collect::<Result<Vec<_>, AppError>>()
            .gql(caller)
    }

    async fn tenant(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> async_graphql::Result<Option<Tenant>> {
        let caller = caller(ctx)?;
        let scope = tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(caller)?;
        let row = tenants::get(app(ctx).db(), &scope).await.gql(caller)?;
        Ok(row.map(|row| Tenant { row, scope }))
    }

    async fn domains(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> async_graphql::Result<Vec<Domain>> {
        let caller = caller(ctx)?;
        let scope = tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(caller)?;
        Ok(domains::list(app(ctx).db(), &scope).await.gql(caller)?.into_iter().map(Domain).collect())
    }

    async fn domain(&self, ctx: &Context<'_>, name: String, tenant_id: Option<ID>) -> async_graphql::Result<Option<Domain>> {
        let caller = caller(ctx)?;
        let scope = tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(caller)?;
        let name = crate::domain::values::DomainName::parse(&name).map_err(AppError::from).gql(caller)?;
        Ok(domains::get(app(ctx).db(), &scope, name.as_str()).await.gql(caller)?.map(Domain))
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
        let scope = tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(caller)?;
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
        connection.edges.extend(rows.into_iter().map(|row| Edge::new(row.user_id.clone(), User { row, scope })));
        Ok(connection)
    }

    async fn user(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>) -> async_graphql::Result<Option<User>> {
        let caller = caller(ctx)?;
        let scope = tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(caller)?;
        let user_id = UserId::parse(&id).map_err(AppError::from).gql(caller)?;
        Ok(users::get(app(ctx).db(), &scope, &user_id.to_string()).await.gql(caller)?.map(|row| User { row, scope }))
    }

    async fn user_by_upn(
        &self,
        ctx: &Context<'_>,
        user_principal_name: String,
        tenant_id: Option<ID>,
    ) -> async_graphql::Result<Option<User>> {
        let caller = caller(ctx)?;
        let scope = tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(caller)?;
        let upn = Upn::parse(&user_principal_name).map_err(AppError::from).gql(caller)?;
        Ok(users::by_upn(app(ctx).db(), &scope, &upn.to_string()).await.gql(caller)?.map(|row| User { row, scope }))
    }

    async fn groups(&self, ctx: &Context<'_>, tenant_id: Option<ID>) -> async_graphql::Result<Vec<Group>> {
        let caller = caller(ctx)?;
        let scope = tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(caller)?;
        Ok(groups::list(app(ctx).db(), &scope).await.gql(caller)?.into_iter().map(|row| Group { row, scope }).collect())
    }

    async fn group(&self, ctx: &Context<'_>, id: ID, tenant_id: Option<ID>) -> async_graphql::Result<Option<Group>> {
        let caller = caller(ctx)?;
        let scope = tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(caller)?;
        let group_id = GroupId::parse(&id).map_err(AppError::from).gql(caller)?;
        Ok(groups::get(app(ctx).db(), &scope, &group_id.to_string()).await.gql(caller)?.map(|row| Group { row, scope }))
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
        let scope = tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(caller)?;
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
            tenant_arg(tenant_id.as_ref()).and_then(|t| caller.read_scope(t)).gql(caller)?.tenant_id().to_string()
        };
        Ok(api_keys::list(app(ctx).db(), &tenant).await.gql(caller)?.into_iter().map(ApiKey::from).collect())
    }

    /// The key making this request.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ApiKey>> {
        let caller = caller(ctx)?;
        Ok(api_keys::get(app(ctx).db(), &caller.principal.key_id.to_string()).await.gql(caller)?.map(ApiKey::from))
    }
}
