//! Forgetting a person by crypto-shredding: afterwards no table of the database holds anything
//! personal about them, every read model, history and export shows them as forgotten, the audit
//! chain still verifies (database and export), replay still matches, and the UPN is free again.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::graph::{CLIENT, Emulator, SECRET};
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::signin::Browser;

both_backends!(
    forgetting_leaves_nothing_personal_and_keeps_the_chain,
    forgetting_needs_an_admin_and_a_deleted_user,
    a_new_users_key_is_stored_with_their_first_event,
    a_user_from_before_sealing_reads_and_is_forgotten_as_far_as_possible
);

const RP: &str = "http://127.0.0.1:9/rp";
const UPN: &str = "Zephyrine.Quillfeather@contoso.com";
const USER_AGENT: &str = "ZephyrBrowser/9.1 (Quillfeather edition)";
/// Distinctive pieces of the person's data, looked for case-insensitively everywhere.
const NEEDLES: [&str; 5] = ["zephyrine", "quillfeather", "marchbanks", "zq.home", "zephyrbrowser"];

fn sign_in_url(app: &TestApp, tenant: &str) -> String {
    format!(
        "{}/wsfed/{tenant}?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wreply={}",
        app.address,
        RP.replace(':', "%3A").replace('/', "%2F")
    )
}

/// One sign-in attempt with the person's browser: the UPN, then `password`.
async fn attempt(app: &TestApp, tenant: &str, browser: &mut Browser, password: &str) -> String {
    let page = browser.get(&sign_in_url(app, tenant)).await;
    let page = browser.submit(&app.address, &page, &[("upn", UPN)]).await;
    browser.submit(&app.address, &page, &[("password", password)]).await.body
}

/// Every row of every table of the database as text, as (table, row), and how many tables
/// there are.
async fn every_row(app: &TestApp, backend: Backend) -> (Vec<(String, String)>, usize) {
    let mut out = Vec::new();
    let scanned;
    match backend {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            let mut conn = pool.acquire().await.unwrap();
            // Row-level security binds the owner too; the system setting sees every tenant.
            sqlx::query("SET tessera.system = 'on'").execute(&mut *conn).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            scanned = tables.len();
            for table in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT t::text FROM \"{table}\" t")).fetch_all(&mut *conn).await.unwrap();
                out.extend(rows.into_iter().map(|r| (table.clone(), r)));
            }
            // `close` waits for every connection to come back.
            drop(conn);
            pool.close().await;
        }
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&pool).await.unwrap();
            scanned = tables.len();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT name FROM pragma_table_xinfo('{table}')")).fetch_all(&pool).await.unwrap();
                let all = columns.iter().map(|c| format!("coalesce(CAST(\"{c}\" AS TEXT), '')")).collect::<Vec<_>>().join(" || '|' || ");
                // As bytes: binary columns (ciphertexts) are not UTF-8, and text hidden in them counts.
                let rows: Vec<Vec<u8>> =
                    sqlx::query_scalar(&format!("SELECT CAST({all} AS BLOB) FROM \"{table}\"")).fetch_all(&pool).await.unwrap();
                out.extend(rows.into_iter().map(|r| (table.clone(), String::from_utf8_lossy(&r).into_owned())));
            }
            pool.close().await;
        }
    }
    (out, scanned)
}

/// The tables whose rows mention the person.
async fn tables_mentioning_the_person(app: &TestApp, backend: Backend) -> (Vec<String>, usize) {
    let (rows, tables) = every_row(app, backend).await;
    let mut found: Vec<String> = rows
        .iter()
        .filter(|(_, row)| NEEDLES.iter().any(|n| row.to_lowercase().contains(n)))
        .map(|(table, row)| format!("{table}: {}", row.chars().take(300).collect::<String>()))
        .collect();
    found.sort();
    found.dedup();
    (found, tables)
}

/// Her PROVISION_USER task, once it has failed.
async fn failed_provisioning(app: &TestApp, admin: &str) -> Value {
    for _ in 0..600 {
        let tasks = app.tasks(admin).await;
        if let Some(task) = tasks.iter().find(|t| t["kind"] == "PROVISION_USER" && t["status"] == "FAILED") {
            return task.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("her provisioning did not fail");
}

fn mentions(text: &str) -> bool {
    NEEDLES.iter().any(|n| text.to_lowercase().contains(n))
}

async fn sign_ins(app: &TestApp, admin: &str, user: &str, count: usize) -> Vec<Value> {
    let query = "query($u: ID!) { signIns(userId: $u, first: 50) { edges { node { userPrincipalName ipAddress userAgent claims personalDataForgotten failureReason } } } }";
    for _ in 0..100 {
        let data = app.ok(admin, query, json!({ "u": user })).await;
        let nodes: Vec<Value> = data["signIns"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
        if nodes.len() >= count {
            return nodes;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sign-in log did not reach {count} rows");
}

async fn forgetting_leaves_nothing_personal_and_keeps_the_chain(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    app.ok(&admin, "mutation($r: [String!]!) { setReplyUrls(urls: $r) { replyUrls } }", json!({ "r": [RP] })).await;
    // Microsoft 365 already holds someone else's account under her UPN: her provisioning fails
    // with a Graph error message that quotes the UPN.
    let emu = Emulator::start().await;
    emu.add_user(json!({ "userPrincipalName": UPN, "displayName": "Someone else", "mailNickname": "zq", "accountEnabled": true,
                         "onPremisesImmutableId": "AAAAAAAAAAAAAAAAAAAAAA==" }))
        .await;
    let connected = app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    assert!(connected.get("errors").is_none(), "{connected}");
    let created = app
        .ok(
            &admin,
            "mutation($u: String!) { createUser(input: { userPrincipalName: $u, displayName: \"Zephyrine Quillfeather\", givenName: \"Zephyrine\",
                surname: \"Quillfeather\", mail: \"zq.home@postbox-mail.com\", password: \"correct horse battery\" }) { id } }",
            json!({ "u": UPN }),
        )
        .await;
    let user = created["createUser"]["id"].as_str().unwrap().to_owned();
    app.ok(&admin, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({ "u": user })).await;
    let failed = failed_provisioning(&app, &admin).await;
    assert_eq!(failed["lastError"]["code"], "IMMUTABLE_ID_CONFLICT");
    assert!(mentions(failed["lastError"]["message"].as_str().unwrap()), "{failed}");
    assert_eq!(failed["lastError"]["personalDataForgotten"], false);

    // She signs in (a failure, then a token and a live session), changes her name, leaves.
    let mut browser = Browser::with_user_agent(USER_AGENT);
    assert!(attempt(&app, &tenant, &mut browser, "not her password").await.contains("incorrect"));
    assert!(attempt(&app, &tenant, &mut browser, "correct horse battery").await.contains("wsfed-response"));
    app.ok(
        &admin,
        "mutation($u: ID!) { updateUserProfile(id: $u, input: { displayName: \"Zephyrine Marchbanks\", surname: \"Marchbanks\" }) { id } }",
        json!({ "u": user }),
    )
    .await;
    sign_ins(&app, &admin, &user, 2).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let employed = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.ok(&admin, "mutation($u: ID!) { deleteUser(id: $u) }", json!({ "u": user })).await;
    // Someone tries her UPN after she left: an unknown user, recorded under the UPN's pseudonym.
    let mut stranger = Browser::with_user_agent(USER_AGENT);
    assert!(attempt(&app, &tenant, &mut stranger, "guessing").await.contains("incorrect"));

    // Sign-in attempts are not waited for by the page; wait until the stranger's is in the log.
    for _ in 0..200 {
        if every_row(&app, backend).await.0.iter().filter(|(t, _)| t == "sign_ins").count() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // At rest, the events never held her data in clear; the read models and sessions do.
    let (before, tables) = tables_mentioning_the_person(&app, backend).await;
    assert!(tables >= 20, "the scan sees every table: {tables}");
    assert!(before.iter().any(|r| r.starts_with("sign_ins:")), "{before:#?}");
    assert!(before.iter().any(|r| r.starts_with("outbox_tasks:")), "Graph's message in the outbox: {before:#?}");
    assert!(!before.iter().any(|r| r.starts_with("events:") || r.starts_with("snapshots:")), "{before:#?}");

    // A preview changes nothing and tells what would go.
    let preview = app
        .ok(
            &admin,
            "mutation($u: ID!) { forgetUser(id: $u, preview: true) { userId preview dataKeys signIns sessions plaintextEvents } }",
            json!({ "u": user }),
        )
        .await["forgetUser"]
        .clone();
    assert_eq!(preview, json!({ "userId": user, "preview": true, "dataKeys": 2, "signIns": 3, "sessions": 1, "plaintextEvents": 0 }));
    assert_eq!(tables_mentioning_the_person(&app, backend).await.0, before);

    let forgotten = app
        .ok(&admin, "mutation($u: ID!) { forgetUser(id: $u) { preview dataKeys signIns sessions } }", json!({ "u": user }))
        .await["forgetUser"]
        .clone();
    assert_eq!(forgotten, json!({ "preview": false, "dataKeys": 2, "signIns": 3, "sessions": 1 }));

    // Nothing personal about her is left in any table.
    let (after, _) = tables_mentioning_the_person(&app, backend).await;
    assert!(after.is_empty(), "personal data left behind: {after:#?}");

    // The chain still verifies, in the database and in an export checked with only the public key.
    let report = tessera::audit::verify_db(app.app.db(), &tenant).await.unwrap();
    assert!(report.ok(), "{report:?}");
    let auditor = app.key_for(&tenant, "AUDITOR").await;
    let pem = app.client.get(format!("{}/audit/{tenant}/public-key.pem", app.address)).send().await.unwrap().text().await.unwrap();
    let export = app.client.get(format!("{}/audit/export", app.address)).bearer_auth(&auditor).send().await.unwrap().text().await.unwrap();
    let file = tessera::audit::verify_file(export.as_bytes(), &pem).unwrap();
    assert!(file.ok(), "{file:?}");
    assert!(!mentions(&export));
    let marks: Vec<Value> = export.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|l| l["type"] == "event").collect();
    let forgotten_lines = marks.iter().filter(|l| l["personal_data"] == "forgotten").count();
    assert_eq!(forgotten_lines, 6, "her 2 own events with personal data, her 2 sign-ins, the stranger's attempt, her failed provisioning");

    // Graph's message about her is gone from the outbox too; what is not personal stays.
    let failed = failed_provisioning(&app, &admin).await;
    assert_eq!(failed["lastError"]["code"], "IMMUTABLE_ID_CONFLICT");
    assert_eq!(failed["lastError"]["message"], "(forgotten)");
    assert_eq!(failed["lastError"]["personalDataForgotten"], true);

    // The read models, time travel, history and the auditor's API show her as forgotten.
    let nodes = sign_ins(&app, &admin, &user, 2).await;
    for node in &nodes {
        assert_eq!(node["userPrincipalName"], "(forgotten)");
        assert_eq!(node["ipAddress"], "(forgotten)");
        assert_eq!(node["userAgent"], "(forgotten)");
        assert_eq!(node["personalDataForgotten"], true);
    }
    let token = nodes.iter().find(|n| n["failureReason"].is_null()).unwrap();
    assert_eq!(token["claims"]["upn"], "(forgotten)");
    assert_eq!(token["claims"]["audience"], "urn:federation:MicrosoftOnline", "what is not personal stays");

    let query =
        "query($u: ID!, $at: DateTime) { user(id: $u, asOf: $at) { userPrincipalName displayName givenName mail personalDataForgotten } }";
    assert!(app.ok(&auditor, query, json!({ "u": user })).await["user"].is_null(), "deleted");
    let then = app.ok(&auditor, query, json!({ "u": user, "at": employed.to_rfc3339() })).await;
    assert_eq!(
        then["user"],
        json!({ "userPrincipalName": "(forgotten)", "displayName": "(forgotten)", "givenName": null, "mail": null, "personalDataForgotten": true })
    );

    let history = app.ok(&auditor, "query($u: ID!) { history(userId: $u) { text } }", json!({ "u": user })).await;
    assert!(!mentions(&history.to_string()), "{history:#}");
    let lines: Vec<&str> = history["history"].as_array().unwrap().iter().map(|l| l["text"].as_str().unwrap()).collect();
    assert!(lines[0].starts_with("created as (forgotten) (ImmutableID "), "{lines:#?}");
    assert!(lines.last().unwrap().starts_with("forgotten: personal data destroyed by "), "{lines:#?}");

    let events = app
        .ok(
            &auditor,
            "query($id: String!) { auditEvents(filter: { aggregateId: $id }) { edges { node { eventType payload typedPayload { ... on UserPayload { userPrincipalName personalDataForgotten } } } } } }",
            json!({ "id": format!("{tenant}/{user}") }),
        )
        .await;
    assert!(!mentions(&events.to_string()), "{events:#}");
    let first = &events["auditEvents"]["edges"][0]["node"];
    assert_eq!(first["eventType"], "UserCreated");
    assert_eq!(first["payload"]["UserCreated"]["upn"], json!({ "forgotten": true }));
    assert_eq!(first["typedPayload"], json!({ "userPrincipalName": null, "personalDataForgotten": true }));

    // Replay folds the same read models from the events as the live ones hold.
    let output = crate::replay::replay(&app.database_url);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("sign_ins: 3 rows"), "{stdout}");

    // Her UPN is free for someone new, whose data is readable; forgetting again changes nothing.
    let newcomer = app.create_user(&admin, UPN).await;
    let found = app.ok(&admin, "query($u: String!) { userByUpn(userPrincipalName: $u) { id } }", json!({ "u": UPN })).await;
    assert_eq!(found["userByUpn"]["id"], newcomer.as_str());
    let again = app.ok(&admin, "mutation($u: ID!) { forgetUser(id: $u) { dataKeys } }", json!({ "u": user })).await;
    assert_eq!(again["forgetUser"]["dataKeys"], 0);
    assert!(tessera::audit::verify_db(app.app.db(), &tenant).await.unwrap().ok());
}

async fn forgetting_needs_an_admin_and_a_deleted_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let user = app.create_user(&admin, "adele@contoso.com").await;
    let forget = "mutation($u: ID!) { forgetUser(id: $u) { dataKeys } }";

    let body = app.gql(&admin, forget, json!({ "u": user })).await;
    assert_eq!(crate::helpers::code(&body), "PRECONDITION_FAILED");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "USER_NOT_DELETED");
    let auditor = app.key_for(&tenant, "AUDITOR").await;
    assert_eq!(crate::helpers::code(&app.gql(&auditor, forget, json!({ "u": user })).await), "FORBIDDEN");
    let nobody = uuid::Uuid::now_v7().to_string();
    assert_eq!(crate::helpers::code(&app.gql(&admin, forget, json!({ "u": nobody })).await), "NOT_FOUND");
    assert_eq!(crate::helpers::code(&app.gql(&admin, forget, json!({ "u": "not-an-id" })).await), "VALIDATION");
    // Nothing was destroyed by the refusals: she is still there, in clear.
    let data = app.ok(&admin, "query($u: ID!) { user(id: $u) { userPrincipalName personalDataForgotten } }", json!({ "u": user })).await;
    assert_eq!(data["user"], json!({ "userPrincipalName": "adele@contoso.com", "personalDataForgotten": false }));

    // Another tenant's admin cannot reach her.
    let (_, other) = app.tenant_with_admin("Fabrikam").await;
    app.ok(&admin, "mutation($u: ID!) { deleteUser(id: $u) }", json!({ "u": user })).await;
    assert_eq!(crate::helpers::code(&app.gql(&other, forget, json!({ "u": user })).await), "NOT_FOUND");
    assert_eq!(app.ok(&admin, forget, json!({ "u": user })).await["forgetUser"]["dataKeys"], 1);
}

/// The data keys of a subject, as the database holds them.
async fn keys_of(app: &TestApp, tenant: &str, user: &str) -> i64 {
    let sql = "SELECT COUNT(*) AS n FROM personal_data_keys WHERE tenant_id = $1 AND subject = $2";
    app.count(sql, tessera::args![tenant.to_owned(), format!("user:{user}")]).await
}

/// On PostgreSQL a new user's data key is written in the statement that stores their creation
/// (group commit): concurrent creations each get exactly one key, stored (the projections open
/// the names with keys read from the database), used again by the user's next events, and
/// destroyed by forgetting.
async fn a_new_users_key_is_stored_with_their_first_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let create = "mutation($u: String!, $n: String!) { createUser(input: { userPrincipalName: $u, displayName: $n }) { id displayName } }";
    let created = futures::future::join_all((0..16).map(|i| {
        let (app, admin) = (&app, &admin);
        async move {
            let name = format!("Person Number {i}");
            let data = app.ok(admin, create, json!({ "u": format!("person{i}@contoso.com"), "n": name })).await;
            assert_eq!(data["createUser"]["displayName"], name, "the projection opened the name with the stored key");
            data["createUser"]["id"].as_str().unwrap().to_owned()
        }
    }))
    .await;
    for user in &created {
        assert_eq!(keys_of(&app, &tenant, user).await, 1, "one key per new user");
    }

    let user = &created[0];
    let update = "mutation($u: ID!) { updateUserProfile(id: $u, input: { displayName: \"Renamed Person\" }) { displayName } }";
    assert_eq!(app.ok(&admin, update, json!({ "u": user })).await["updateUserProfile"]["displayName"], "Renamed Person");
    assert_eq!(keys_of(&app, &tenant, user).await, 1, "the next event is sealed with the same key");

    app.ok(&admin, "mutation($u: ID!) { deleteUser(id: $u) }", json!({ "u": user })).await;
    let forgotten = app.ok(&admin, "mutation($u: ID!) { forgetUser(id: $u) { dataKeys } }", json!({ "u": user })).await;
    assert_eq!(forgotten["forgetUser"]["dataKeys"], 1);
    assert_eq!(keys_of(&app, &tenant, user).await, 0);
    let data = app.ok(&admin, "query($u: ID!) { user(id: $u) { displayName personalDataForgotten } }", json!({ "u": created[1] })).await;
    assert_eq!(data["user"], json!({ "displayName": "Person Number 1", "personalDataForgotten": false }), "the others keep theirs");
}

/// A user written by a release before personal data was sealed: `UserCreated` 1.0 with the UPN
/// in clear, claimed under the UPN in clear. It still loads, keeps its UPN unique, and
/// forgetting says honestly what it cannot erase.
async fn a_user_from_before_sealing_reads_and_is_forgotten_as_far_as_possible(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let user = uuid::Uuid::now_v7().to_string();
    let upn = "legacy.person@contoso.com";
    let metadata = json!({ "tenant_id": tenant, "actor": "system:old-release", "correlation_id": "old",
                           "occurred_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true) });
    let created = json!({ "UserCreated": { "tenant_id": tenant, "user_id": user, "upn": upn, "immutable_id": "AQIDBAUGBwgJCgsMDQ4PEA==",
        "profile": { "personal": { "display_name": "Legacy Person", "given_name": null, "surname": null, "mail": null } }, "usage_location": null } });
    let claimed = json!({ "Claimed": { "owner": user } });
    let json = if app.app.db().backend() == tessera::db::Backend::Postgres { "::json" } else { "" };
    let insert = format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES ($1, $2, 1, $3, '1.0', $4{json}, $5{json})"
    );
    let mut tx = app.app.db().begin_system().await.unwrap();
    for (kind, id, event, payload) in
        [("UniqueClaim", format!("upn:{tenant}:{upn}"), "Claimed", claimed), ("User", format!("{tenant}/{user}"), "UserCreated", created)]
    {
        tx.execute(&insert, tessera::args![kind, id, event, payload.to_string(), metadata.to_string()]).await.unwrap();
    }
    tx.commit().await.unwrap();

    // The projection and the aggregate read the old shape.
    let query = "query($u: ID!) { user(id: $u) { userPrincipalName displayName } }";
    let mut found = Value::Null;
    for _ in 0..50 {
        found = app.ok(&admin, query, json!({ "u": user })).await["user"].clone();
        if !found.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found, json!({ "userPrincipalName": upn, "displayName": "Legacy Person" }));
    // Its claim under the UPN in clear still holds the UPN.
    let taken = app
        .gql(
            &admin,
            "mutation($u: String!) { createUser(input: { userPrincipalName: $u, displayName: \"X\" }) { id } }",
            json!({ "u": upn }),
        )
        .await;
    assert_eq!(crate::helpers::code(&taken), "CONFLICT");

    app.ok(&admin, "mutation($u: ID!) { deleteUser(id: $u) }", json!({ "u": user })).await;
    let preview = app.ok(&admin, "mutation($u: ID!) { forgetUser(id: $u, preview: true) { plaintextEvents } }", json!({ "u": user })).await;
    assert_eq!(preview["forgetUser"]["plaintextEvents"], 1, "the old UserCreated holds her name in clear");
    app.ok(&admin, "mutation($u: ID!) { forgetUser(id: $u) { dataKeys } }", json!({ "u": user })).await;
    app.create_user(&admin, upn).await;
    assert!(tessera::audit::verify_db(app.app.db(), &tenant).await.unwrap().ok());
    let output = crate::replay::replay(&app.database_url);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
}
