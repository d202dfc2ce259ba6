pub mod app;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod eventstore;
pub mod projections;
pub mod read;
