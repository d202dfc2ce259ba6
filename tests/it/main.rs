//! The one integration-test binary: every suite drives a real server over HTTP, on SQLite and on
//! PostgreSQL (see `helpers::Backend` and the `both_backends!` macro).

mod helpers;

mod api_keys;
mod audit;
mod audit_api;
mod audit_ws;
mod browser;
mod concurrency;
mod deprovisioning;
mod domains;
mod emulator;
mod errors;
mod faults;
mod federation;
mod forget;
mod graph_connection;
mod groups;
mod health;
mod isolation;
mod jobs;
mod metrics;
mod outbox;
mod outbox_backfill;
mod outbox_restart;
mod projections;
mod replay;
mod row_level_security;
mod schema;
mod signin;
mod tenants;
mod time_travel;
mod users;
mod wsfed;
