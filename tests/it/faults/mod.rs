//! Fault tests of the outbox (issue 4, item 7): a thousand users under 30 % Graph faults, the
//! same with the server SIGKILLed and restarted, two server processes sharing one PostgreSQL
//! outbox, and the request-log check against `reference/graph/`. Each ends with the same
//! verdict (`support::assert_provisioned_once_in_order`): every user exists once in Microsoft
//! 365 with its anchor and license, created before any license reached it.

mod conformance;
mod kill;
mod support;
mod thousand;
mod two_processes;
