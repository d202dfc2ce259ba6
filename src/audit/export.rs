//! NDJSON export of a tenant's chain: a header (the link before the first exported event, the
//! tenant's public keys for reference), one line per event with its chain link, each signed
//! checkpoint right after the event it covers, and an end marker with counts. `verify_file`
//! checks it with only the public key.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::AuditError;
use super::canonical::{GENESIS, to_hex};
use super::keys::SignedCheckpoint;
use super::store::{self, PublicKeyRow};
use crate::args;
use crate::db::Db;
use crate::eventstore::{StoredEvent, personal};

pub const FORMAT: &str = "tessera-audit-export-v1";
const PAGE: i64 = 500;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Header { format: String, tenant_id: String, first_seq: i64, prev_hash: String, public_keys: Vec<PublicKeyRow> },
    Event(EventLine),
    Checkpoint(SignedCheckpoint),
    End { events: u64, checkpoints: u64 },
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EventLine {
    pub seq: i64,
    pub hash: String,
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    /// For an event with personal values (stored sealed, as the chain covers them): `sealed`
    /// while their subject's key exists, `forgotten` once it was destroyed. Not hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_data: Option<String>,
}

impl EventLine {
    fn new(seq: i64, hash: String, e: StoredEvent, personal_data: Option<String>) -> Self {
        Self {
            personal_data,
            seq,
            hash,
            position: e.position,
            aggregate_type: e.aggregate_type,
            aggregate_id: e.aggregate_id,
            sequence: e.sequence,
            event_type: e.event_type,
            event_version: e.event_version,
            payload: e.payload,
            metadata: e.metadata,
        }
    }

    pub fn to_stored(&self) -> StoredEvent {
        StoredEvent {
            txid: 0,
            position: self.position,
            aggregate_type: self.aggregate_type.clone(),
            aggregate_id: self.aggregate_id.clone(),
            sequence: self.sequence,
            event_type: self.event_type.clone(),
            event_version: self.event_version.clone(),
            payload: self.payload.clone(),
            metadata: self.metadata.clone(),
            decoded: None,
            known: None,
        }
    }
}

/// Which events: those that occurred in `[since, until)`, in chain order.
#[derive(Debug, Clone, Default)]
pub struct Range {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Range {
    fn contains(&self, at: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| at >= s) && self.until.is_none_or(|u| at < u)
    }
}

/// Produces the export a chunk at a time (for streaming over HTTP or to a file).
pub struct Exporter {
    db: Db,
    tenant: String,
    range: Range,
    after_seq: i64,
    prev_hash: String,
    header_written: bool,
    events: u64,
    checkpoints: u64,
    done: bool,
    /// Chain links read so far (for a progress bar).
    pub scanned: u64,
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

impl Exporter {
    pub fn new(db: Db, tenant: &str, range: Range) -> Self {
        Self {
            db,
            tenant: tenant.to_owned(),
            range,
            after_seq: 0,
            prev_hash: to_hex(&GENESIS),
            header_written: false,
            events: 0,
            checkpoints: 0,
            done: false,
            scanned: 0,
        }
    }

    /// How many chain links the tenant has (the progress bar's length).
    pub async fn total(&self) -> Result<u64, AuditError> {
        let mut tx = self.db.begin_system().await?;
        let count: Option<Count> =
            tx.fetch_optional("SELECT count(*) AS n FROM audit_chain WHERE tenant_id = $1", args![self.tenant.clone()]).await?;
        tx.commit().await?;
        Ok(count.map_or(0, |c| c.n as u64))
    }

    async fn header(&self, tx: &mut crate::db::Tx, first_seq: i64) -> Result<Line, AuditError> {
        Ok(Line::Header {
            format: FORMAT.to_owned(),
            tenant_id: self.tenant.clone(),
            first_seq,
            prev_hash: self.prev_hash.clone(),
            public_keys: store::public_keys(tx, &self.tenant).await?,
        })
    }

    /// The next chunk of NDJSON, or `None` when the export is complete.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, AuditError> {
        if self.done {
            return Ok(None);
        }
        let mut tx = self.db.begin_system().await?;
        let links = store::links_after(&mut tx, &self.tenant, self.after_seq, PAGE).await?;
        let mut lines = Vec::new();
        if links.is_empty() {
            if !self.header_written {
                lines.push(self.header(&mut tx, self.after_seq + 1).await?);
            }
            lines.push(Line::End { events: self.events, checkpoints: self.checkpoints });
            self.done = true;
        } else {
            let positions: Vec<i64> = links.iter().map(|l| l.position).collect();
            let mut events = store::events_at(&mut tx, &positions).await?;
            let sealed: Vec<String> = events.values().flat_map(|e| personal::envelope::sealed_values(&e.payload)).map(|s| s.key).collect();
            let existing = personal::existing_keys(&mut tx, &self.tenant, &sealed).await?;
            let first = links.first().map_or(0, |l| l.seq);
            let last = links.last().map_or(0, |l| l.seq);
            let mut signed = store::checkpoints(&mut tx, &self.tenant, first, last).await?.into_iter().peekable();
            for link in links {
                self.scanned += 1;
                // A missing event is exported as the link alone would be unverifiable; the
                // verifier then reports this position.
                let event = events.remove(&link.position).unwrap_or_else(|| missing(link.position));
                let include = self.range.contains(event.occurred_at());
                if include && !self.header_written {
                    lines.push(self.header(&mut tx, link.seq).await?);
                    self.header_written = true;
                }
                let checkpoint = signed.next_if(|c| c.seq == link.seq);
                if include {
                    let values = personal::envelope::sealed_values(&event.payload);
                    let personal_data = (!values.is_empty())
                        .then(|| if values.iter().all(|v| existing.contains(&v.key)) { "sealed" } else { "forgotten" }.to_owned());
                    lines.push(Line::Event(EventLine::new(link.seq, link.hash.clone(), event, personal_data)));
                    self.events += 1;
                    if let Some(checkpoint) = checkpoint {
                        lines.push(Line::Checkpoint(checkpoint));
                        self.checkpoints += 1;
                    }
                }
                // Past the range: only the header's prev_hash needs the links before it.
                if !self.header_written {
                    self.prev_hash = link.hash.clone();
                }
                self.after_seq = link.seq;
            }
        }
        tx.commit().await?;
        let mut out = Vec::new();
        for line in lines {
            serde_json::to_writer(&mut out, &line).map_err(|e| AuditError::File(e.to_string()))?;
            out.push(b'\n');
        }
        Ok(Some(out))
    }
}

fn missing(position: i64) -> StoredEvent {
    StoredEvent {
        txid: 0,
        position,
        aggregate_type: String::new(),
        aggregate_id: String::new(),
        sequence: 0,
        event_type: "<missing>".into(),
        event_version: String::new(),
        payload: Value::Null,
        metadata: Value::Null,
        decoded: None,
        known: None,
    }
}
