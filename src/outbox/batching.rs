//! Several tasks of one tenant run together and their Graph requests travel together: each
//! task calls Graph as usual (through this coalescer), and once every running task is waiting
//! on a request (or 20 are), the waiting requests go out as one JSON `$batch`. Tasks are of
//! different objects (the claim guarantees it), so their requests are independent; each task's
//! own requests stay in order, one after another. A throttled item fails only its own task,
//! which retries after that item's `Retry-After`.

// Results carry Graph errors, which hold Microsoft's whole answer (as every call's do).
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use super::graph::batch::MAX_BATCH;
use crate::app::graph::{AccessToken, GraphApi, GraphConnection, GraphError, GraphRequest, GraphResponse};

type Reply = oneshot::Sender<Result<GraphResponse, GraphError>>;

struct Waiting {
    connection: GraphConnection,
    request: GraphRequest,
    reply: Reply,
}

struct State {
    /// Participants still running.
    active: usize,
    queue: Vec<Waiting>,
}

pub struct Coalescer {
    inner: Arc<dyn GraphApi>,
    state: Mutex<State>,
    wake: Notify,
}

impl Coalescer {
    pub fn new(inner: Arc<dyn GraphApi>, participants: usize) -> Self {
        Self { inner, state: Mutex::new(State { active: participants, queue: Vec::new() }), wake: Notify::new() }
    }

    /// A participant is done: it will send nothing more.
    pub fn leave(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.active = state.active.saturating_sub(1);
        }
        self.wake.notify_one();
    }

    /// Sends the waiting requests whenever every running participant waits (or a batch is
    /// full); returns when all participants have left.
    pub async fn drive(&self) {
        loop {
            let ready = {
                let Ok(mut state) = self.state.lock() else { return };
                if state.queue.is_empty() && state.active == 0 {
                    return;
                }
                if !state.queue.is_empty() && (state.queue.len() >= state.active || state.queue.len() >= MAX_BATCH) {
                    let take = state.queue.len().min(MAX_BATCH);
                    Some(state.queue.drain(..take).collect::<Vec<_>>())
                } else {
                    None
                }
            };
            match ready {
                Some(items) => self.flush(items).await,
                // Notify keeps a permit, so no wake-up is lost; the timeout is only a re-check.
                None => {
                    let _ = tokio::time::timeout(Duration::from_millis(100), self.wake.notified()).await;
                }
            }
        }
    }

    async fn flush(&self, mut items: Vec<Waiting>) {
        if items.len() == 1
            && let Some(item) = items.pop()
        {
            let result = self.inner.call(&item.connection, item.request).await;
            let _ = item.reply.send(result);
            return;
        }
        let Some(connection) = items.first().map(|i| i.connection.clone()) else { return };
        let (requests, replies): (Vec<GraphRequest>, Vec<Reply>) = items.into_iter().map(|i| (i.request, i.reply)).unzip();
        let results = self.inner.batch(&connection, requests).await;
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

#[async_trait::async_trait]
impl GraphApi for Coalescer {
    async fn token(&self, connection: &GraphConnection) -> Result<AccessToken, GraphError> {
        self.inner.token(connection).await
    }

    async fn call(&self, connection: &GraphConnection, request: GraphRequest) -> Result<GraphResponse, GraphError> {
        let (reply, answer) = oneshot::channel();
        match self.state.lock() {
            Ok(mut state) => state.queue.push(Waiting { connection: connection.clone(), request, reply }),
            Err(_) => return Err(GraphError::local("BATCH_UNAVAILABLE", "the request batcher failed")),
        }
        self.wake.notify_one();
        answer.await.unwrap_or_else(|_| Err(GraphError::local("BATCH_UNAVAILABLE", "the request batcher stopped")))
    }

    async fn batch(&self, connection: &GraphConnection, requests: Vec<GraphRequest>) -> Vec<Result<GraphResponse, GraphError>> {
        self.inner.batch(connection, requests).await
    }
}
