//! A stateful, in-memory Microsoft Graph v1.0 and Entra ID token endpoint emulator.
//!
//! Tessera provisions users, licenses, groups and domain federation into Microsoft 365
//! through Graph. Tests, demos and load tests need a Graph that answers like the real one
//! (status codes, error bodies, paging, permissions, throttling) without a real tenant, so
//! this module implements exactly the operations Tessera uses, following Microsoft's v1.0
//! metadata and the protocol notes in `reference/graph/`.
//!
//! Start it with [`serve`]; seed and steer it through the control API under `/_emulator/`
//! (see `docs/graph-emulator.md`).
//!
//! Layout: `http` adapts actix-web to a transport-free core (`router::dispatch` over
//! `state`), so `$batch` items run through the same code as top-level requests.

#![forbid(unsafe_code)]

mod auth;
mod batch;
mod conn;
mod control;
mod delta;
mod domains;
mod errors;
mod faults;
mod federation;
mod filter;
mod groups;
mod http;
mod input;
mod jwt;
mod licenses;
mod log;
mod odata;
mod request;
mod router;
pub mod schema;
mod seed;
mod seeding;
mod state;
mod token;
mod users;

use std::net::TcpListener;

pub use faults::{FaultKind, FaultRule};
pub use router::{Route, routes};
pub use seed::{AppSeed, DomainSeed, Seed, ServicePlanSeed, SkuSeed, TenantSeed, UnitsSeed};

/// How an emulator instance runs.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Absolute URL clients reach the emulator at, without a trailing slash. Used in
    /// `@odata.nextLink`, `@odata.context` and the client-assertion `aud` check. Defaults to
    /// `http://{listener address}`; set it when the emulator sits behind a proxy.
    pub public_base_url: Option<String>,
    /// Applied at start and again after every `POST /_emulator/reset`.
    pub seed: Seed,
    /// Seed of the fault-injection RNG (the control API can change it).
    pub fault_seed: u64,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_lifetime_secs: u32,
    /// The request log keeps this many latest entries.
    pub max_log_entries: usize,
    /// actix-web worker threads.
    pub workers: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self { public_base_url: None, seed: Seed::default(), fault_seed: 0, token_lifetime_secs: 3599, max_log_entries: 10_000, workers: 2 }
    }
}

/// Starts the emulator on `listener` and returns the running server for the caller to
/// spawn or await (stop it with `Server::handle().stop(..)`).
///
/// Must be called inside a Tokio (or actix) runtime. OS signals are not handled: the
/// caller owns shutdown. Fails if the configured seed is invalid.
pub fn serve(listener: TcpListener, config: EmulatorConfig) -> std::io::Result<actix_web::dev::Server> {
    http::serve(listener, config)
}
