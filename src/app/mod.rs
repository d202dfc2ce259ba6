//! Use cases: who may do what (capabilities), event metadata, cross-aggregate rules, and the
//! ports to the outside world (DNS). Everything the API calls goes through `Tessera`.

mod api_keys;
mod audit;
mod context;
mod cpu_pool;
mod deprovisioning;
pub mod dns;
mod domains;
mod error;
mod federation;
mod forget;
pub mod graph;
mod groups;
mod jobs;
mod microsoft365;
mod origins;
mod passwords;
mod principal_cache;
mod provisioning;
mod recent;
pub mod signin;
mod signing_keys;
mod tenants;
mod users;

use std::sync::Arc;
use std::time::Duration;

pub use api_keys::{NewApiKey, hash_secret};
pub use context::{ClientOrigin, Principal, RequestContext, TenantScope};
pub use deprovisioning::{DeprovisionCause, DeprovisionPreview, PendingDeletion};
pub use error::AppError;
pub use federation::{FederationAction, FederationPreview, MfaBehavior, PlannedRequest, ScriptFlavor};
pub use forget::ForgetReport;
pub use jobs::{ItemReport, RunningJob};
pub use microsoft365::{CompatibilityReport, ConnectInput, ConnectionTestReport, REQUIREMENTS, Requirement};
pub use passwords::{Argon2Params, PasswordHasher};
pub use signin::SignInSettings;
pub use users::{ChangedUser, NewUser, ProfileInput};

use crate::crypto::Crypto;
use crate::db::Db;
use crate::eventstore::{Committed, EventMetadata, EventStore, Histories, Loaded, RequestOrigin, StoreError, Stored};
use crate::projections::ProjectorHandle;

/// The application: the write side plus what use cases need around it.
pub struct Tessera {
    store: EventStore,
    projector: ProjectorHandle,
    crypto: Crypto,
    dns: Arc<dyn dns::TxtLookup>,
    passwords: PasswordHasher,
    /// How long a command waits for the projections to show its effect before answering.
    settle_timeout: Duration,
    sign_in: SignInSettings,
    key_cache: signing_keys::KeyCache,
    principals: principal_cache::PrincipalCache,
    sign_in_guard: signin::Guard,
    /// grantLicense's check of the tenant's subscribed licenses (`users::grant_license`).
    skus: recent::Recent<(crate::domain::values::TenantId, String), Option<crate::read::microsoft365::SkuRow>>,
    /// Token signatures run here, off the async executors.
    signer: cpu_pool::CpuPool,
    graph: Option<Arc<dyn graph::GraphApi>>,
}

impl Tessera {
    pub fn new(
        db: Db,
        projector: ProjectorHandle,
        crypto: Crypto,
        dns: Arc<dyn dns::TxtLookup>,
        passwords: PasswordHasher,
        settle_timeout: Duration,
    ) -> Self {
        Self {
            store: EventStore::new(db, crate::eventstore::PersonalData::new(crypto.clone())),
            projector,
            crypto,
            dns,
            passwords,
            settle_timeout,
            sign_in: SignInSettings::default(),
            key_cache: signing_keys::KeyCache::default(),
            principals: principal_cache::PrincipalCache::default(),
            sign_in_guard: signin::Guard::new(),
            skus: recent::Recent::new(users::SKU_CHECK_TTL),
            signer: cpu_pool::CpuPool::per_core("token-signer"),
            graph: None,
        }
    }

    /// The Microsoft Graph client (connection tests, the outbox).
    pub fn with_graph(mut self, graph: Arc<dyn graph::GraphApi>) -> Self {
        self.graph = Some(graph);
        self
    }

    /// The sign-in settings (public URL, key validity, session timeouts).
    pub fn with_sign_in(mut self, settings: SignInSettings) -> Self {
        self.sign_in = settings;
        self
    }

    pub fn sign_in_settings(&self) -> &SignInSettings {
        &self.sign_in
    }

    pub fn db(&self) -> &Db {
        self.store.db()
    }

    pub fn projector(&self) -> &ProjectorHandle {
        &self.projector
    }

    /// The sealing and opening of personal values (for projections rebuilt in-process).
    pub fn personal_data(&self) -> &crate::eventstore::PersonalData {
        self.store.personal()
    }

    /// Runs a command and waits (bounded) until the read models show it, so a query right
    /// after a mutation sees its effect.
    async fn run<A: Stored>(
        &self,
        ctx: &RequestContext,
        tenant: Option<crate::domain::values::TenantId>,
        id: &str,
        command: A::Command,
    ) -> Result<Committed, AppError>
    where
        A::Command: Clone,
    {
        Ok(self.run_on::<A>(ctx, tenant, id, None, command).await?.0)
    }

    /// `run`, deciding first on `loaded` (read with the aggregates the use case consults, or a
    /// new aggregate) instead of reading the history again; returns the aggregate as the command
    /// left it too.
    async fn run_on<A: Stored>(
        &self,
        ctx: &RequestContext,
        tenant: Option<crate::domain::values::TenantId>,
        id: &str,
        loaded: Option<Loaded<A>>,
        command: A::Command,
    ) -> Result<(Committed, Loaded<A>), AppError>
    where
        A::Command: Clone,
    {
        let metadata = ctx.metadata(tenant);
        let origin = Self::origin_to_record(ctx, tenant);
        let (committed, state) = self.execute_settled::<A>(&metadata, id, loaded, command, origin.as_ref()).await?;
        self.record_origin(ctx, committed, origin).await;
        Ok((committed, state))
    }

    /// Like `run`, with explicit metadata (system work, the anonymous sign-in endpoints).
    async fn run_with<A: Stored>(
        &self,
        metadata: &EventMetadata,
        _tenant: Option<crate::domain::values::TenantId>,
        id: &str,
        command: A::Command,
    ) -> Result<Committed, AppError>
    where
        A::Command: Clone,
    {
        Ok(self.execute_settled::<A>(metadata, id, None, command, None).await?.0)
    }

    async fn execute_settled<A: Stored>(
        &self,
        metadata: &EventMetadata,
        id: &str,
        loaded: Option<Loaded<A>>,
        command: A::Command,
        origin: Option<&RequestOrigin>,
    ) -> Result<(Committed, Loaded<A>), AppError>
    where
        A::Command: Clone,
    {
        let started = std::time::Instant::now();
        let result = self.store.execute_on::<A>(id, loaded, command, metadata, true, origin).await.map_err(AppError::from);
        crate::observability::record_command(A::TYPE, result.is_ok(), started.elapsed());
        let (committed, state) = result?;
        self.settle(A::TYPE, committed).await;
        Ok((committed, state))
    }

    async fn settle(&self, aggregate_type: &str, committed: Committed) {
        if committed.events > 0 && !self.projector.wait_for(aggregate_type, committed.checkpoint, self.settle_timeout).await {
            tracing::warn!(position = committed.checkpoint.position, "projections did not reach the command's position in time");
        }
    }

    async fn load<A: Stored>(&self, id: &str) -> Result<A, AppError> {
        self.store.load::<A>(id).await.map_err(AppError::from)
    }

    /// Several aggregates' histories in one read (see `EventStore::load_many`).
    async fn load_many(&self, ids: &[(&str, &str)]) -> Result<Histories<'_>, AppError> {
        self.store.load_many(ids).await.map_err(AppError::from)
    }

    fn system_metadata(worker: &str, tenant: Option<crate::domain::values::TenantId>) -> EventMetadata {
        EventMetadata {
            tenant_id: tenant,
            actor: format!("system:{worker}"),
            actor_role: None,
            correlation_id: uuid::Uuid::new_v4().to_string(),
            causation_id: None,
            request_id: None,
            occurred_at: chrono::Utc::now(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Domain(e) => e.into(),
            StoreError::Conflict(what) => AppError::Conflict(format!("the {what} was changed concurrently; try again")),
            StoreError::Storage(message) => AppError::Internal(message),
            StoreError::Db(e) => AppError::Internal(e.to_string()),
        }
    }
}
