//! PostgreSQL row-level security is a second wall: a query that forgets its tenant filter still
//! sees only the tenant its transaction names, and nothing at all without one.

use serde_json::json;
use tessera::db::Db;
use tessera::domain::values::TenantId;

use crate::helpers::{Backend, spawn_app};

#[derive(sqlx::FromRow)]
struct Row {
    tenant_id: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_without_tenant_filter_sees_one_tenant() {
    let app = spawn_app(Backend::Postgres).await;
    let (a_id, a) = app.tenant_with_admin("A").await;
    let (b_id, b) = app.tenant_with_admin("B").await;
    let mut user_ids = Vec::new();
    for (key, domain) in [(&a, "a.com"), (&b, "b.com")] {
        app.verified_domain(key, domain).await;
        user_ids.push(app.create_user(key, &format!("someone@{domain}")).await);
        app.ok(key, "mutation { createGroup(displayName: \"g\") { id } }", json!({})).await;
    }
    let db = app.app.db();
    let tenant = TenantId::parse(&a_id).unwrap();
    for table in ["tenants", "domains", "users", "groups", "api_keys", "events", "signing_keys"] {
        // Deliberately no WHERE tenant_id = …
        let mut tx = db.begin_tenant(&tenant).await.unwrap();
        let rows: Vec<Row> = tx.fetch_all(&format!("SELECT tenant_id FROM {table}"), &[]).await.unwrap();
        tx.commit().await.unwrap();
        assert!(!rows.is_empty(), "{table}: tenant A sees its own rows");
        assert!(rows.iter().all(|r| r.tenant_id == a_id), "{table}: only tenant A's rows");
    }
    // A read connection that names no tenant sees nothing.
    let Db::Postgres { read, .. } = db else { panic!("PostgreSQL expected") };
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(read).await.unwrap();
    assert_eq!(count, 0);
    let inserted = sqlx::query("INSERT INTO users (tenant_id, user_id, upn, domain, immutable_id, display_name, status, assigned, password_set, created_at, updated_at) VALUES ('x', 'y', 'z', 'd', 'i', 'n', 'ACTIVE', false, false, now(), now())")
        .execute(read)
        .await;
    assert!(inserted.is_err(), "writing another tenant's row is refused");

    // The sign-in's one-statement lookup confines itself to the tenant it names, and the
    // setting ends with its statement: the same single connection sees nothing afterwards.
    let single = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&app.database_url).await.unwrap();
    let found: Vec<Row> =
        sqlx::query_as("SELECT tenant_id FROM user_by_upn($1, 'someone@a.com')").bind(&a_id).fetch_all(&single).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].tenant_id, a_id);
    let across: Vec<Row> =
        sqlx::query_as("SELECT tenant_id FROM user_by_upn($1, 'someone@b.com')").bind(&a_id).fetch_all(&single).await.unwrap();
    assert!(across.is_empty(), "tenant A's lookup does not find tenant B's user");
    // Likewise the read-back of a user by id (every user mutation's).
    for (user_id, expected) in [(&user_ids[0], 1), (&user_ids[1], 0)] {
        let found: Vec<Row> =
            sqlx::query_as("SELECT tenant_id FROM user_by_id($1, $2)").bind(&a_id).bind(user_id).fetch_all(&single).await.unwrap();
        assert_eq!(found.len(), expected, "tenant A's id lookup sees only tenant A's user");
    }
    // And grantLicense's look-up of a subscribed SKU.
    let Db::Postgres { system, .. } = db else { unreachable!() };
    sqlx::query("INSERT INTO microsoft365_skus VALUES ($1, 'sku-b', 'ENTERPRISEPACK', 10, 1, now())")
        .bind(&b_id)
        .execute(system)
        .await
        .unwrap();
    for (tenant, expected) in [(&a_id, 0), (&b_id, 1)] {
        let found: Vec<Row> =
            sqlx::query_as("SELECT tenant_id FROM microsoft365_sku($1, 'sku-b')").bind(tenant).fetch_all(&single).await.unwrap();
        assert_eq!(found.len(), expected, "a tenant's SKU look-up sees only its own SKUs");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&single).await.unwrap();
    assert_eq!(count, 0, "the tenant setting did not outlive the lookup");
    single.close().await;
}
