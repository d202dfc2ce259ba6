//! Re-computes a tenant's chain link by link and checks signed checkpoints against it; shared by
//! verification against the database and against an exported file.

use std::collections::HashMap;

use openssl::pkey::{PKey, Public};

use super::canonical::{Hash, link_hash, to_hex};
use super::chain::chain_of;
use super::keys::SignedCheckpoint;
use crate::eventstore::StoredEvent;

/// The first thing found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    pub position: i64,
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "position {}: {}", self.position, self.reason)
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub tenant_id: String,
    pub events: u64,
    pub checkpoints: u64,
    /// The last chain index covered by a valid signature; events after it are chained but not
    /// yet signed.
    pub last_signed_seq: i64,
    pub last_seq: i64,
    pub failure: Option<Failure>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// Keeps the failure with the lowest position.
    pub fn fail(&mut self, failure: Failure) {
        if self.failure.as_ref().is_none_or(|f| failure.position < f.position) {
            self.failure = Some(failure);
        }
    }
}

pub struct Walker {
    tenant: String,
    prev: Hash,
    keys: HashMap<String, PKey<Public>>,
    pub report: Report,
}

impl Walker {
    /// Starts after chain index `seq_before`, whose link is `prev`.
    pub fn new(tenant: &str, prev: Hash, seq_before: i64, keys: HashMap<String, PKey<Public>>) -> Self {
        let report = Report { tenant_id: tenant.to_owned(), last_seq: seq_before, last_signed_seq: seq_before, ..Report::default() };
        Self { tenant: tenant.to_owned(), prev, keys, report }
    }

    pub fn event(&mut self, seq: i64, stored_hash: &str, event: &StoredEvent) -> Result<(), Failure> {
        let fail = |reason: String| Failure { position: event.position, reason };
        if seq != self.report.last_seq + 1 {
            return Err(fail(format!("chain link {} is missing (links were deleted or reordered)", self.report.last_seq + 1)));
        }
        if chain_of(event) != self.tenant {
            return Err(fail("the event belongs to another tenant's chain".into()));
        }
        let hash = link_hash(&self.prev, event);
        if to_hex(&hash) != stored_hash {
            return Err(fail("the event does not match its chain link (changed, moved, inserted or reordered)".into()));
        }
        self.prev = hash;
        self.report.last_seq = seq;
        self.report.events += 1;
        Ok(())
    }

    pub fn checkpoint(&mut self, checkpoint: &SignedCheckpoint) -> Result<(), Failure> {
        let fail = |reason: &str| Failure { position: checkpoint.position, reason: reason.to_owned() };
        if checkpoint.tenant_id != self.tenant {
            return Err(fail("a signed checkpoint of another tenant"));
        }
        let Some(key) = self.keys.get(&checkpoint.key_id) else {
            return Err(fail("a checkpoint signed by an unknown key"));
        };
        if !checkpoint.verify(key) {
            return Err(fail("the checkpoint's signature is invalid"));
        }
        if checkpoint.seq != self.report.last_seq || checkpoint.head_hash != to_hex(&self.prev) {
            return Err(fail("the chain up to this signed checkpoint was rewritten"));
        }
        self.report.last_signed_seq = checkpoint.seq;
        self.report.checkpoints += 1;
        Ok(())
    }
}
