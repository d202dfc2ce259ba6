//! `subscription auditEvents` over a real WebSocket (graphql-transport-ws).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(a_live_tail_streams_new_events_to_an_authenticated_auditor);

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, init: Value) -> Socket {
    let url = format!("{}/graphql", app.address.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::text(json!({ "type": "connection_init", "payload": init }).to_string())).await.unwrap();
    socket
}

/// The next JSON message, skipping pings; `None` when the server closed the socket.
async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("a message in time")?;
        match message {
            Ok(Message::Text(text)) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] == "ping" {
                    continue;
                }
                return Some(value);
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn a_live_tail_streams_new_events_to_an_authenticated_auditor(backend: Backend) {
    let app = spawn_app(backend).await;
    let (tenant, admin) = app.tenant_with_admin("Contoso").await;
    app.verified_domain(&admin, "contoso.com").await;
    let auditor = app.key_for(&tenant, "AUDITOR").await;

    // No key, or a bad one: no acknowledgement.
    let mut refused = connect(&app, json!({ "authorization": "Bearer tsk_nope" })).await;
    let answer = next(&mut refused).await;
    assert!(answer.as_ref().is_none_or(|a| a["type"] != "connection_ack"), "{answer:?}");

    let mut socket = connect(&app, json!({ "authorization": format!("Bearer {auditor}") })).await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription { auditEvents(filter: { aggregateType: \"User\" }) { eventType aggregateId actorRole chainHash } }"
    }});
    socket.send(Message::text(subscribe.to_string())).await.unwrap();
    // Let the subscription take its starting point before anything happens.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Another tenant's events never reach this auditor.
    let (_, other) = app.tenant_with_admin("Fabrikam").await;
    app.verified_domain(&other, "fabrikam.com").await;
    app.create_user(&other, "x@fabrikam.com").await;

    let user = app.create_user(&admin, "adele@contoso.com").await;
    app.ok(&admin, "mutation($u: ID!) { setUsageLocation(id: $u, usageLocation: \"US\") { id } }", json!({ "u": user })).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let message = next(&mut socket).await.expect("an event");
        assert_eq!(message["type"], "next", "{message}");
        let event = &message["payload"]["data"]["auditEvents"];
        assert_eq!(event["aggregateId"], format!("{tenant}/{user}").as_str());
        assert_eq!(event["actorRole"], "ADMIN");
        assert_eq!(event["chainHash"].as_str().unwrap().len(), 64);
        seen.push(event["eventType"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["UserCreated", "UsageLocationSet"]);
    socket.send(Message::text(json!({ "id": "1", "type": "complete" }).to_string())).await.unwrap();
    socket.close(None).await.unwrap();
}
