//! Import and export jobs against the Graph emulator: every page read, users matched by UPN,
//! anchors set, exactly the unprovisioned users exported (each once), one job per tenant at a
//! time, progress and report in GraphQL, and `$batch` with per-item throttling.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::graph::{CLIENT, E3, Emulator, SECRET};
use crate::helpers::{Backend, TestApp, code, spawn_app, spawn_app_with};

both_backends!(
    import_reads_every_page_matches_by_upn_sets_anchors_and_assigns_new_users,
    export_pushes_exactly_the_unprovisioned_users_once_in_batches,
    a_second_job_while_one_runs_is_a_conflict,
    throttled_batch_items_are_retried_alone,
    batching_can_be_turned_off,
);

const JOB: &str = "id kind status domains total done created matched updated failed error startedAt finishedAt
    report(first: 100) { nodes { userPrincipalName userId graphObjectId outcome errorCode errorMessage } }";

/// A tenant with contoso.com verified, usage location US and E3 by default; connected when asked.
async fn tenant(app: &TestApp, emu: &Emulator, connect: bool) -> String {
    let (_, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    app.ok(
        &admin,
        "mutation($s: String!) { setDefaultUsageLocation(usageLocation: \"US\") { id } setDefaultLicenses(skuIds: [$s]) { id } }",
        json!({"s": E3}),
    )
    .await;
    if connect {
        self::connect(app, emu, &admin).await;
    }
    admin
}

async fn connect(app: &TestApp, emu: &Emulator, admin: &str) {
    let body = app.connect_emulator(admin, emu, CLIENT, SECRET).await;
    assert!(body.get("errors").is_none(), "{body}");
}

/// Creates a user (assigned when asked); returns (id, ImmutableID).
async fn user(app: &TestApp, key: &str, upn: &str, assign: bool) -> (String, String) {
    let data = app
        .ok(
            key,
            "mutation($u: String!) { createUser(input: { userPrincipalName: $u, displayName: \"Test User\" }) { id immutableId } }",
            json!({"u": upn}),
        )
        .await;
    let id = data["createUser"]["id"].as_str().unwrap().to_owned();
    if assign {
        app.ok(key, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({"u": id})).await;
    }
    (id, data["createUser"]["immutableId"].as_str().unwrap().to_owned())
}

async fn job(app: &TestApp, key: &str, id: &str) -> Value {
    app.ok(key, &format!("query($id: ID!) {{ job(id: $id) {{ {JOB} }} }}"), json!({"id": id})).await["job"].clone()
}

/// Waits until the job has ended.
async fn finished(app: &TestApp, key: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let job = job(app, key, id).await;
        if job["status"] != "RUNNING" {
            return job;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "job still running: {job:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn report(job: &Value) -> HashMap<String, Value> {
    job["report"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["userPrincipalName"].as_str().unwrap().to_ascii_lowercase(), n.clone()))
        .collect()
}

async fn start_export(app: &TestApp, key: &str) -> String {
    app.ok(key, &format!("mutation {{ startExportUsers {{ {JOB} }} }}"), json!({})).await["startExportUsers"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Assigned users that are not in Microsoft 365, which is what an export is for: users of
/// fabrikam.com, verified in Tessera but not yet in Microsoft 365, whose provisioning failed
/// (Graph refuses the UPN; connecting already pushed everything else) and whose tasks the admin
/// cancelled, then the domain added in Microsoft 365.
async fn unprovisioned(app: &TestApp, emu: &Emulator, admin: &str, prefix: &str, count: usize) {
    app.verified_domain(admin, "fabrikam.com").await;
    for i in 0..count {
        user(app, admin, &format!("{prefix}{i:02}@fabrikam.com"), true).await;
    }
    let started = Instant::now();
    loop {
        let tasks = app.tasks(admin).await;
        let failed = tasks.iter().filter(|t| t["kind"] == "PROVISION_USER" && t["status"] == "FAILED").count();
        if failed == count {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{tasks:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The admin gives up on those tasks (licenses first, so none runs for a user that is not
    // there), fixes the cause, and exports: new tasks, all at once.
    let tasks = app.tasks(admin).await;
    for kind in ["GRANT_LICENSE", "PROVISION_USER"] {
        for task in tasks.iter().filter(|t| t["kind"] == kind && t["target"].as_str().is_some_and(|t| t.starts_with("user:"))) {
            if task["status"] == "PENDING" || task["status"] == "FAILED" {
                app.ok(admin, "mutation($t: ID!) { cancelTask(id: $t) { status } }", json!({"t": task["id"]})).await;
            }
        }
    }
    emu.add_domain("fabrikam.com").await;
    emu.control("DELETE", "/requests", None).await;
}

const ZERO_ANCHOR: &str = "AAAAAAAAAAAAAAAAAAAAAA==";
const ONES_ANCHOR: &str = "AQEBAQEBAQEBAQEBAQEBAQ==";

async fn import_reads_every_page_matches_by_upn_sets_anchors_and_assigns_new_users(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.import_page_size = 3).await;
    let emu = Emulator::start().await;
    let admin = tenant(&app, &emu, true).await;
    let (adele, adele_anchor) = user(&app, &admin, "adele@contoso.com", false).await;
    let (brian, brian_anchor) = user(&app, &admin, "brian@contoso.com", false).await;
    user(&app, &admin, "gus@contoso.com", false).await;
    emu.add_domain("fabrikam.com").await;
    let m365 = [
        json!({"userPrincipalName": "ADELE@Contoso.com", "displayName": "Adele", "mailNickname": "adele"}),
        json!({"userPrincipalName": "brian@contoso.com", "displayName": "Brian", "mailNickname": "brian", "onPremisesImmutableId": brian_anchor}),
        json!({"userPrincipalName": "cora@contoso.com", "displayName": "Cora Lee", "givenName": "Cora", "surname": "Lee",
               "mailNickname": "cora", "usageLocation": "DE"}),
        json!({"userPrincipalName": "dan@contoso.com", "displayName": "Dan", "mailNickname": "dan", "onPremisesImmutableId": ZERO_ANCHOR}),
        json!({"userPrincipalName": "erin@contoso.com", "displayName": "Erin", "mailNickname": "erin"}),
        json!({"userPrincipalName": "fay@contoso.com", "displayName": "Fay", "mailNickname": "fay"}),
        json!({"userPrincipalName": "gus@contoso.com", "displayName": "Gus", "mailNickname": "gus", "onPremisesImmutableId": ONES_ANCHOR}),
        json!({"userPrincipalName": "zed@fabrikam.com", "displayName": "Zed", "mailNickname": "zed"}),
    ];
    for u in m365 {
        emu.add_user(u).await;
    }

    let data = app.ok(&admin, &format!("mutation {{ startImportUsers(domains: [\"Contoso.com\"]) {{ {JOB} }} }}"), json!({})).await;
    let started = &data["startImportUsers"];
    assert_eq!(started["kind"], "IMPORT_USERS");
    assert_eq!(started["domains"], json!(["contoso.com"]));
    let id = started["id"].as_str().unwrap();
    let job = finished(&app, &admin, id).await;
    assert_eq!(job["status"], "COMPLETED", "{job:#}");
    assert_eq!(
        (&job["total"], &job["done"], &job["created"], &job["matched"], &job["updated"], &job["failed"]),
        (&json!(7), &json!(7), &json!(4), &json!(1), &json!(1), &json!(1)),
        "{job:#}"
    );
    assert!(job["finishedAt"].is_string());
    let items = report(&job);
    assert_eq!(items.len(), 7, "{items:#?}");
    assert!(!items.contains_key("zed@fabrikam.com"));
    assert_eq!(items["adele@contoso.com"]["outcome"], "UPDATED");
    assert_eq!(items["adele@contoso.com"]["userId"], adele.as_str());
    assert_eq!(items["brian@contoso.com"]["outcome"], "MATCHED");
    assert_eq!(items["brian@contoso.com"]["userId"], brian.as_str());
    assert_eq!(items["gus@contoso.com"]["outcome"], "FAILED");
    assert_eq!(items["gus@contoso.com"]["errorCode"], "IMMUTABLE_ID_MISMATCH");
    for name in ["cora", "dan", "erin", "fay"] {
        assert_eq!(items[&format!("{name}@contoso.com")]["outcome"], "CREATED", "{items:#?}");
    }

    // Microsoft 365 now carries Tessera's anchors; the one it had (dan) became Tessera's.
    assert_eq!(emu.users_with_upn("adele@contoso.com").await[0]["onPremisesImmutableId"], adele_anchor.as_str());
    assert_eq!(emu.users_with_upn("gus@contoso.com").await[0]["onPremisesImmutableId"], ONES_ANCHOR);
    for name in ["cora", "dan", "erin", "fay"] {
        let upn = format!("{name}@contoso.com");
        let created = app
            .ok(
                &admin,
                "query($id: ID!) { user(id: $id) { userPrincipalName immutableId assigned displayName usageLocation } }",
                json!({"id": items[&upn]["userId"]}),
            )
            .await["user"]
            .clone();
        assert_eq!(created["userPrincipalName"], upn.as_str());
        assert_eq!(created["assigned"], true, "{created}");
        let theirs = emu.users_with_upn(&upn).await;
        assert_eq!(theirs.len(), 1);
        assert_eq!(theirs[0]["onPremisesImmutableId"], created["immutableId"], "{upn}");
        if name == "dan" {
            assert_eq!(created["immutableId"], ZERO_ANCHOR);
        }
        if name == "cora" {
            assert_eq!(created["displayName"], "Cora Lee");
            assert_eq!(created["usageLocation"], "DE");
        }
    }

    // Every page was read (8 users, 3 to a page), following @odata.nextLink.
    let log = emu.requests().await;
    let pages: Vec<&Value> = log
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"] == "/v1.0/users" && r["query"].as_str().unwrap().contains("%24top=3"))
        .collect();
    assert_eq!(pages.len(), 3, "{pages:#?}");
    assert!(pages[1..].iter().all(|p| p["query"].as_str().unwrap().contains("skiptoken")), "{pages:#?}");
    // The anchors went out together in one $batch.
    let patches: Vec<&Value> = log
        .iter()
        .filter(|r| r["method"] == "PATCH" && r["body"].get("onPremisesImmutableId").is_some() && r["batchRequestId"].is_string())
        .collect();
    assert!(patches.len() >= 4, "{log:#?}");

    // The created users are assigned, so the outbox provisions them: matched, never duplicated.
    let tasks = app.settled_tasks(&admin, Duration::from_secs(60)).await;
    assert!(tasks.iter().all(|t| t["status"] == "SUCCEEDED"), "{tasks:#?}");
    for name in ["cora", "dan", "erin", "fay"] {
        assert_eq!(emu.users_with_upn(&format!("{name}@contoso.com")).await.len(), 1);
    }

    // Every state change of the job is an event in the audit trail.
    let events =
        app.ok(&admin, "{ auditEvents(first: 100, filter: { aggregateType: \"TenantJobs\" }) { nodes { eventType } } }", json!({})).await;
    let types: Vec<&str> = events["auditEvents"]["nodes"].as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(types, ["JobStarted", "JobTotalCounted", "JobFinished"]);
    app.assert_replay_matches().await;
}

async fn export_pushes_exactly_the_unprovisioned_users_once_in_batches(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let admin = tenant(&app, &emu, true).await;
    const USERS: usize = 25;
    user(&app, &admin, "unassigned@contoso.com", false).await;
    // One assigned while connected is provisioned by the outbox on its own.
    user(&app, &admin, "late@contoso.com", true).await;
    app.settled_tasks(&admin, Duration::from_secs(60)).await;
    assert_eq!(emu.users_with_upn("late@contoso.com").await.len(), 1);
    unprovisioned(&app, &emu, &admin, "user", USERS).await;

    let id = start_export(&app, &admin).await;
    let job = finished(&app, &admin, &id).await;
    assert_eq!(job["kind"], "EXPORT_USERS");
    assert_eq!(job["status"], "COMPLETED", "{job:#}");
    assert_eq!((&job["total"], &job["created"], &job["failed"]), (&json!(USERS), &json!(USERS), &json!(0)), "{job:#}");
    let items = report(&job);
    assert_eq!(items.len(), USERS);
    assert!(items.values().all(|i| i["outcome"] == "CREATED" && i["graphObjectId"].is_string()));
    assert!(!items.contains_key("late@contoso.com") && !items.contains_key("unassigned@contoso.com"));

    for i in 0..USERS {
        let found = emu.users_with_upn(&format!("user{i:02}@fabrikam.com")).await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["assignedLicenses"][0]["skuId"], E3);
    }
    assert!(emu.users_with_upn("unassigned@contoso.com").await.is_empty());
    let log = emu.requests().await;
    let creates: Vec<&Value> = log.iter().filter(|r| r["method"] == "POST" && r["path"] == "/v1.0/users").collect();
    assert_eq!(creates.len(), USERS, "only the unprovisioned users are created");
    // They travelled in $batch requests: far fewer round trips than requests.
    let batches = log.iter().filter(|r| r["path"] == "/v1.0/$batch").count();
    assert!(batches >= 2, "{batches}");
    assert!(creates.iter().filter(|r| r["batchRequestId"].is_string()).count() >= USERS - 3, "{creates:#?}");
    let round_trips = log.iter().filter(|r| r["batchRequestId"].is_null()).count();
    assert!(round_trips * 3 < USERS * 2, "{round_trips} round trips for {USERS} users");

    // Nothing is left: a second export handles nobody.
    let again = start_export(&app, &admin).await;
    let job = finished(&app, &admin, &again).await;
    assert_eq!((&job["status"], &job["total"], &job["done"]), (&json!("COMPLETED"), &json!(0), &json!(0)));
    // Tasks an export queued, and the job's report, fold to the same rows (rebuild, replay).
    app.assert_replay_matches().await;
}

async fn a_second_job_while_one_runs_is_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let admin = tenant(&app, &emu, true).await;
    // Nothing federated yet, and a domain that is not the tenant's: refused before any job.
    let body = app.gql(&admin, "mutation { startImportUsers { id } }", json!({})).await;
    assert_eq!(code(&body), "PRECONDITION_FAILED", "{body}");
    assert!(body.to_string().contains("NO_DOMAINS_TO_IMPORT"), "{body}");
    let body = app.gql(&admin, "mutation { startImportUsers(domains: [\"fabrikam.com\"]) { id } }", json!({})).await;
    assert_eq!(code(&body), "PRECONDITION_FAILED", "{body}");
    emu.add_user(json!({"userPrincipalName": "ann@contoso.com", "displayName": "Ann", "mailNickname": "ann"})).await;
    // The listing answers slowly, so the import is still running while we look.
    emu.control(
        "PUT",
        "/faults",
        Some(json!({"rules": [{"kind": "delay", "method": "GET", "pathPrefix": "/v1.0/users", "delayMs": 2000}]})),
    )
    .await;

    let data = app.ok(&admin, "mutation { startImportUsers(domains: [\"contoso.com\"]) { id status } }", json!({})).await;
    let id = data["startImportUsers"]["id"].as_str().unwrap().to_owned();
    assert_eq!(data["startImportUsers"]["status"], "RUNNING");
    for second in ["mutation { startExportUsers { id } }", "mutation { startImportUsers(domains: [\"contoso.com\"]) { id } }"] {
        let body = app.gql(&admin, second, json!({})).await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(&id), "{body}");
    }
    let running = job(&app, &admin, &id).await;
    assert_eq!(running["status"], "RUNNING");
    assert_eq!(running["done"], 0);
    let listed = app.ok(&admin, "{ jobs(first: 10) { nodes { id kind status } } }", json!({})).await;
    assert_eq!(listed["jobs"]["nodes"], json!([{"id": id, "kind": "IMPORT_USERS", "status": "RUNNING"}]));
    // Another tenant has its own slot and sees none of this tenant's jobs.
    let (_, other) = app.tenant_with_admin("Fabrikam").await;
    assert_eq!(app.ok(&other, "{ jobs { nodes { id } } }", json!({})).await["jobs"]["nodes"], json!([]));
    assert_eq!(app.ok(&other, "query($id: ID!) { job(id: $id) { id } }", json!({"id": id})).await["job"], Value::Null);

    let done = finished(&app, &admin, &id).await;
    assert_eq!((&done["status"], &done["total"], &done["created"]), (&json!("COMPLETED"), &json!(1), &json!(1)), "{done:#}");
    // Once it ended, the next one starts.
    let next = start_export(&app, &admin).await;
    finished(&app, &admin, &next).await;
    let listed = app.ok(&admin, "{ jobs(first: 1) { nodes { id } pageInfo { hasNextPage } } }", json!({})).await;
    assert_eq!(listed["jobs"]["nodes"][0]["id"], next.as_str(), "newest first");
    assert_eq!(listed["jobs"]["pageInfo"]["hasNextPage"], true);
}

async fn throttled_batch_items_are_retried_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let admin = tenant(&app, &emu, true).await;
    const USERS: usize = 20;
    unprovisioned(&app, &emu, &admin, "t", USERS).await;
    // A third of the creates, inside their batches, are throttled.
    emu.control(
        "PUT",
        "/faults",
        Some(json!({"seed": 5, "rules": [{"kind": "throttle", "method": "POST", "pathPrefix": "/v1.0/users", "rate": 0.35, "retryAfterSeconds": 1}]})),
    )
    .await;
    let id = start_export(&app, &admin).await;
    let job = finished(&app, &admin, &id).await;
    // A user whose create went through but whose license grant was throttled is matched by
    // its anchor on the next attempt.
    assert_eq!(job["status"], "COMPLETED", "{job:#}");
    assert_eq!((&job["done"], &job["failed"]), (&json!(USERS), &json!(0)), "{job:#}");

    let log = emu.requests().await;
    let creates: Vec<&Value> = log.iter().filter(|r| r["method"] == "POST" && r["path"] == "/v1.0/users").collect();
    let throttled: Vec<&Value> = creates.iter().copied().filter(|r| r["status"] == 429).collect();
    assert!(!throttled.is_empty(), "the faults should have throttled some creates");
    // Throttled inside their batches (a retried task may go out on its own, and be throttled again).
    assert!(throttled.iter().all(|r| r["fault"] == "throttle"));
    assert!(throttled.iter().any(|r| r["batchRequestId"].is_string()), "{throttled:#?}");
    let all_throttled = log.iter().filter(|r| r["status"] == 429).count();
    // Each throttled item's batch still created the others; only the throttled users were sent again.
    let created = creates.iter().filter(|r| r["status"] == 201).count();
    assert_eq!(created, USERS);
    for r in throttled.iter().filter(|r| r["batchRequestId"].is_string()) {
        let batch = r["batchRequestId"].as_str().unwrap();
        let siblings_created = creates.iter().filter(|c| c["batchRequestId"] == batch && c["status"] == 201).count();
        let in_batch = creates.iter().filter(|c| c["batchRequestId"] == batch).count();
        assert_eq!(siblings_created + creates.iter().filter(|c| c["batchRequestId"] == batch && c["status"] == 429).count(), in_batch);
    }
    for i in 0..USERS {
        assert_eq!(emu.users_with_upn(&format!("t{i:02}@fabrikam.com")).await.len(), 1);
    }
    let tasks = app.settled_tasks(&admin, Duration::from_secs(60)).await;
    assert!(tasks.iter().all(|t| t["status"] == "SUCCEEDED" || t["status"] == "CANCELLED"));
    // Every failed attempt is one throttled item: nothing else in its batch was retried.
    let failed_attempts: i64 = tasks.iter().filter(|t| t["status"] != "CANCELLED").map(|t| t["attempts"].as_i64().unwrap() - 1).sum();
    assert_eq!(failed_attempts as usize, all_throttled, "exactly the throttled items were retried");
}

async fn batching_can_be_turned_off(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.graph_batch = false).await;
    let emu = Emulator::start().await;
    let admin = tenant(&app, &emu, true).await;
    unprovisioned(&app, &emu, &admin, "n", 5).await;
    let id = start_export(&app, &admin).await;
    let job = finished(&app, &admin, &id).await;
    assert_eq!((&job["status"], &job["created"]), (&json!("COMPLETED"), &json!(5)), "{job:#}");
    let log = emu.requests().await;
    assert!(log.iter().all(|r| r["path"] != "/v1.0/$batch" && r["batchRequestId"].is_null()));
    assert_eq!(log.iter().filter(|r| r["method"] == "POST" && r["path"] == "/v1.0/users").count(), 5);
}
