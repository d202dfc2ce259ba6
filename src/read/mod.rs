//! Tenant-scoped read queries over the projections, returning plain rows. Every function that
//! reads a tenant's data takes a `TenantScope`, and on PostgreSQL runs in a transaction that
//! row-level security confines to that tenant.

pub mod api_keys;
pub mod audit;
pub mod deprovisioning;
pub mod domains;
pub mod groups;
pub mod health;
pub mod jobs;
pub mod microsoft365;
pub mod outbox;
pub mod sign_ins;
pub mod signing_keys;
pub mod tenants;
pub mod users;

use crate::app::TenantScope;
use crate::db::{Db, DbError, Tx};

async fn scoped(db: &Db, scope: &TenantScope) -> Result<Tx, DbError> {
    db.begin_tenant(&scope.tenant_id()).await
}
