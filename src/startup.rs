//! Wires everything: database, migrations, event store, projectors, the application, HTTP.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, middleware, web};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::app::dns::{HickoryTxtLookup, TxtLookup};
use crate::app::{PasswordHasher, Tessera};
use crate::config::Settings;
use crate::crypto::{Crypto, MasterKey, MasterKeyRing};
use crate::db::Db;
use crate::projections::{self, Projector};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("master key: {0}")]
    MasterKey(String),
    #[error(transparent)]
    App(#[from] crate::app::AppError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Connects to the configured database, creating the embedded default's folder.
pub async fn connect(settings: &Settings) -> Result<Db, StartupError> {
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir)?;
    }
    Ok(Db::connect(&settings.database_url(), settings.db_max_connections).await?)
}

/// The master key ring from the environment or a file; on the embedded default with neither,
/// a key generated once into `<data_dir>/master.key` (mode 0600), so the first run just works.
pub fn master_keys(settings: &Settings) -> Result<MasterKeyRing, StartupError> {
    let bad = |e: crate::crypto::CryptoError| StartupError::MasterKey(e.to_string());
    if let Some(text) = &settings.master_key {
        return MasterKeyRing::parse(text.expose_secret()).map_err(bad);
    }
    let path = match &settings.master_key_file {
        Some(path) => path.clone(),
        None if settings.database_url.is_none() => settings.data_dir.join("master.key"),
        None => return Err(StartupError::MasterKey("set TESSERA_MASTER_KEY or TESSERA_MASTER_KEY_FILE".into())),
    };
    if !path.exists() && settings.master_key_file.is_none() {
        write_new_key(&path)?;
        tracing::warn!(path = %path.display(), "generated a master key for the embedded store; back it up");
    }
    let text = std::fs::read_to_string(&path).map_err(|e| StartupError::MasterKey(format!("{}: {e}", path.display())))?;
    MasterKeyRing::parse(&text).map_err(bad)
}

fn write_new_key(path: &Path) -> Result<(), StartupError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let key = MasterKey::generate("k1").map_err(|e| StartupError::MasterKey(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{}", key.to_text())?;
    Ok(())
}

/// A running Tessera: the HTTP server plus its background tasks.
pub struct Running {
    pub server: actix_web::dev::Server,
    pub port: u16,
    pub app: Arc<Tessera>,
    /// The one-time operator key, when this start created it.
    pub bootstrap_key: Option<String>,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Serves until the server stops (SIGTERM/SIGINT drain in-flight requests first), then
    /// stops the projectors.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.app.db().close().await;
        result
    }
}

/// The background signing-key rollover check.
fn spawn_key_rollover(app: Arc<Tessera>, every: Duration, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            if let Err(e) = app.roll_signing_keys(chrono::Utc::now()).await {
                tracing::error!(error = %e, "signing key rollover check failed");
            }
        }
    })
}

/// Builds the application on `listener`; migrations run first.
pub async fn build(settings: &Settings, listener: TcpListener, dns_override: Option<Arc<dyn TxtLookup>>) -> Result<Running, StartupError> {
    let db = connect(settings).await?;
    db.migrate().await?;
    let crypto = Crypto::new(master_keys(settings)?);
    let dns: Arc<dyn TxtLookup> = match dns_override {
        Some(dns) => dns,
        None => Arc::new(HickoryTxtLookup::new(&settings.dns_servers()?).map_err(|e| crate::app::AppError::Internal(e.to_string()))?),
    };
    let mut sign_in = settings.sign_in();
    if settings.public_url.is_none() {
        // The bound address, so a port-0 listener still gets usable URLs.
        sign_in.public_url = format!("http://{}", listener.local_addr()?);
    }
    let mut all = projections::all();
    all.push(Arc::new(crate::audit::AuditChain::new(crypto.clone(), settings.audit_policy())));
    let personal = crate::eventstore::PersonalData::new(crypto.clone());
    let projector = Projector::new(db.clone(), personal, all, Duration::from_millis(settings.projection_poll_ms));
    let handle = projector.handle();
    let shutdown = CancellationToken::new();
    let mut tasks = projector.spawn(shutdown.clone());
    let every = Duration::from_secs(settings.audit_checkpoint_seconds.max(1) as u64);
    tasks.push(crate::audit::spawn_periodic_signer(db.clone(), crypto.clone(), every, shutdown.clone()));
    let metrics = crate::observability::handle();
    tasks.push(crate::observability::spawn_upkeep(metrics.clone(), shutdown.clone()));
    let graph = crate::outbox::graph::HttpGraph::new(Duration::from_secs(settings.graph_timeout_seconds.max(1)))
        .map_err(|e| crate::app::AppError::Internal(format!("Graph client: {e}")))?;
    let app = Arc::new(
        Tessera::new(db, handle, crypto, dns, PasswordHasher::new(settings.argon2())?, Duration::from_millis(settings.projection_wait_ms))
            .with_sign_in(sign_in)
            .with_graph(Arc::new(graph)),
    );
    use secrecy::ExposeSecret as _;
    let bootstrap_key = app.bootstrap_operator(settings.operator_key.as_ref().map(|k| k.expose_secret())).await?;

    tasks.push(spawn_key_rollover(app.clone(), Duration::from_secs(settings.key_rollover_check_seconds.max(1)), shutdown.clone()));
    tasks.extend(crate::outbox::spawn(app.clone(), settings.outbox(), shutdown.clone()));
    tasks.extend(crate::jobs::spawn(app.clone(), settings.jobs(), shutdown.clone()));

    let schema = api::graphql::schema(app.clone());
    let port = listener.local_addr()?.port();
    let bound = api::health::ReadinessBound { max_projection_lag_seconds: settings.readiness_max_lag_seconds };
    let app_data = web::Data::new(app.clone());
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(middleware::from_fn(api::request_id::middleware))
            .app_data(app_data.clone())
            .app_data(web::Data::new(schema.clone()))
            .app_data(web::Data::new(bound))
            .app_data(web::Data::new(metrics.clone()))
            .configure(api::routes)
    })
    .shutdown_timeout(settings.shutdown_timeout_seconds)
    .listen(listener)?;
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(Running { server: server.run(), port, app, bootstrap_key, shutdown, tasks })
}
