//! Integration tests of the Graph emulator, driven over HTTP like Tessera's client would.

mod support;

mod batch;
mod contract;
mod control;
mod delta;
mod domains;
mod faults;
mod groups;
mod licenses;
mod query;
mod robustness;
mod token;
mod users;
