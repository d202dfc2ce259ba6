//! `tessera serve` as a child process, for tests that kill and restart the server.

use std::process::{Child, Command, Stdio};

/// Starts `tessera serve` on `port` with the test keys, cheap argon2id and `extra` settings.
pub fn serve(database_url: &str, dns: std::net::SocketAddr, port: u16, extra: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
        .env("TESSERA_MASTER_KEY", super::app_master_key())
        .env("TESSERA_OPERATOR_KEY", super::app_operator_key())
        .env("TESSERA_DNS_NAMESERVERS", dns.to_string())
        .env("TESSERA_ARGON2_MEMORY_KIB", "1024")
        .env("TESSERA_ARGON2_ITERATIONS", "1")
        .env("TESSERA_LOG", "warn")
        // As in spawn_app: under load the read models may lag seconds behind a mutation.
        .env("TESSERA_PROJECTION_WAIT_MS", "60000")
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}
