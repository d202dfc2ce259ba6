//! `tessera serve` as a child process, for tests that kill and restart the server.

use std::ops::{Deref, DerefMut};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};

/// A server child process that cannot outlive its test: killed when dropped (a failed
/// assertion unwinds through here), and by the kernel when the test's thread dies without
/// unwinding (nextest's timeout kills the test process). Left running, an orphaned server keeps
/// its outbox workers busy and slows every later test on the machine.
pub struct ServerProcess(Child);

impl Deref for ServerProcess {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for ServerProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs a `tessera` command to its end against `database_url`, with the test master key.
pub fn tessera_cli(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("TESSERA_MASTER_KEY", super::app_master_key())
        .env("TESSERA_LOG", "warn")
        .output()
        .unwrap()
}

/// Starts `tessera serve` on `port` with the test keys, cheap argon2id and `extra` settings.
pub fn serve(database_url: &str, dns: std::net::SocketAddr, port: u16, extra: &[(&str, &str)]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
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
        .stderr(Stdio::null());
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            // SIGKILL the server when the thread that started it (the test's) ends.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    ServerProcess(command.spawn().unwrap())
}
