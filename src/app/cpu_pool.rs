//! A few OS threads, one per core by default, for CPU-bound work: argon2id and token signatures.
//!
//! Why not the async executor: a 2 ms RSA signature or a 50 ms argon2 run on an executor thread
//! stalls every request that thread drives, including ones holding a database connection in the
//! middle of a transaction. Why not `spawn_blocking`: it starts a thread per concurrent call (up
//! to 512), so 64 concurrent password checks ran 64 argon2 instances at once, each with its own
//! 19 MiB, which the allocator then kept (gigabytes of resident memory, and no faster than
//! running as many at a time as there are cores). Jobs here queue instead, first come first
//! served.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// The pool is gone (no thread could be started) or the job panicked.
#[derive(Debug, thiserror::Error)]
#[error("the {0} thread pool did not run the job")]
pub struct PoolError(&'static str);

pub struct CpuPool {
    name: &'static str,
    jobs: mpsc::Sender<Job>,
}

impl CpuPool {
    /// Starts `threads` threads (at least one). Their loop ends when the pool is dropped.
    pub fn new(name: &'static str, threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let started = std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job, not while running it.
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panicking job drops its reply channel (its caller gets an error); the
                    // thread lives on.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            });
            if let Err(error) = started {
                tracing::error!(pool = name, %error, "could not start a worker thread");
            }
        }
        Self { name, jobs }
    }

    /// One thread per core the process may use.
    pub fn per_core(name: &'static str) -> Self {
        Self::new(name, std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Runs `work` on a pool thread and waits for its result.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, PoolError> {
        let (reply, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(work());
            }))
            .map_err(|_| PoolError(self.name))?;
        result.await.map_err(|_| PoolError(self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn runs_jobs_at_most_threads_at_a_time() {
        let pool = Arc::new(CpuPool::new("test", 2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..8)
            .map(|i| {
                let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        i * 2
                    })
                    .await
                })
            })
            .collect();
        let mut results = Vec::new();
        for job in jobs {
            results.push(job.await.unwrap().unwrap());
        }
        assert_eq!(results, (0..8).map(|i| i * 2).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} jobs ran at once on 2 threads");
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_pool_survives() {
        let pool = CpuPool::new("test", 1);
        let failed = pool.run(|| -> u8 { panic!("boom") }).await;
        assert!(failed.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
