use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::app::{AppError, RequestContext, TenantScope, Tessera};
use crate::db::Db;
use crate::domain::api_key::Role;
use crate::domain::tenant::{DeprovisionAction, MfaPolicy};
use crate::read::domains::DomainRow;
use crate::read::groups::GroupRow;
use crate::read::tenants::TenantRow;
use crate::read::users::{UserFilter, UserRow};
use crate::read::{domains, groups, users};

/// Resolvers reach the application and the caller through these two.
pub fn app<'a>(ctx: &Context<'a>) -> &'a Arc<Tessera> {
    ctx.data_unchecked::<Arc<Tessera>>()
}

pub fn caller<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a RequestContext> {
    ctx.data_opt::<RequestContext>().ok_or_else(|| AppError::Unauthenticated("an API key is required".into()).to_graphql(""))
}

/// Maps a use-case error to a GraphQL error carrying the caller's correlation id.
pub trait OrGraphql<T> {
    fn gql(self, ctx: &RequestContext) -> async_graphql::Result<T>;
}

impl<T, E: Into<AppError>> OrGraphql<T> for Result<T, E> {
    fn gql(self, ctx: &RequestContext) -> async_graphql::Result<T> {
        self.map_err(|e| e.into().to_graphql(&ctx.correlation_id))
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "Role")]
pub enum ApiKeyRole {
    Operator,
    Admin,
    Auditor,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "DeprovisionAction")]
pub enum DeprovisionActionKind {
    BlockSignIn,
    Delete,
    None,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "MfaPolicy")]
pub enum MfaPolicyKind {
    Off,
    Optional,
    Required,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserState {
    Active,
    Suspended,
}

impl UserState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Suspended => "SUSPENDED",
        }
    }
}

pub struct Tenant {
    pub row: TenantRow,
    pub scope: TenantScope,
    /// A past state's scratch read models (`asOf`); `None` reads the live ones.
    pub past: Option<Db>,
}

/// A customer organization of Tessera.
#[Object]
impl Tenant {
    async fn id(&self) -> ID {
        ID(self.row.tenant_id.clone())
    }
    async fn name(&self) -> &str {
        &self.row.name
    }
    /// ACTIVE or SUSPENDED.
    async fn status(&self) -> &str {
        &self.row.status
    }
    /// Usage location given to new users without one (ISO 3166-1 alpha-2).
    async fn default_usage_location(&self) -> Option<&str> {
        self.row.default_usage_location.as_deref()
    }
    /// SKU ids granted to users when they are assigned to Microsoft 365.
    async fn default_licenses(&self) -> Vec<ID> {
        self.row.default_licenses.split(',').filter(|s| !s.is_empty()).map(|s| ID(s.to_owned())).collect()
    }
    async fn deprovision_action(&self) -> &str {
        &self.row.deprovision_action
    }
    /// How long the DELETE deprovision action waits after unassignment (hours; 72 by default).
    /// The current setting, also under `asOf` (past states keep no outbox).
    async fn deprovision_grace_hours(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let caller = caller(ctx)?;
        let outbox = crate::read::deprovisioning::tenant(app(ctx).db(), &self.scope).await.gql(caller)?;
        Ok(outbox.map_or(crate::projections::DEFAULT_GRACE_HOURS, |t| t.delete_grace_hours))
    }
    async fn mfa_policy(&self) -> &str {
        &self.row.mfa_policy
    }
    /// Validity of issued tokens in minutes (null: the server default, one hour unless configured).
    async fn token_lifetime_minutes(&self) -> Option<i64> {
        self.row.token_lifetime_minutes
    }
    /// URLs besides Microsoft's sign-in endpoints that tokens may be posted to (`wreply`).
    async fn reply_urls(&self) -> Vec<&str> {
        self.row.reply_urls.split('\n').filter(|s| !s.is_empty()).collect()
    }
    /// The WS-Federation passive requestor endpoint (Graph `passiveSignInUri`).
    async fn passive_sign_in_uri(&self, ctx: &Context<'_>) -> String {
        app(ctx).sign_in_settings().passive_endpoint(&self.row.tenant_id)
    }
    /// The issuer URI of one of the tenant's domains (Graph `issuerUri`).
    async fn issuer_uri(&self, ctx: &Context<'_>, domain: String) -> String {
        app(ctx).sign_in_settings().domain_issuer(&self.row.tenant_id, &domain.to_lowercase())
    }
    /// The active and (during a rollover) next signing keys.
    async fn signing_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::sign_in::SigningKey>> {
        let caller = caller(ctx)?;
        let rows = crate::read::signing_keys::current(app(ctx).db(), &self.scope).await.gql(caller)?;
        Ok(rows.into_iter().map(super::sign_in::SigningKey).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    async fn domains(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Domain>> {
        let caller = caller(ctx)?;
        let rows = domains::list(self.db(ctx), &self.scope).await.gql(caller)?;
        Ok(rows.into_iter().map(Domain::from).collect())
    }
    async fn groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Group>> {
        let caller = caller(ctx)?;
        let rows = groups::list(self.db(ctx), &self.scope).await.gql(caller)?;
        Ok(rows.into_iter().map(|row| Group { row, scope: self.scope, past: self.past.clone() }).collect())
    }
}

/// A custom domain of the tenant; `1` is what a `preview: true` federation mutation would do.
pub struct Domain(pub DomainRow, pub Option<crate::app::FederationPreview>);

impl From<DomainRow> for Domain {
    fn from(row: DomainRow) -> Self {
        Self(row, None)
    }
}

#[Object]
impl Domain {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn verified(&self) -> bool {
        self.0.verified
    }
    /// The TXT record to publish at the domain to prove ownership.
    async fn verification_record(&self) -> String {
        format!("{}{}", crate::domain::custom_domain::VERIFICATION_RECORD_PREFIX, self.0.verification_token)
    }
    /// MANAGED, FEDERATION_REQUESTED, FEDERATED or DEFEDERATION_REQUESTED.
    async fn federation(&self) -> &str {
        &self.0.federation
    }
    /// The issuer Microsoft 365 federates the domain with (FEDERATED only).
    async fn federated_issuer_uri(&self) -> Option<&str> {
        self.0.issuer_uri.as_deref()
    }
    /// Why the last federation change did not happen, with Graph's error.
    async fn federation_error(&self) -> Option<super::federation::FederationError> {
        super::federation::FederationError::parse(self.0.federation_error.as_deref())
    }
    /// Set only by a federation mutation with `preview: true`: what it would send and affect.
    async fn federation_preview(&self) -> Option<super::federation::FederationPreview> {
        self.1.clone().map(super::federation::FederationPreview)
    }
    async fn added_at(&self) -> DateTime<Utc> {
        self.0.added_at
    }
    async fn verified_at(&self) -> Option<DateTime<Utc>> {
        self.0.verified_at
    }
}

pub struct User {
    pub row: UserRow,
    pub scope: TenantScope,
    /// A past state's scratch read models (`asOf`); `None` reads the live ones.
    pub past: Option<Db>,
    /// Set only by `unassignUser(preview: true)`: what unassigning would do in Microsoft 365.
    pub deprovisioning: Option<crate::app::DeprovisionPreview>,
}

/// A person of the tenant.
#[Object]
impl User {
    /// Set only by `unassignUser(preview: true)`: what unassigning would do in Microsoft 365
    /// (the action, when, the exact Graph requests); nothing was changed.
    async fn deprovisioning_preview(&self) -> Option<super::deprovisioning::DeprovisioningPreview> {
        self.deprovisioning.clone().map(super::deprovisioning::DeprovisioningPreview)
    }
    async fn id(&self) -> ID {
        ID(self.row.user_id.clone())
    }
    async fn user_principal_name(&self) -> &str {
        &self.row.upn
    }
    /// The source anchor: Microsoft 365's onPremisesImmutableId and the token's NameIdentifier.
    async fn immutable_id(&self) -> &str {
        &self.row.immutable_id
    }
    async fn display_name(&self) -> &str {
        &self.row.display_name
    }
    async fn given_name(&self) -> Option<&str> {
        self.row.given_name.as_deref()
    }
    async fn surname(&self) -> Option<&str> {
        self.row.surname.as_deref()
    }
    async fn mail(&self) -> Option<&str> {
        self.row.mail.as_deref()
    }
    /// ACTIVE or SUSPENDED.
    async fn state(&self) -> &str {
        &self.row.status
    }
    /// Whether the user is assigned to Microsoft 365.
    async fn assigned(&self) -> bool {
        self.row.assigned
    }
    async fn usage_location(&self) -> Option<&str> {
        self.row.usage_location.as_deref()
    }
    async fn password_set(&self) -> bool {
        self.row.password_set
    }
    /// The person was forgotten: their personal values read `(forgotten)`.
    async fn personal_data_forgotten(&self) -> bool {
        self.row.forgotten
    }
    /// SKU ids of the licenses granted.
    async fn licenses(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ID>> {
        let caller = caller(ctx)?;
        let skus = users::licenses(self.db(ctx), &self.scope, &self.row.user_id).await.gql(caller)?;
        Ok(skus.into_iter().map(ID).collect())
    }
    async fn groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Group>> {
        let caller = caller(ctx)?;
        let rows = groups::of_user(self.db(ctx), &self.scope, &self.row.user_id).await.gql(caller)?;
        Ok(rows.into_iter().map(|row| Group { row, scope: self.scope, past: self.past.clone() }).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

pub struct Group {
    pub row: GroupRow,
    pub scope: TenantScope,
    /// A past state's scratch read models (`asOf`); `None` reads the live ones.
    pub past: Option<Db>,
}

/// A security group of the tenant.
#[Object]
impl Group {
    async fn id(&self) -> ID {
        ID(self.row.group_id.clone())
    }
    async fn display_name(&self) -> &str {
        &self.row.name
    }
    async fn description(&self) -> Option<&str> {
        self.row.description.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let caller = caller(ctx)?;
        let rows = groups::members(self.db(ctx), &self.scope, &self.row.group_id).await.gql(caller)?;
        Ok(rows.into_iter().map(|row| User { row, scope: self.scope, past: self.past.clone(), deprovisioning: None }).collect())
    }
}

/// An API key, without its secret.
#[derive(SimpleObject)]
pub struct ApiKey {
    pub id: ID,
    pub name: String,
    pub role: String,
    /// Empty for operator keys.
    pub tenant_id: Option<ID>,
    pub revoked: bool,
    pub created_at: DateTime<Utc>,
}

impl From<crate::read::api_keys::ApiKeyRow> for ApiKey {
    fn from(row: crate::read::api_keys::ApiKeyRow) -> Self {
        Self {
            id: ID(row.key_id),
            name: row.name,
            role: row.role,
            tenant_id: (!row.tenant_id.is_empty()).then_some(ID(row.tenant_id)),
            revoked: row.revoked,
            created_at: row.created_at,
        }
    }
}

/// A new API key; `secret` is shown this once and cannot be retrieved again.
#[derive(SimpleObject)]
pub struct CreatedApiKey {
    pub api_key: ApiKey,
    pub secret: String,
}

#[derive(InputObject, Default)]
pub struct UserFilterInput {
    pub state: Option<UserState>,
    pub domain: Option<String>,
    pub assigned: Option<bool>,
    /// Case-insensitive substring of the UPN or display name.
    pub search: Option<String>,
}

impl UserFilterInput {
    pub fn into_filter(self) -> UserFilter {
        UserFilter {
            status: self.state.map(|s| s.as_str().to_owned()),
            domain: self.domain.map(|d| d.trim().to_ascii_lowercase()),
            assigned: self.assigned,
            search: self.search.map(|s| s.chars().take(256).collect()),
        }
    }
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub user_principal_name: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub usage_location: Option<String>,
    /// Optional initial password (8 to 256 characters); stored only as a sealed argon2id hash.
    pub password: Option<String>,
}

#[derive(InputObject)]
pub struct ProfileUpdateInput {
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
}

/// A tenant's Ed25519 audit key: verifies its signed chain checkpoints and exports.
#[derive(SimpleObject)]
pub struct AuditPublicKey {
    pub key_id: String,
    /// SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key_pem: String,
}

/// Where a type's nested fields read: the past state it came from, or the live read models.
macro_rules! reads_from {
    ($($ty:ty),*) => {$(
        impl $ty {
            fn db<'a>(&'a self, ctx: &Context<'a>) -> &'a Db {
                self.past.as_ref().unwrap_or_else(|| app(ctx).db())
            }
        }
    )*};
}
reads_from!(Tenant, User, Group);
