#![forbid(unsafe_code)]
//! Tessera: a multi-tenant, event-sourced identity provider for Microsoft 365.

pub mod api;
pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod emulator;
pub mod eventstore;
pub mod jobs;
pub mod observability;
pub mod outbox;
pub mod projections;
pub mod read;
pub mod startup;
pub mod telemetry;
pub mod wsfed;
