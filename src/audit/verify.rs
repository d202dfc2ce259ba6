//! `tessera audit verify`: against the database (every link re-computed from the events, every
//! signed checkpoint checked, every event of the tenant accounted for) or an exported file.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use super::AuditError;
use super::canonical::{GENESIS, from_hex};
use super::chain::NAME;
use super::export::Line;
use super::keys::{self, SignedCheckpoint};
use super::store;
use super::walker::{Failure, Report, Walker};
use crate::args;
use crate::db::{Backend, Db};
use crate::eventstore::Checkpoint;

const PAGE: i64 = 1_000;

pub async fn verify_db(db: &Db, tenant: &str) -> Result<Report, AuditError> {
    let mut tx = db.begin_system().await?;
    let mut keys = HashMap::new();
    for row in store::public_keys(&mut tx, tenant).await? {
        keys.insert(row.key_id, keys::public_from_pem(&row.public_key_pem)?);
    }
    let signed: BTreeMap<i64, SignedCheckpoint> =
        store::checkpoints(&mut tx, tenant, 0, i64::MAX).await?.into_iter().map(|c| (c.seq, c)).collect();
    let mut walker = Walker::new(tenant, GENESIS, 0, keys);
    let mut failure = None;
    'pages: loop {
        let links = store::links_after(&mut tx, tenant, walker.report.last_seq, PAGE).await?;
        if links.is_empty() {
            break;
        }
        let positions: Vec<i64> = links.iter().map(|l| l.position).collect();
        let events = store::events_at(&mut tx, &positions).await?;
        for link in &links {
            let Some(event) = events.get(&link.position) else {
                failure = Some(Failure { position: link.position, reason: "the chained event is missing (deleted or moved)".into() });
                break 'pages;
            };
            if let Err(f) = walker.event(link.seq, &link.hash, event) {
                failure = Some(f);
                break 'pages;
            }
            if let Some(checkpoint) = signed.get(&link.seq)
                && let Err(f) = walker.checkpoint(checkpoint)
            {
                failure = Some(f);
                break 'pages;
            }
        }
    }
    if failure.is_none()
        && let Some((_, beyond)) = signed.range(walker.report.last_seq + 1..).next()
    {
        failure =
            Some(Failure { position: beyond.position, reason: "a signed checkpoint lies beyond the end of the chain (truncated)".into() });
    }
    let mut report = walker.report;
    if let Some(f) = failure {
        report.fail(f);
    }
    if let Some(position) = first_unchained(&mut tx, db.backend(), tenant).await? {
        report.fail(Failure { position, reason: "an event of this tenant is not in its chain (inserted)".into() });
    }
    tx.commit().await?;
    Ok(report)
}

#[derive(sqlx::FromRow)]
struct Position {
    position: i64,
}

/// The first event of the tenant that the chain projector has passed but that no link names.
async fn first_unchained(tx: &mut crate::db::Tx, backend: Backend, tenant: &str) -> Result<Option<i64>, AuditError> {
    let reached: Option<Checkpoint> =
        tx.fetch_optional("SELECT txid, position FROM projection_checkpoints WHERE name = $1", args![NAME]).await?;
    let reached = reached.unwrap_or_default();
    let passed = match backend {
        Backend::Postgres => "(e.txid, e.position) <= ($2::text::xid8, $3)",
        Backend::Sqlite => "e.position <= $3 AND $2 = $2",
    };
    // The platform chain holds the events of no tenant; others use the (tenant_id, position) index.
    let tenant_condition = if tenant.is_empty() { "e.tenant_id IS NULL AND $1 = ''" } else { "e.tenant_id = $1" };
    let found: Option<Position> = tx
        .fetch_optional(
            &format!(
                "SELECT e.position FROM events e
                  WHERE {tenant} AND {passed}
                    AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.tenant_id = $1 AND c.position = e.position)
                  ORDER BY e.position LIMIT 1",
                tenant = tenant_condition
            ),
            args![tenant, reached.txid.to_string(), reached.position],
        )
        .await?;
    Ok(found.map(|p| p.position))
}

/// Verifies an export with nothing but the tenant's public key (PEM): every link re-computed,
/// every checkpoint's signature and head checked, the file complete.
pub fn verify_file(input: impl BufRead, public_key_pem: &str) -> Result<Report, AuditError> {
    let key = keys::public_from_pem(public_key_pem)?;
    let key_id = keys::key_id(&key)?;
    let mut walker: Option<Walker> = None;
    let mut ended = false;
    let mut last_position = 0;
    let bad = |position: i64, reason: &str| Failure { position, reason: reason.to_owned() };
    let mut failure = None;
    for (number, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line).map_err(|e| AuditError::File(format!("line {}: {e}", number + 1)))?;
        let result = match (parsed, walker.as_mut()) {
            (Line::Header { tenant_id, prev_hash, first_seq, .. }, None) => {
                let prev = from_hex(&prev_hash).ok_or_else(|| AuditError::File("header: prev_hash is not a hash".into()))?;
                walker = Some(Walker::new(&tenant_id, prev, first_seq - 1, HashMap::from([(key_id.clone(), key.clone())])));
                Ok(())
            }
            (Line::Header { .. }, Some(_)) => Err(bad(last_position, "a second header")),
            (_, None) => return Err(AuditError::File("the file does not start with a header".into())),
            (_, Some(_)) if ended => Err(bad(last_position, "lines after the end marker")),
            (Line::Event(event), Some(w)) => {
                last_position = event.position;
                let stored = event.to_stored();
                w.event(event.seq, &event.hash, &stored)
            }
            (Line::Checkpoint(checkpoint), Some(w)) => w.checkpoint(&checkpoint),
            (Line::End { events, checkpoints }, Some(w)) => {
                ended = true;
                if events != w.report.events || checkpoints != w.report.checkpoints {
                    Err(bad(last_position, "the file is incomplete: the end marker's counts do not match"))
                } else {
                    Ok(())
                }
            }
        };
        if let Err(f) = result {
            failure = Some(f);
            break;
        }
    }
    let Some(walker) = walker else { return Err(AuditError::File("the file is empty".into())) };
    let mut report = walker.report;
    if failure.is_none() && !ended {
        failure = Some(bad(last_position, "the file is truncated (no end marker)"));
    }
    if let Some(f) = failure {
        report.fail(f);
    }
    Ok(report)
}
