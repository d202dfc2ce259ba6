//! Settings: defaults, then an optional TOML file (`--config` or `TESSERA_CONFIG`), then the
//! environment (`TESSERA_*`, plus the conventional `DATABASE_URL`). The README has the table.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use crate::app::Argon2Params;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Deserialize)]
pub struct Settings {
    /// `postgres://…` or `sqlite:…`; unset means `sqlite:<data_dir>/tessera.db`.
    pub database_url: Option<String>,
    /// Where the embedded defaults live (SQLite file, generated master key).
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    /// An `EnvFilter` directive, e.g. `info` or `tessera=debug,info`.
    pub log: String,
    /// Master key ring `id:base64,…` (first is active).
    pub master_key: Option<SecretString>,
    /// A file holding the master key ring; ignored when `master_key` is set.
    pub master_key_file: Option<PathBuf>,
    /// An operator key to make sure exists at start-up instead of printing a generated one.
    pub operator_key: Option<SecretString>,
    /// Name servers (`ip:port`, comma-separated) for domain verification; empty = the system's.
    pub dns_nameservers: String,
    pub db_max_connections: u32,
    /// How long a mutation waits for the read models to show its effect.
    pub projection_wait_ms: u64,
    /// How often projectors poll for events written by other instances.
    pub projection_poll_ms: u64,
    /// /readyz fails when an event older than this is not yet projected.
    pub readiness_max_lag_seconds: i64,
    /// How long SIGTERM waits for in-flight requests.
    pub shutdown_timeout_seconds: u64,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub workers: Option<usize>,
    /// The externally visible base URL of the sign-in endpoints; unset means `http://<listen>`.
    pub public_url: Option<String>,
    pub signing_key_validity_days: i64,
    pub signing_key_rollover_days: i64,
    /// How often the background check rolls signing keys over.
    pub key_rollover_check_seconds: u64,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub token_lifetime_minutes: i64,
    /// Let tenants allow `http://` reply URLs on loopback (tests and local demos only).
    pub allow_loopback_reply: bool,
    /// A tenant's audit chain head is signed after this many events since the last signature…
    pub audit_checkpoint_events: i64,
    /// …or when the last signature is older than this (checked as events arrive).
    pub audit_checkpoint_seconds: i64,
    /// Outbox workers in this process (0: this instance pushes nothing to Microsoft 365).
    pub outbox_workers: usize,
    /// How often an idle outbox worker looks for due tasks.
    pub outbox_poll_ms: u64,
    /// How long a claimed task is a worker's before another instance may take it over.
    pub outbox_lease_seconds: u64,
    /// Attempts before a transiently failing task ends FAILED.
    pub outbox_max_attempts: u32,
    /// Backoff after the first failed attempt; doubles per attempt (with jitter) up to the max.
    pub outbox_backoff_base_ms: u64,
    pub outbox_backoff_max_ms: u64,
    /// Timeout of one Microsoft Graph or token request.
    pub graph_timeout_seconds: u64,
    /// Whether independent Graph requests travel together in JSON `$batch` requests (outbox,
    /// import); off sends each on its own (escape hatch, and the benchmark's baseline).
    pub graph_batch: bool,
    /// Import/export job workers in this process (0: this instance runs no jobs).
    pub jobs_workers: usize,
    /// How often an idle job worker looks for a job, and a running export for its progress.
    pub jobs_poll_ms: u64,
    /// How long a claimed job is a worker's before another instance may resume it.
    pub jobs_lease_seconds: u64,
    /// Users per page an import asks Microsoft Graph for (`$top`, at most 999).
    pub import_page_size: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Settings {
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let defaults = Argon2Params::default();
        let mut builder = config::Config::builder()
            .set_default("data_dir", "./tessera-data")?
            .set_default("listen", "127.0.0.1:8080")?
            .set_default("log_format", "text")?
            .set_default("log", "info")?
            .set_default("dns_nameservers", "")?
            .set_default("db_max_connections", 16)?
            .set_default("projection_wait_ms", 5_000)?
            .set_default("projection_poll_ms", 250)?
            .set_default("readiness_max_lag_seconds", 30)?
            .set_default("shutdown_timeout_seconds", 30)?
            .set_default("argon2_memory_kib", defaults.memory_kib)?
            .set_default("argon2_iterations", defaults.iterations)?
            .set_default("argon2_parallelism", defaults.parallelism)?
            .set_default("signing_key_validity_days", 365)?
            .set_default("signing_key_rollover_days", 30)?
            .set_default("key_rollover_check_seconds", 3600)?
            .set_default("session_idle_minutes", 30)?
            .set_default("session_absolute_hours", 8)?
            .set_default("token_lifetime_minutes", 60)?
            .set_default("allow_loopback_reply", false)?
            .set_default("audit_checkpoint_events", 1_000)?
            .set_default("audit_checkpoint_seconds", 60)?
            .set_default("outbox_workers", 4)?
            .set_default("outbox_poll_ms", 500)?
            .set_default("outbox_lease_seconds", 120)?
            .set_default("outbox_max_attempts", 10)?
            .set_default("outbox_backoff_base_ms", 1_000)?
            .set_default("outbox_backoff_max_ms", 300_000)?
            .set_default("graph_timeout_seconds", 30)?
            .set_default("graph_batch", true)?
            .set_default("jobs_workers", 1)?
            .set_default("jobs_poll_ms", 500)?
            .set_default("jobs_lease_seconds", 60)?
            .set_default("import_page_size", 999)?;
        let file = file.map(PathBuf::from).or_else(|| std::env::var_os("TESSERA_CONFIG").map(PathBuf::from));
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml).required(true));
        }
        builder = builder.add_source(config::Environment::with_prefix("TESSERA").try_parsing(true));
        if let Ok(url) = std::env::var("DATABASE_URL") {
            builder = builder.set_override("database_url", url)?;
        }
        let settings: Self = builder.build()?.try_deserialize()?;
        settings.dns_servers()?;
        Ok(settings)
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("tessera.db").display()))
    }

    pub fn dns_servers(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        self.dns_nameservers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| ConfigError::Invalid(format!("dns_nameservers: {s:?} is not ip:port"))))
            .collect()
    }

    pub fn sign_in(&self) -> crate::app::SignInSettings {
        let public_url = self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen));
        crate::app::SignInSettings {
            public_url: public_url.trim_end_matches('/').to_owned(),
            signing_key_validity_days: self.signing_key_validity_days,
            signing_key_rollover_days: self.signing_key_rollover_days,
            session_idle_minutes: self.session_idle_minutes,
            session_absolute_hours: self.session_absolute_hours,
            token_lifetime_minutes: self.token_lifetime_minutes,
            allow_loopback_reply: self.allow_loopback_reply,
        }
    }

    pub fn audit_policy(&self) -> crate::audit::CheckpointPolicy {
        crate::audit::CheckpointPolicy {
            every_events: self.audit_checkpoint_events.max(1),
            every_seconds: self.audit_checkpoint_seconds.max(0),
        }
    }

    pub fn outbox(&self) -> crate::outbox::OutboxSettings {
        crate::outbox::OutboxSettings {
            workers: self.outbox_workers,
            poll_interval: std::time::Duration::from_millis(self.outbox_poll_ms.max(10)),
            lease: std::time::Duration::from_secs(self.outbox_lease_seconds.max(1)),
            max_attempts: self.outbox_max_attempts.max(1),
            backoff_base: std::time::Duration::from_millis(self.outbox_backoff_base_ms.max(1)),
            backoff_max: std::time::Duration::from_millis(self.outbox_backoff_max_ms.max(self.outbox_backoff_base_ms).max(1)),
            batch: self.graph_batch,
        }
    }

    pub fn jobs(&self) -> crate::jobs::JobSettings {
        crate::jobs::JobSettings {
            workers: self.jobs_workers,
            poll_interval: std::time::Duration::from_millis(self.jobs_poll_ms.max(10)),
            lease: std::time::Duration::from_secs(self.jobs_lease_seconds.max(5)),
            page_size: self.import_page_size.clamp(1, 999),
            batch: self.graph_batch,
            max_attempts: self.outbox_max_attempts.max(1),
            backoff_base: std::time::Duration::from_millis(self.outbox_backoff_base_ms.max(1)),
            backoff_max: std::time::Duration::from_millis(self.outbox_backoff_max_ms.max(self.outbox_backoff_base_ms).max(1)),
        }
    }

    pub fn argon2(&self) -> Argon2Params {
        Argon2Params { memory_kib: self.argon2_memory_kib, iterations: self.argon2_iterations, parallelism: self.argon2_parallelism }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_sets_values_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\nlog_format = \"json\"\ndb_max_connections = 7\ndns_nameservers = \"127.0.0.1:5353\"\n",
        )
        .unwrap();
        let settings = Settings::load(Some(&file)).unwrap();
        assert_eq!(settings.listen.port(), 9000);
        assert_eq!(settings.log_format, LogFormat::Json);
        assert_eq!(settings.db_max_connections, 7);
        assert_eq!(settings.dns_servers().unwrap().len(), 1);
        assert_eq!(settings.argon2_memory_kib, 19_456, "defaults fill the rest");
        std::fs::write(&file, "dns_nameservers = \"not-an-address\"\n").unwrap();
        assert!(Settings::load(Some(&file)).is_err());
        assert!(Settings::load(Some(&dir.path().join("missing.toml"))).is_err());
    }
}
