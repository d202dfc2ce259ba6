//! Users assigned and groups made before the tenant connected Microsoft 365 are pushed once it
//! connects (derived from the connection event by the outbox projection), each once: a later
//! reconnection queues nothing again.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::graph::{CLIENT, E3, ENTRA_TENANT, Emulator, SECRET};
use crate::helpers::{Backend, spawn_app};

both_backends!(
    what_was_assigned_before_the_connection_is_pushed_once_connected,
    what_changed_while_disconnected_is_reconciled_once_connected_again
);

async fn what_was_assigned_before_the_connection_is_pushed_once_connected(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let (_, admin) = app.tenant_with_admin("Early").await;
    app.verified_domain(&admin, "contoso.com").await;
    app.ok(
        &admin,
        "mutation($s: String!) { setDefaultUsageLocation(usageLocation: \"US\") { id } setDefaultLicenses(skuIds: [$s]) { id } }",
        json!({"s": E3}),
    )
    .await;
    // Before any connection: two assigned users (licensed by default), one not assigned, a
    // group with an assigned and an unassigned member, and a group deleted again.
    let mut ids = Vec::new();
    for upn in ["early1@contoso.com", "early2@contoso.com", "never@contoso.com"] {
        ids.push(app.create_user(&admin, upn).await);
    }
    for id in &ids[..2] {
        app.ok(&admin, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({"u": id})).await;
    }
    let group =
        app.ok(&admin, "mutation { createGroup(displayName: \"Early birds\") { id } }", json!({})).await["createGroup"]["id"].clone();
    for id in [&ids[0], &ids[2]] {
        app.ok(&admin, "mutation($g: ID!, $u: ID!) { addGroupMember(groupId: $g, userId: $u) { id } }", json!({"g": group, "u": id})).await;
    }
    let gone = app.ok(&admin, "mutation { createGroup(displayName: \"Gone\") { id } }", json!({})).await["createGroup"]["id"].clone();
    app.ok(&admin, "mutation($g: ID!) { deleteGroup(id: $g) }", json!({"g": gone})).await;
    assert!(app.tasks(&admin).await.is_empty(), "nothing is queued while not connected");

    let body = app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    assert!(body.get("errors").is_none(), "{body}");
    let tasks = app.settled_tasks(&admin, Duration::from_secs(60)).await;
    assert!(tasks.iter().all(|t| t["status"] == "SUCCEEDED"), "{tasks:#?}");
    let kinds: Vec<(&str, &str)> = tasks.iter().map(|t| (t["kind"].as_str().unwrap(), t["target"].as_str().unwrap())).collect();
    let provisions = kinds.iter().filter(|(k, _)| *k == "PROVISION_USER").count();
    assert_eq!(provisions, 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|(k, _)| *k == "PROVISION_GROUP").count(), 1, "{kinds:?}");
    let member_tasks: Vec<&Value> = tasks.iter().filter(|t| t["kind"] == "ADD_GROUP_MEMBER").collect();
    assert_eq!(member_tasks.len(), 1, "only the assigned member: {kinds:?}");
    assert_eq!(member_tasks[0]["userId"], ids[0].as_str());

    for upn in ["early1@contoso.com", "early2@contoso.com"] {
        let found = emu.users_with_upn(upn).await;
        assert_eq!(found.len(), 1, "{upn}");
        let skus: Vec<&str> = found[0]["assignedLicenses"].as_array().unwrap().iter().map(|l| l["skuId"].as_str().unwrap()).collect();
        assert_eq!(skus, [E3], "{upn}: its licenses came with its provisioning");
    }
    assert!(emu.users_with_upn("never@contoso.com").await.is_empty());
    let tenant = emu.control("GET", &format!("/tenants/{ENTRA_TENANT}"), None).await;
    let groups: Vec<&Value> =
        tenant["groups"].as_array().unwrap().iter().filter(|g| g["mailNickname"].as_str().unwrap().starts_with("tessera-")).collect();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0]["displayName"], "Early birds");
    let early1 = emu.users_with_upn("early1@contoso.com").await[0]["id"].clone();
    assert_eq!(groups[0]["members"], json!([early1]));

    // Reconnecting owes nothing: everything is in Microsoft 365 already.
    let before = tasks.len();
    app.ok(&admin, "mutation { disconnectMicrosoft365 }", json!({})).await;
    let body = app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    assert!(body.get("errors").is_none(), "{body}");
    // A later assignment still flows, and shows the projection has passed the reconnection.
    app.ok(&admin, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({"u": ids[2]})).await;
    let tasks = app.settled_tasks(&admin, Duration::from_secs(60)).await;
    let mut new: Vec<(&str, &str)> = tasks[before..].iter().map(|t| (t["kind"].as_str().unwrap(), t["status"].as_str().unwrap())).collect();
    new.sort_unstable();
    assert_eq!(new, [("ADD_GROUP_MEMBER", "SUCCEEDED"), ("GRANT_LICENSE", "SUCCEEDED"), ("PROVISION_USER", "SUCCEEDED")], "{tasks:#?}");
    let tenant = emu.control("GET", &format!("/tenants/{ENTRA_TENANT}"), None).await;
    let group = tenant["groups"].as_array().unwrap().iter().find(|g| g["displayName"] == "Early birds").unwrap().clone();
    assert_eq!(group["members"].as_array().unwrap().len(), 2, "the member assigned later joined too");
    // The backfill, queued memberships and reconnection fold to the same rows (rebuild, replay).
    app.assert_replay_matches().await;
}

fn tessera_group<'a>(tenant: &'a Value, name: &str) -> Option<&'a Value> {
    tenant["groups"].as_array().unwrap().iter().find(|g| g["displayName"] == name)
}

/// Objects Microsoft 365 already holds, changed while the tenant was disconnected: connecting
/// again brings Microsoft 365 to Tessera's state, once, each after the tasks of its object.
async fn what_changed_while_disconnected_is_reconciled_once_connected_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let emu = Emulator::start().await;
    let (_, admin) = app.tenant_with_admin("Drifting").await;
    app.verified_domain(&admin, "contoso.com").await;
    app.ok(&admin, "mutation { setDefaultUsageLocation(usageLocation: \"US\") { id } }", json!({})).await;
    let body = app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    assert!(body.get("errors").is_none(), "{body}");
    let names = ["keep", "leaver", "gone", "paused", "back", "returner"];
    let mut ids = std::collections::BTreeMap::new();
    for name in names {
        let id = app.create_user(&admin, &format!("{name}@contoso.com")).await;
        app.ok(&admin, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", json!({"u": id})).await;
        ids.insert(name, id);
    }
    let doomed = app.ok(&admin, "mutation { createGroup(displayName: \"Doomed\") { id } }", json!({})).await["createGroup"]["id"].clone();
    app.ok(&admin, "mutation { createGroup(displayName: \"Stays\") { id } }", json!({})).await;
    // Suspended while connected: blocked in Microsoft 365.
    app.ok(&admin, "mutation($u: ID!) { suspendUser(id: $u) { id } }", json!({"u": ids["back"]})).await;
    let before = app.settled_tasks(&admin, Duration::from_secs(60)).await;
    assert!(before.iter().all(|t| t["status"] == "SUCCEEDED"), "{before:#?}");
    assert_eq!(emu.users_with_upn("back@contoso.com").await[0]["accountEnabled"], false);

    // Disconnected: unassigned, deleted, suspended, reactivated, unassigned and re-assigned, a
    // group deleted; and the deprovision action becomes DELETE without grace.
    app.ok(&admin, "mutation { disconnectMicrosoft365 }", json!({})).await;
    app.ok(&admin, "mutation { setDeprovisionAction(action: DELETE, graceHours: 0) { id } }", json!({})).await;
    let user = |name: &str| json!({"u": ids[name]});
    app.ok(&admin, "mutation($u: ID!) { unassignUser(id: $u) { assigned } }", user("leaver")).await;
    app.ok(&admin, "mutation($u: ID!) { deleteUser(id: $u) }", user("gone")).await;
    app.ok(&admin, "mutation($u: ID!) { suspendUser(id: $u) { id } }", user("paused")).await;
    app.ok(&admin, "mutation($u: ID!) { reactivateUser(id: $u) { id } }", user("back")).await;
    app.ok(&admin, "mutation($u: ID!) { unassignUser(id: $u) { assigned } }", user("returner")).await;
    app.ok(&admin, "mutation($u: ID!) { assignUser(id: $u) { assigned } }", user("returner")).await;
    app.ok(&admin, "mutation($g: ID!) { deleteGroup(id: $g) }", json!({"g": doomed})).await;
    assert_eq!(app.tasks(&admin).await.len(), before.len(), "nothing is queued while disconnected");

    let body = app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    assert!(body.get("errors").is_none(), "{body}");
    let tasks = app.settled_tasks(&admin, Duration::from_secs(60)).await;
    assert!(tasks.iter().all(|t| t["status"] == "SUCCEEDED"), "{tasks:#?}");
    let mut new: Vec<(String, String)> = tasks[before.len()..]
        .iter()
        .map(|t| {
            let user = ids.iter().find(|(_, id)| t["userId"] == id.as_str()).map_or("-", |(name, _)| *name);
            (t["kind"].as_str().unwrap().to_owned(), user.to_owned())
        })
        .collect();
    new.sort();
    let expected: Vec<(String, String)> = [
        ("DELETE_GROUP", "-"),
        ("DELETE_USER", "gone"),
        ("DELETE_USER", "leaver"),
        ("DISABLE_USER", "paused"),
        ("ENABLE_USER", "back"),
        // Re-assigned: its status is pushed again (it was never blocked, so it stays enabled).
        ("ENABLE_USER", "returner"),
    ]
    .iter()
    .map(|(k, u)| ((*k).to_owned(), (*u).to_owned()))
    .collect();
    assert_eq!(new, expected, "{tasks:#?}");

    // Microsoft 365 now matches Tessera.
    assert!(emu.users_with_upn("leaver@contoso.com").await.is_empty());
    assert!(emu.users_with_upn("gone@contoso.com").await.is_empty());
    assert_eq!(emu.users_with_upn("paused@contoso.com").await[0]["accountEnabled"], false);
    assert_eq!(emu.users_with_upn("back@contoso.com").await[0]["accountEnabled"], true);
    assert_eq!(emu.users_with_upn("returner@contoso.com").await[0]["accountEnabled"], true);
    assert_eq!(emu.users_with_upn("keep@contoso.com").await[0]["accountEnabled"], true);
    let tenant = emu.control("GET", &format!("/tenants/{ENTRA_TENANT}"), None).await;
    assert!(tessera_group(&tenant, "Doomed").is_none(), "the group deleted while disconnected is gone");
    assert!(tessera_group(&tenant, "Stays").is_some());

    // Exactly once: connecting again owes nothing more.
    let settled = tasks.len();
    app.ok(&admin, "mutation { disconnectMicrosoft365 }", json!({})).await;
    let body = app.connect_emulator(&admin, &emu, CLIENT, SECRET).await;
    assert!(body.get("errors").is_none(), "{body}");
    // A later change still flows, and shows the projection has passed the reconnection.
    app.ok(&admin, "mutation($u: ID!) { suspendUser(id: $u) { id } }", user("keep")).await;
    let tasks = app.settled_tasks(&admin, Duration::from_secs(60)).await;
    let later: Vec<&str> = tasks[settled..].iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(later, ["DISABLE_USER"], "{tasks:#?}");
    assert_eq!(emu.users_with_upn("keep@contoso.com").await[0]["accountEnabled"], false);
    app.assert_replay_matches().await;
}
