//! Connections for single statements on PostgreSQL, kept between statements instead of going
//! back to the pool after each. sqlx pings every connection it takes back (a `Sync` and its
//! `ReadyForQuery`): one more round trip after every statement, on both sides of the socket,
//! which under load cost about as much as the statements themselves. A statement that completes
//! leaves its connection here for the next; one cut short (its future dropped) or failed for any
//! reason but the database refusing it goes back to the pool, whose release ping decides whether
//! it survives, as before.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, PgConnection, PgPool, Postgres};

/// A kept connection idle this long is checked before use (see `PING_AFTER_IDLE` in `db`);
/// one idle longer than `RETURN_AFTER_IDLE` goes back to the pool for transactions to use.
const PING_AFTER_IDLE: Duration = super::PING_AFTER_IDLE;
const RETURN_AFTER_IDLE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct Quiet {
    pool: PgPool,
    idle: Arc<Mutex<Vec<Kept>>>,
    /// At most this many idle here: the rest of the pool stays free for transactions.
    keep: usize,
}

/// A connection left by a statement, and since when.
type Kept = (PoolConnection<Postgres>, Instant);

/// A connection for one statement (derefs to it); `finish` it with the statement's result.
pub struct Lease<'a> {
    conn: Option<PoolConnection<Postgres>>,
    home: &'a Quiet,
}

impl Quiet {
    pub fn new(pool: PgPool, keep: usize) -> Self {
        Self { pool, idle: Arc::new(Mutex::new(Vec::new())), keep }
    }

    pub async fn lease(&self) -> Result<Lease<'_>, sqlx::Error> {
        let kept = self.idle.lock().expect("kept connections").pop();
        let conn = match kept {
            Some((mut conn, since)) if since.elapsed() >= PING_AFTER_IDLE => match conn.ping().await {
                Ok(()) => conn,
                Err(_) => {
                    drop(conn);
                    self.pool.acquire().await?
                }
            },
            Some((conn, _)) => conn,
            None => self.pool.acquire().await?,
        };
        Ok(Lease { conn: Some(conn), home: self })
    }

    /// Hands every kept connection back to the pool. Call it once the pool is marked closed
    /// (`PgPool::close` marks it at once and then waits for them), so no statement finishing
    /// meanwhile keeps one.
    pub fn release_all(&self) {
        self.idle.lock().expect("kept connections").clear();
    }
}

impl Lease<'_> {
    /// Keeps the connection for the next statement when this one completed, or was refused by
    /// the database (the connection itself is fine; sqlx reads what is left of the reply before
    /// its next statement). Returns the statement's result.
    pub fn finish<T>(mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        // A closing pool waits for every connection it lent: none may stay here then.
        let reusable = matches!(result, Ok(_) | Err(sqlx::Error::Database(_))) && !self.home.pool.is_closed();
        let Some(conn) = self.conn.take().filter(|_| reusable) else { return result };
        let mut idle = self.home.idle.lock().expect("kept connections");
        // The least recently used is at the bottom: one idle for long goes back to the pool.
        if idle.first().is_some_and(|(_, since)| since.elapsed() >= RETURN_AFTER_IDLE) {
            idle.remove(0);
        }
        if idle.len() < self.home.keep {
            idle.push((conn, Instant::now()));
        }
        result
    }
}

impl Deref for Lease<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn.as_deref().expect("a leased connection")
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_deref_mut().expect("a leased connection")
    }
}
