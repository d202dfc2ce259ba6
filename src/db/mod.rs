//! The two storage backends behind one small interface: PostgreSQL (production) and SQLite
//! (the embedded default). Queries are written once, in the SQL both understand, with `$n`
//! placeholders; SQLite receives them as `?n`, which it binds by the same number.

mod args;
mod bulk;
mod dynamic;
mod keys;
mod quiet;
mod tx;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Executor, PgPool, SqlitePool};

pub use args::Arg;
pub use keys::key_list;
pub(crate) use quiet::Quiet;
pub use tx::{Row, Tx};

use crate::domain::values::TenantId;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported DATABASE_URL (expected postgres:// or sqlite:): {0}")]
    UnsupportedUrl(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Connection pools. On PostgreSQL: `system` connections carry `tessera.system = on` and may see
/// every tenant (event store, operator reads); `projector` connections are the same kind, kept
/// apart so the projector never queues behind a burst of requests (every request waits for
/// it); `read` connections see only the tenant a transaction names, enforced by row-level
/// security. `statements` and `confined` keep some of the `system` and `read` connections
/// between single statements (`quiet`: no release ping).
#[derive(Clone, Debug)]
pub enum Db {
    Postgres { system: PgPool, projector: PgPool, read: PgPool, statements: Quiet, confined: Quiet },
    Sqlite(SqlitePool),
}

/// A pooled connection idle this long is checked (pinged) before use; busier ones are not.
pub(crate) const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

/// sqlx pings every connection it hands out by default: one more round trip per transaction
/// (five of about seventeen per single sign-on token). Only connections that sat idle long
/// enough to have been cut (a restarted or failed-over server, a proxy's idle timeout) are
/// checked.
fn pg_pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
            // The projector's pool: its page read (`eventstore::read_after`) must not get a
            // custom plan. PostgreSQL plans a prepared statement's first five executions per
            // connection with the parameters' values, misjudges the row comparison and sorts
            // the whole events table (4.3 s a page over a million events against 38 ms;
            // docs/benchmarks.md). The projector's other statements are keyed look-ups,
            // planned alike either way.
            let system_pool = |size: u32, projector: bool| {
                pg_pool_options(size).after_connect(move |conn, _| {
                    Box::pin(async move {
                        conn.execute("SET tessera.system = 'on'").await?;
                        if projector {
                            conn.execute("SET plan_cache_mode = force_generic_plan").await?;
                            // Projector commits need not wait for the disk: the events are
                            // durable already, and a commit lost in a crash only rewinds the
                            // checkpoint with its rows (a rebuild's with its tables), so the
                            // events are applied again.
                            conn.execute("SET synchronous_commit = off").await?;
                        }
                        Ok(())
                    })
                })
            };
            let system = system_pool(max_connections, false).connect_with(options.clone()).await?;
            let projector = system_pool(2, true).connect_with(options.clone()).await?;
            let read = pg_pool_options(max_connections).connect_with(options).await?;
            let keep = (max_connections / 2) as usize;
            let (statements, confined) = (Quiet::new(system.clone(), keep), Quiet::new(read.clone(), keep));
            Ok(Self::Postgres { system, projector, read, statements, confined })
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                // Deleted rows are overwritten, not left in free pages: a destroyed personal
                // data key must not survive in the file (docs/personal-data.md).
                .pragma("secure_delete", "on")
                .disable_statement_logging();
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.min(8))
                // An in-process connection does not go stale; checking costs a round trip to
                // its worker thread on every acquire.
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            Ok(Self::Sqlite(pool))
        } else {
            Err(DbError::UnsupportedUrl(url.split(':').next().unwrap_or_default().to_owned()))
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres { .. } => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres { .. } => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Self::Postgres { system, .. } => sqlx::migrate!("./migrations/postgres").run(system).await?,
            Self::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    /// Whether every migration this binary knows has been applied (readiness).
    pub async fn migrations_applied(&self) -> Result<bool, DbError> {
        let (expected, applied): (usize, i64) = match self {
            Self::Postgres { system, .. } => (
                sqlx::migrate!("./migrations/postgres").iter().count(),
                sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(system).await?,
            ),
            Self::Sqlite(pool) => (
                sqlx::migrate!("./migrations/sqlite").iter().count(),
                sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(pool).await?,
            ),
        };
        Ok(applied as usize >= expected)
    }

    /// A transaction that may see and write every tenant's rows: projectors and operators.
    pub async fn begin_system(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Self::Postgres { system, .. } => Tx::Postgres(system.begin().await?),
            // IMMEDIATE takes the write lock up front, so a read-then-write transaction never
            // fails with SQLITE_BUSY halfway when another writer committed meanwhile.
            Self::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// A system transaction on the projector's own connections (see `Db`).
    pub async fn begin_projector(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Self::Postgres { projector, .. } => Tx::Postgres(projector.begin().await?),
            Self::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// A read transaction confined to one tenant (by row-level security on PostgreSQL).
    pub async fn begin_tenant(&self, tenant_id: &TenantId) -> Result<Tx, DbError> {
        Ok(match self {
            Self::Postgres { read, .. } => {
                // BEGIN and the tenant setting in one round trip instead of two. A tenant id is a
                // UUID (hex digits and dashes), so writing it into the statement injects nothing.
                let begin = format!("BEGIN; SELECT set_config('tessera.tenant_id', '{tenant_id}', true)");
                Tx::Postgres(read.begin_with(begin).await?)
            }
            Self::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
        })
    }

    /// A short read outside any tenant (health checks, checkpoints, key lookup).
    pub async fn begin_read(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Self::Postgres { system, .. } => Tx::Postgres(system.begin().await?),
            Self::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
        })
    }

    /// SQLite: copies the write-ahead log into the database file and empties it, so what was
    /// just deleted leaves no older copy in the log. Nothing to do on PostgreSQL.
    pub async fn truncate_wal(&self) -> Result<(), DbError> {
        if let Self::Sqlite(pool) = self {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await?;
        }
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        let mut tx = self.begin_read().await?;
        tx.execute("SELECT 1", &[]).await?;
        tx.commit().await
    }

    pub async fn close(&self) {
        match self {
            Self::Postgres { system, projector, read, statements, confined } => {
                // `close` marks a pool closed at once, then waits for its connections: the kept
                // ones are handed back in between.
                let (system_closed, read_closed) = (system.close(), read.close());
                statements.release_all();
                confined.release_all();
                system_closed.await;
                projector.close().await;
                read_closed.await;
            }
            Self::Sqlite(pool) => pool.close().await,
        }
    }
}
