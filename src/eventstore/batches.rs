//! Work handed in one item at a time by concurrent commands and done several items at a time
//! (group commit of appends, histories read together). A lone item is never held back: up to
//! `runners` batches run at once, and only items arriving while they all run wait, to go
//! together in the next batch. Each batch runs in its own task, so no item's outcome depends
//! on the request that happened to start the batch staying alive.

use std::future::Future;
use std::sync::{Arc, Mutex};

use cqrs_es::persist::PersistenceError;
use tokio::sync::oneshot;

/// What a batch does with its items.
pub(super) trait BatchJob: Send + Sync + 'static {
    type Item: Send + 'static;
    type Output: Send + 'static;

    /// Does the batch: one output per item, in the items' order.
    fn run(&self, items: Vec<Self::Item>) -> impl Future<Output = Vec<Self::Output>> + Send;
}

pub(super) struct Batches<J: BatchJob> {
    inner: Arc<Inner<J>>,
}

impl<J: BatchJob> Clone for Batches<J> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

struct Inner<J: BatchJob> {
    job: J,
    runners: usize,
    max_batch: usize,
    state: Mutex<State<J>>,
}

type Waiting<J> = (<J as BatchJob>::Item, oneshot::Sender<<J as BatchJob>::Output>);

struct State<J: BatchJob> {
    queue: Vec<Waiting<J>>,
    running: usize,
}

impl<J: BatchJob> Batches<J> {
    /// At most `runners` batches at once, each of at most `max_batch` items.
    pub(super) fn new(job: J, runners: usize, max_batch: usize) -> Self {
        let state = Mutex::new(State { queue: Vec::new(), running: 0 });
        Self { inner: Arc::new(Inner { job, runners, max_batch, state }) }
    }

    /// The item's output, once a batch with it has run; `None` if its batch's task ended without
    /// an answer (it panicked).
    pub(super) async fn submit(&self, item: J::Item) -> Option<J::Output> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut state = self.inner.state.lock().expect("batch queue");
            state.queue.push((item, reply));
            (state.running < self.inner.runners).then(|| {
                state.running += 1;
                self.inner.take(&mut state.queue)
            })
        };
        if let Some(batch) = lead {
            tokio::spawn(self.inner.clone().run_while_queued(batch));
        }
        answer.await.ok()
    }
}

/// Gives a runner's place back however its task ends.
struct Running<J: BatchJob>(Arc<Inner<J>>);

impl<J: BatchJob> Drop for Running<J> {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.state.lock() {
            state.running -= 1;
        }
    }
}

impl<J: BatchJob> Inner<J> {
    fn take(&self, queue: &mut Vec<Waiting<J>>) -> Vec<Waiting<J>> {
        let rest = queue.split_off(queue.len().min(self.max_batch));
        std::mem::replace(queue, rest)
    }

    /// Runs the batch, then whatever queued meanwhile, until nothing waits.
    async fn run_while_queued(self: Arc<Self>, mut batch: Vec<Waiting<J>>) {
        let running = Running(self.clone());
        loop {
            let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let outputs = self.job.run(items).await;
            debug_assert_eq!(outputs.len(), replies.len(), "one output per item");
            for (reply, output) in replies.into_iter().zip(outputs) {
                let _ = reply.send(output);
            }
            let mut state = running.0.state.lock().expect("batch queue");
            if state.queue.is_empty() {
                return;
            }
            batch = self.take(&mut state.queue);
        }
    }
}

/// Why a batch's statement failed, for each of its items (`PersistenceError` is not `Clone`).
#[derive(Debug, Clone)]
pub(super) enum Failure {
    Conflict,
    Connection(String),
    Other(String),
}

impl From<Failure> for PersistenceError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Conflict => PersistenceError::OptimisticLockError,
            Failure::Connection(message) => PersistenceError::ConnectionError(message.into()),
            Failure::Other(message) => PersistenceError::UnknownError(message.into()),
        }
    }
}

impl Failure {
    pub(super) fn of(err: &sqlx::Error) -> Self {
        match err {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                Self::Connection(err.to_string())
            }
            _ => Self::Other(err.to_string()),
        }
    }
}
