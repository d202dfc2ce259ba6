//! Previews of deprovisioning (issue 4, item 5): `unassignUser(preview: true)`,
//! `deprovisioningPreview` (unassign or delete) and `pendingDeletions` tell who would be
//! affected, the action, when, and the exact Graph requests, change nothing (no event, no task,
//! no request to Microsoft), and list exactly what the real run later sends.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::graph::{CLIENT, Emulator, SECRET};
use crate::helpers::{Backend, TestApp, code, spawn_app};

both_backends!(deprovisioning_previews_change_nothing_and_match_what_is_sent);

const PREVIEW: &str = "mutation($u: ID!) { unassignUser(id: $u, preview: true) { assigned
    deprovisioningPreview { userId userPrincipalName action dueAt graphObjectId requests { method url body } explanation } } }";
const PREVIEW_CAUSE: &str = "query($u: ID!, $c: DeprovisionCause!) { deprovisioningPreview(userId: $u, cause: $c) {
    userId userPrincipalName action dueAt graphObjectId requests { method url body } explanation } }";
const PENDING: &str =
    "{ pendingDeletions { taskId userId userPrincipalName graphObjectId unassignedAt dueAt request { method url body } } }";

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// Everything a preview must leave alone: the events, the tasks and Microsoft's request log.
async fn footprint(app: &TestApp, admin: &str, emu: &Emulator) -> (i64, Vec<Value>, usize) {
    let mut tx = app.app.db().begin_system().await.unwrap();
    let events: Option<Count> = tx.fetch_optional("SELECT count(*) AS n FROM events", &[]).await.unwrap();
    tx.commit().await.unwrap();
    (events.map_or(0, |c| c.n), app.tasks(admin).await, emu.requests().await.len())
}

/// Waits until `user`'s task of `kind` succeeded.
async fn succeeded(app: &TestApp, admin: &str, user: &str, kind: &str) {
    let started = Instant::now();
    loop {
        let tasks = app.tasks(admin).await;
        if tasks.iter().any(|t| t["userId"] == user && t["kind"] == kind && t["status"] == "SUCCEEDED") {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{kind} of {user} did not succeed: {tasks:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The requests Microsoft received for a user's object, as planned requests are written.
async fn sent_for(emu: &Emulator, object_id: &str, method: &str) -> Vec<Value> {
    emu.requests()
        .await
        .into_iter()
        .filter(|r| {
            r["method"] == method && r["path"] == format!("/v1.0/users/{object_id}") && r["status"].as_u64().is_some_and(|s| s < 300)
        })
        .map(|r| {
            let body = if r["body"].is_null() || r["body"] == json!({}) { Value::Null } else { r["body"].clone() };
            json!({ "method": r["method"], "url": format!("{}{}", emu.base, r["path"].as_str().unwrap()), "body": body })
        })
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

async fn deprovisioning_previews_change_nothing_and_match_what_is_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    app.ok(&admin, "mutation { setDefaultUsageLocation(usageLocation: \"US\") { id } }", json!({})).await;
    let body = app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    assert!(body.get("errors").is_none(), "{body}");
    let mut users = std::collections::BTreeMap::new();
    for name in ["alice", "bob", "carol", "dave"] {
        let id = app.create_user(&admin, &format!("{name}@contoso.com")).await;
        app.ok(&admin, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({"u": id})).await;
        users.insert(name, id);
    }
    let tasks = app.settled_tasks(&admin, Duration::from_secs(60)).await;
    let object = |name: &str| -> String {
        tasks.iter().find(|t| t["userId"] == users[name].as_str() && t["kind"] == "PROVISION_USER").unwrap()["graphObjectId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let url = |name: &str| format!("{}/v1.0/users/{}", emu.base, object(name));

    // BLOCK_SIGN_IN (the default): one PATCH, now. The preview changes nothing.
    let before = footprint(&app, &admin, &emu).await;
    let data = app.ok(&admin, PREVIEW, json!({"u": users["alice"]})).await;
    let preview = &data["unassignUser"];
    assert_eq!(preview["assigned"], true, "still assigned");
    let plan = &preview["deprovisioningPreview"];
    assert_eq!(plan["userId"], users["alice"].as_str());
    assert_eq!(plan["userPrincipalName"], "alice@contoso.com");
    assert_eq!(plan["action"], "BLOCK_SIGN_IN");
    assert_eq!(plan["dueAt"], Value::Null);
    assert_eq!(plan["graphObjectId"], object("alice").as_str());
    let requests = json!([{ "method": "PATCH", "url": url("alice"), "body": { "accountEnabled": false } }]);
    assert_eq!(plan["requests"], requests);
    assert_eq!(footprint(&app, &admin, &emu).await, before, "no event, no task, no request");
    assert!(sent_for(&emu, &object("alice"), "PATCH").await.iter().all(|r| r["body"] != json!({ "accountEnabled": false })));
    // The real run sends exactly that.
    app.ok(&admin, "mutation($u: ID!) { unassignUser(id: $u) { assigned } }", json!({"u": users["alice"]})).await;
    succeeded(&app, &admin, &users["alice"], "DISABLE_USER").await;
    let sent = sent_for(&emu, &object("alice"), "PATCH").await;
    assert_eq!(sent.last(), requests.as_array().unwrap().last(), "{sent:#?}");

    // DELETE after the default grace period: when, and the request; then listed as pending.
    let set =
        app.ok(&admin, "mutation { setDeprovisionAction(action: DELETE) { deprovisionAction deprovisionGraceHours } }", json!({})).await;
    assert_eq!(set["setDeprovisionAction"], json!({ "deprovisionAction": "DELETE", "deprovisionGraceHours": 72 }));
    let before = footprint(&app, &admin, &emu).await;
    let asked = Utc::now();
    let plan = app.ok(&admin, PREVIEW, json!({"u": users["bob"]})).await["unassignUser"]["deprovisioningPreview"].clone();
    assert_eq!(plan["action"], "DELETE");
    let due = time(&plan["dueAt"]);
    assert!(due >= asked + TimeDelta::hours(72) && due <= Utc::now() + TimeDelta::hours(72), "{plan}");
    let bob_request = json!({ "method": "DELETE", "url": url("bob"), "body": null });
    assert_eq!(plan["requests"], json!([bob_request]));
    assert!(plan["explanation"].as_str().unwrap().contains("72 hour"), "{plan}");
    assert_eq!(footprint(&app, &admin, &emu).await, before);
    assert_eq!(app.ok(&admin, PENDING, json!({})).await["pendingDeletions"], json!([]));

    let unassigned = Utc::now();
    app.ok(&admin, "mutation($u: ID!) { unassignUser(id: $u) { assigned } }", json!({"u": users["bob"]})).await;
    let before = footprint(&app, &admin, &emu).await;
    let pending = app.ok(&admin, PENDING, json!({})).await["pendingDeletions"].clone();
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    let bob = &pending[0];
    assert_eq!(bob["userId"], users["bob"].as_str());
    assert_eq!(bob["userPrincipalName"], "bob@contoso.com");
    assert_eq!(bob["graphObjectId"], object("bob").as_str());
    assert_eq!(bob["request"], bob_request);
    // Due 72 hours after the unassignment (kept to the millisecond).
    let waited = time(&bob["dueAt"]) - time(&bob["unassignedAt"]) - TimeDelta::hours(72);
    assert!(waited.num_milliseconds().abs() <= 1, "{bob}");
    assert!(time(&bob["unassignedAt"]) >= unassigned - TimeDelta::seconds(1));
    let task = before.1.iter().find(|t| t["id"] == bob["taskId"]).unwrap();
    assert_eq!((task["kind"].as_str(), task["status"].as_str()), (Some("DELETE_USER"), Some("PENDING")));
    assert_eq!(footprint(&app, &admin, &emu).await, before, "listing changes nothing");
    assert!(sent_for(&emu, &object("bob"), "DELETE").await.is_empty(), "nothing sent before the grace period ends");
    // An auditor may see what is scheduled, but not preview a change.
    let auditor = app.key_for(&tenant, "AUDITOR").await;
    assert_eq!(app.ok(&auditor, PENDING, json!({})).await["pendingDeletions"], pending);
    assert_eq!(code(&app.gql(&auditor, PREVIEW, json!({"u": users["carol"]})).await), "FORBIDDEN");

    // Without grace the deletion is due at once; Graph answers slowly, so it is still listed
    // while under way. The listed request is exactly the one sent.
    let set = app.ok(&admin, "mutation { setDeprovisionAction(action: DELETE, graceHours: 0) { deprovisionGraceHours } }", json!({})).await;
    assert_eq!(set["setDeprovisionAction"]["deprovisionGraceHours"], 0);
    emu.faults(json!([{ "kind": "delay", "delayMs": 2000, "method": "DELETE", "pathPrefix": "/v1.0/users/" }])).await;
    let plan = app.ok(&admin, PREVIEW, json!({"u": users["carol"]})).await["unassignUser"]["deprovisioningPreview"].clone();
    let carol_request = json!({ "method": "DELETE", "url": url("carol"), "body": null });
    assert_eq!(plan["requests"], json!([carol_request]));
    assert!(time(&plan["dueAt"]) <= Utc::now());
    app.ok(&admin, "mutation($u: ID!) { unassignUser(id: $u) { assigned } }", json!({"u": users["carol"]})).await;
    let pending = app.ok(&admin, PENDING, json!({})).await["pendingDeletions"].clone();
    let carol = pending.as_array().unwrap().iter().find(|p| p["userId"] == users["carol"].as_str()).expect("carol's deletion is listed");
    assert_eq!(carol["request"], carol_request);
    assert_eq!(pending[0]["userId"], users["carol"].as_str(), "the soonest first");
    succeeded(&app, &admin, &users["carol"], "DELETE_USER").await;
    assert_eq!(sent_for(&emu, &object("carol"), "DELETE").await, [carol_request]);
    assert!(emu.users_with_upn("carol@contoso.com").await.is_empty());

    // Deleting an assigned user deprovisions it too: previewed as such, then sent as listed.
    let before = footprint(&app, &admin, &emu).await;
    let plan = app.ok(&admin, PREVIEW_CAUSE, json!({"u": users["dave"], "c": "DELETE"})).await["deprovisioningPreview"].clone();
    let dave_request = json!({ "method": "DELETE", "url": url("dave"), "body": null });
    assert_eq!((plan["action"].as_str(), &plan["requests"]), (Some("DELETE"), &json!([dave_request])));
    assert_eq!(footprint(&app, &admin, &emu).await, before);
    app.ok(&admin, "mutation($u: ID!) { deleteUser(id: $u) }", json!({"u": users["dave"]})).await;
    succeeded(&app, &admin, &users["dave"], "DELETE_USER").await;
    assert_eq!(sent_for(&emu, &object("dave"), "DELETE").await, [dave_request]);

    // A user not assigned: nothing would happen; unknown users and bad ids are typed errors.
    let plan = app.ok(&admin, PREVIEW_CAUSE, json!({"u": users["alice"], "c": "UNASSIGN"})).await["deprovisioningPreview"].clone();
    assert_eq!((plan["action"].as_str(), &plan["requests"]), (Some("NONE"), &json!([])));
    let nobody = uuid::Uuid::now_v7().to_string();
    assert_eq!(code(&app.gql(&admin, PREVIEW, json!({"u": nobody})).await), "NOT_FOUND");
    assert_eq!(code(&app.gql(&admin, PREVIEW_CAUSE, json!({"u": "nope", "c": "DELETE"})).await), "VALIDATION");
    assert_eq!(
        code(&app.gql(&admin, "mutation { setDeprovisionAction(action: DELETE, graceHours: 721) { id } }", json!({})).await),
        "VALIDATION"
    );

    // Re-assigning bob within the grace period cancels his deletion: no longer pending.
    emu.faults(json!([])).await;
    app.ok(&admin, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({"u": users["bob"]})).await;
    assert_eq!(app.ok(&admin, PENDING, json!({})).await["pendingDeletions"], json!([]));
    app.settled_tasks(&admin, Duration::from_secs(60)).await;
    assert_eq!(emu.users_with_upn("bob@contoso.com").await.len(), 1);
    app.assert_replay_matches().await;

    // The whole history again in one batch (the outbox decides on the facts it read ahead for
    // the batch, and writes the assignments at its end): still what the events say.
    let outbox = tessera::projections::all().into_iter().find(|p| p.name() == "outbox").unwrap();
    tessera::projections::reset(app.app.db(), outbox.as_ref()).await.unwrap();
    tessera::projections::catch_up(app.app.db(), app.app.personal_data(), outbox.as_ref()).await.unwrap();
    app.assert_replay_matches().await;
    assert_eq!(app.ok(&admin, PENDING, json!({})).await["pendingDeletions"], json!([]));
}
