use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tessera::db::{Db, Tx};

use crate::both_backends;
use crate::helpers::process::{ServerProcess, tessera_cli};
use crate::helpers::{Backend, TestDns, fresh_database, spawn_app};

both_backends!(rebuild_gives_identical_read_models, a_killed_process_loses_nothing);

#[derive(sqlx::FromRow, Debug)]
#[allow(dead_code)] // read through Debug
struct Pair {
    a: String,
    b: String,
    c: String,
}

/// Every read table's full contents, in key order, as text.
async fn dump(db: &Db) -> String {
    let mut tx = db.begin_system().await.unwrap();
    let dumped = dump_in(&mut tx).await;
    tx.commit().await.unwrap();
    dumped
}

async fn dump_in(tx: &mut Tx) -> String {
    use tessera::read::{api_keys::ApiKeyRow, domains::DomainRow, groups::GroupRow, tenants::TenantRow, users::UserRow};
    let tenants: Vec<TenantRow> = tx.fetch_all("SELECT * FROM tenants ORDER BY tenant_id", &[]).await.unwrap();
    let domains: Vec<DomainRow> = tx.fetch_all("SELECT * FROM domains ORDER BY tenant_id, name", &[]).await.unwrap();
    let users: Vec<UserRow> = tx.fetch_all("SELECT * FROM users ORDER BY tenant_id, user_id", &[]).await.unwrap();
    let licenses: Vec<Pair> =
        tx.fetch_all("SELECT tenant_id AS a, user_id AS b, sku_id AS c FROM user_licenses ORDER BY 1, 2, 3", &[]).await.unwrap();
    let groups: Vec<GroupRow> = tx.fetch_all("SELECT * FROM groups ORDER BY tenant_id, group_id", &[]).await.unwrap();
    let members: Vec<Pair> =
        tx.fetch_all("SELECT tenant_id AS a, group_id AS b, user_id AS c FROM group_members ORDER BY 1, 2, 3", &[]).await.unwrap();
    let keys: Vec<ApiKeyRow> = tx.fetch_all("SELECT * FROM api_keys ORDER BY tenant_id, key_id", &[]).await.unwrap();
    format!("{tenants:#?}\n{domains:#?}\n{users:#?}\n{licenses:#?}\n{groups:#?}\n{members:#?}\n{keys:#?}")
}

#[derive(sqlx::FromRow)]
struct Definition {
    definition: String,
}

/// Every index and constraint of the schema, as the database describes them.
async fn indexes(db: &Db) -> Vec<String> {
    let sql = match db.backend() {
        tessera::db::Backend::Postgres => {
            "SELECT indexdef AS definition FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
                        WHERE connamespace = 'public'::regnamespace
             ORDER BY 1"
        }
        tessera::db::Backend::Sqlite => {
            "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') AS definition FROM sqlite_master ORDER BY 1"
        }
    };
    let mut tx = db.begin_system().await.unwrap();
    let rows: Vec<Definition> = tx.fetch_all(sql, &[]).await.unwrap();
    tx.commit().await.unwrap();
    rows.into_iter().map(|r| r.definition).collect()
}

const SKU: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const LICENSED: &str =
    "mutation($u: ID!, $s: String!) { setUsageLocation(id: $u, usageLocation: \"GB\") { id } grantLicense(id: $u, skuId: $s) { id } }";

async fn rebuild_gives_identical_read_models(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.seed_directory(&admin, 5).await;
    // Licensed, then deleted: its licenses go with it (also when one batch holds all of it,
    // as the catch-up below does).
    let deleted = app.create_user(&admin, "gone@contoso.com").await;
    app.ok(&admin, LICENSED, json!({ "u": deleted, "s": SKU })).await;
    app.ok(&admin, "mutation($u: ID!) { deleteUser(id: $u) }", json!({ "u": deleted })).await;
    // Text that `COPY`'s format reserves (the offline rebuild loads PostgreSQL with it).
    let odd = app.create_user(&admin, "odd@contoso.com").await;
    app.ok(
        &admin,
        "mutation($u: ID!, $n: String!) { updateUserProfile(id: $u, input: { displayName: $n, surname: $n }) { id } }",
        json!({ "u": odd, "n": r"Back\slash \N O'Brien" }),
    )
    .await;
    // Granted and revoked again, and suspended.
    app.ok(&admin, LICENSED, json!({ "u": odd, "s": SKU })).await;
    app.ok(
        &admin,
        "mutation($u: ID!, $s: String!) { revokeLicense(id: $u, skuId: $s) { id } suspendUser(id: $u) { id } }",
        json!({ "u": odd, "s": SKU }),
    )
    .await;
    let before = dump(app.app.db()).await;
    assert!(before.contains("u4@contoso.com"));
    assert_eq!(before.matches(SKU).count(), 5, "the seeded users' licenses only: {before}");
    assert!(before.contains("SUSPENDED"));
    assert!(before.contains(r#""Back\\slash \\N O'Brien""#), "{before}");
    let indexes_before = indexes(app.app.db()).await;
    assert!(indexes_before.iter().any(|i| i.contains("users_upn")), "{indexes_before:?}");

    // The real CLI, against the live database.
    let output = tessera_cli(&app.database_url, &["projections", "rebuild"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("rebuilt users"));
    assert_eq!(dump(app.app.db()).await, before);
    // The default rebuild drops the tables' indexes and constraints and makes them again, and
    // puts back the row-level security it lifts to load them.
    assert_eq!(indexes(app.app.db()).await, indexes_before);
    if backend == Backend::Postgres {
        let mut tx = app.app.db().begin_system().await.unwrap();
        let unforced: Vec<Definition> = tx
            .fetch_all(
                "SELECT relname::text AS definition FROM pg_class WHERE relkind = 'r' AND relrowsecurity AND NOT relforcerowsecurity",
                &[],
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(unforced.is_empty(), "{:?}", unforced.iter().map(|d| &d.definition).collect::<Vec<_>>());
    }

    // Online: readers keep the old rows meanwhile; the result is the same.
    let output = tessera_cli(&app.database_url, &["projections", "rebuild", "users", "--online"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(dump(app.app.db()).await, before);
    assert_eq!(indexes(app.app.db()).await, indexes_before);

    // One projection by name, in-process this time.
    let users = tessera::projections::all().into_iter().find(|p| p.name() == "users").unwrap();
    // Looked at inside the reset's transaction: the server's own projector (it polls) would
    // refill the tables as soon as the reset commits.
    let mut tx = app.app.db().begin_system().await.unwrap();
    tessera::projections::reset_in(&mut tx, app.app.db(), users.as_ref()).await.unwrap();
    assert_ne!(dump_in(&mut tx).await, before, "reset empties the tables");
    tx.commit().await.unwrap();
    tessera::projections::catch_up(app.app.db(), app.app.personal_data(), users.as_ref()).await.unwrap();
    assert_eq!(dump(app.app.db()).await, before);

    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["projections", "rebuild", "nonsense"])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown projection"));
}

fn start_server(database_url: &str, dns: std::net::SocketAddr, port: u16) -> ServerProcess {
    crate::helpers::process::serve(database_url, dns, port, &[])
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server at {base} never became ready");
}

/// SIGKILL while commands are in flight, restart: every committed event reaches the read
/// models exactly once, and every acknowledged user is there.
async fn a_killed_process_loses_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(backend, dir.path()).await;
    let dns = TestDns::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = start_server(&database_url, dns.addr, port);
    wait_ready(&client, &base).await;

    let gql = |key: String, query: &'static str, vars: serde_json::Value| {
        let client = client.clone();
        let url = format!("{base}/graphql");
        async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&json!({ "query": query, "variables": vars }))
                .send()
                .await?
                .json::<serde_json::Value>()
                .await
        }
    };
    let operator = crate::helpers::app_operator_key().to_owned();
    let tenant =
        gql(operator.clone(), "mutation { createTenant(name: \"K\") { id } }", json!({})).await.unwrap()["data"]["createTenant"]["id"]
            .clone();
    let admin =
        gql(operator, "mutation($t: ID!) { createApiKey(name: \"a\", role: ADMIN, tenantId: $t) { secret } }", json!({ "t": tenant }))
            .await
            .unwrap()["data"]["createApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
    let record = gql(admin.clone(), "mutation { addDomain(name: \"kill.com\") { verificationRecord } }", json!({})).await.unwrap()["data"]
        ["addDomain"]["verificationRecord"]
        .as_str()
        .unwrap()
        .to_owned();
    dns.add_txt("kill.com", &record).await;
    gql(admin.clone(), "mutation { verifyDomain(name: \"kill.com\") { verified } }", json!({})).await.unwrap();

    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let acknowledged = acknowledged.clone();
        let request = gql(
            admin.clone(),
            "mutation($u: String!) { createUser(input: { userPrincipalName: $u, displayName: \"K\" }) { id } }",
            json!({ "u": format!("k{i}@kill.com") }),
        );
        tasks.push(tokio::spawn(async move {
            if let Ok(body) = request.await
                && let Some(id) = body["data"]["createUser"]["id"].as_str()
            {
                acknowledged.lock().unwrap().push(id.to_owned());
            }
        }));
    }
    // Kill mid-flight, once some commands have been acknowledged (allowing a slow, busy machine).
    for _ in 0..3000 {
        if acknowledged.lock().unwrap().len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    for task in tasks {
        let _ = task.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(!acknowledged.is_empty());

    let mut server = start_server(&database_url, dns.addr, port);
    wait_ready(&client, &base).await;
    let db = Db::connect(&database_url, 2).await.unwrap();
    #[derive(sqlx::FromRow)]
    struct Count {
        n: i64,
    }
    let mut counts = Vec::new();
    for _ in 0..100 {
        let mut tx = db.begin_system().await.unwrap();
        let events: Vec<Count> = tx
            .fetch_all("SELECT count(*) AS n FROM events WHERE aggregate_type = 'User' AND event_type = 'UserCreated'", &[])
            .await
            .unwrap();
        let rows: Vec<Count> = tx.fetch_all("SELECT count(*) AS n FROM users", &[]).await.unwrap();
        tx.commit().await.unwrap();
        counts = vec![events[0].n, rows[0].n];
        if counts[0] == counts[1] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counts[0], counts[1], "every committed UserCreated is projected exactly once");
    assert!(counts[0] >= acknowledged.len() as i64);
    let body = gql(admin, "{ users(first: 100) { edges { node { id } } } }", json!({})).await.unwrap();
    let listed = body.to_string();
    for id in acknowledged.iter().take(100) {
        assert!(listed.contains(id.as_str()) || counts[0] > 100, "acknowledged user {id} is visible");
    }
    // SIGTERM: the server drains and exits cleanly.
    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || server.wait()).await.unwrap().unwrap();
    assert!(exit.success(), "graceful exit on SIGTERM: {exit:?}");
    db.close().await;
}
