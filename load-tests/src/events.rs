//! `tessera-load seed-events`: writes a large, realistic event history straight into a store,
//! through the real write path (aggregates decide, the event store appends with optimistic
//! concurrency) but without HTTP or waiting for read models, which makes a million events a
//! matter of minutes instead of hours. Projections, the audit chain, replay and verification
//! then run over it as they would over a production history (the audit benchmarks).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use serde_json::{Value, json};
use tessera::crypto::{Crypto, MasterKeyRing};
use tessera::db::Db;
use tessera::domain::Personal;
use tessera::domain::claim::{ClaimCommand, UniqueClaim, upn_key};
use tessera::domain::custom_domain::{CustomDomain, DomainCommand};
use tessera::domain::tenant::{Tenant, TenantCommand};
use tessera::domain::user::{User, UserCommand, UserProfile};
use tessera::domain::values::{DisplayName, DomainName, ImmutableId, SkuId, TenantId, Upn, UsageLocation, UserId};
use tessera::eventstore::{EventMetadata, EventStore, PersonalData, Stored};

/// Events each seeded user contributes: UPN claim, creation, assignment, license, profile update.
pub const EVENTS_PER_USER: u64 = 5;

fn metadata(tenant: TenantId, actor: &str) -> EventMetadata {
    EventMetadata {
        tenant_id: Some(tenant),
        actor: actor.to_owned(),
        actor_role: Some("admin".into()),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        causation_id: None,
        request_id: Some(uuid::Uuid::new_v4().to_string()),
        occurred_at: chrono::Utc::now(),
    }
}

async fn run<A: Stored>(store: &EventStore, id: &str, command: A::Command, meta: &EventMetadata) -> anyhow::Result<()>
where
    A::Command: Clone,
{
    store.execute::<A>(id, command, meta).await.map_err(|e| anyhow::anyhow!("{id}: {e}"))?;
    Ok(())
}

/// Seeds `users` users (×5 events) into one fresh tenant with `clients` concurrent writers.
/// Returns the tenant id, events written and seconds taken.
pub async fn seed(database_url: &str, master_key: &str, users: u64, clients: usize) -> anyhow::Result<Value> {
    let db = Db::connect(database_url, clients as u32 + 2).await.context("connecting to the store")?;
    db.migrate().await?;
    let keys = MasterKeyRing::parse(master_key).map_err(|e| anyhow::anyhow!("master key: {e}"))?;
    let store = Arc::new(EventStore::new(db.clone(), PersonalData::new(Crypto::new(keys))));
    let tenant_id = TenantId::new();
    let admin = format!("api-key:{}", uuid::Uuid::new_v4());
    let meta = metadata(tenant_id, &admin);
    let name = DisplayName::parse("name", "audit benchmark")?;
    run::<Tenant>(&store, &tenant_id.to_string(), TenantCommand::CreateTenant { tenant_id, name }, &meta).await?;
    let domain = DomainName::parse(&format!("bench{}.example.com", &tenant_id.to_string()[..8]))?;
    let domain_id = format!("{tenant_id}/{domain}");
    let token = uuid::Uuid::new_v4().simple().to_string();
    let add = DomainCommand::AddDomain { tenant_id, name: domain.clone(), verification_token: token.clone() };
    run::<CustomDomain>(&store, &domain_id, add, &meta).await?;
    let verify = DomainCommand::VerifyDomain { txt_records: vec![format!("tessera-verification={token}")] };
    run::<CustomDomain>(&store, &domain_id, verify, &meta).await?;

    let next = Arc::new(AtomicU64::new(0));
    let written = Arc::new(AtomicU64::new(3));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (store, next, written, domain, admin) = (store.clone(), next.clone(), written.clone(), domain.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= users {
                    return Ok::<_, anyhow::Error>(());
                }
                seed_user(&store, tenant_id, &domain, &admin, n).await?;
                let total = written.fetch_add(EVENTS_PER_USER, Ordering::Relaxed) + EVENTS_PER_USER;
                if total % 100_000 < EVENTS_PER_USER {
                    eprintln!("{total} events, {:.0} events/s", total as f64 / started.elapsed().as_secs_f64());
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    db.close().await;
    let events = written.load(Ordering::Relaxed);
    Ok(json!({ "tenant": tenant_id.to_string(), "events": events, "seconds": seconds, "events_per_second": events as f64 / seconds }))
}

async fn seed_user(store: &EventStore, tenant_id: TenantId, domain: &DomainName, admin: &str, n: u64) -> anyhow::Result<()> {
    let meta = metadata(tenant_id, admin);
    let upn = Upn::parse(&format!("user{n}@{domain}"))?;
    let user_id = UserId::new();
    let user_key = format!("{tenant_id}/{user_id}");
    // As the API does: the claim is keyed by the UPN's pseudonym, not the UPN.
    let upn_pseudonym = store.personal().upn_pseudonym(store.db(), &tenant_id, &upn.to_string()).await?;
    run::<UniqueClaim>(store, &upn_key(&tenant_id, &upn_pseudonym), ClaimCommand::Claim { owner: user_id.to_string() }, &meta).await?;
    let profile = |title: &str| -> anyhow::Result<Personal<UserProfile>> {
        Ok(Personal::new(UserProfile {
            display_name: DisplayName::parse("displayName", &format!("User {n} {title}"))?,
            given_name: Some(DisplayName::parse("givenName", "Bench")?),
            surname: Some(DisplayName::parse("surname", &format!("User{n}"))?),
            mail: Some(upn.to_string()),
        }))
    };
    let create = UserCommand::CreateUser {
        tenant_id,
        user_id,
        upn: upn.clone(),
        upn_pseudonym,
        immutable_id: ImmutableId::from_bytes(*uuid::Uuid::new_v4().as_bytes()),
        profile: profile("")?,
        usage_location: Some(UsageLocation::parse("US")?),
    };
    run::<User>(store, &user_key, create, &meta).await?;
    run::<User>(store, &user_key, UserCommand::AssignUser, &meta).await?;
    let sku_id = SkuId::parse(crate::SKU)?;
    run::<User>(store, &user_key, UserCommand::GrantLicense { sku_id }, &meta).await?;
    run::<User>(store, &user_key, UserCommand::UpdateUserProfile { profile: profile("(renamed)")? }, &meta).await?;
    Ok(())
}
