//! The rebuild's reader: pages of events in global order, their JSON parsed and their personal
//! values opened on the blocking pool, several pages at once, so every core decodes while the
//! fold (one task, in order) applies. Reading the rows stays sequential: each page starts after
//! the last event of the one before.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use cqrs_es::Aggregate;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ProjectionError;
use crate::db::Db;
use crate::domain::user::{User, UserEvent};
use crate::eventstore::personal::{envelope, subject};
use crate::eventstore::{Checkpoint, PersonalData, RawEvent, StoredEvent, is_current, read_raw_after};

/// Events read per page: big pages amortize the round trips and the data-key lookups; each
/// page is its own short read transaction.
const PAGE: i64 = 5_000;
/// Pages being decoded at once: enough to keep every core busy behind one reader.
const IN_FLIGHT: usize = 4;

type Page = Result<Vec<StoredEvent>, ProjectionError>;

/// Decoded pages, in order, ending after the last event up to `until`; a failed page is the
/// last one sent. Dropping the receiver stops the reader (abort the handle to stop it at once).
pub fn spawn(source: Db, personal: PersonalData, until: Option<Checkpoint>, open: bool) -> (mpsc::Receiver<Page>, JoinHandle<()>) {
    let (pages, received) = mpsc::channel::<Page>(2);
    let reader = tokio::spawn(async move {
        let mut decoding = Decoding(VecDeque::new());
        let mut after = Checkpoint::default();
        let mut read_all = false;
        loop {
            while !read_all && decoding.0.len() < IN_FLIGHT {
                match read_raw(&source, after, until).await {
                    Ok(rows) => match rows.last() {
                        Some(last) => {
                            after = last.checkpoint();
                            decoding.0.push_back(tokio::spawn(decode(source.clone(), personal.clone(), rows, open)));
                        }
                        None => read_all = true,
                    },
                    Err(e) => {
                        decoding.0.push_back(tokio::spawn(async move { Err(e) }));
                        read_all = true;
                    }
                }
            }
            let Some(next) = decoding.0.pop_front() else { return };
            let page = next.await.unwrap_or_else(|e| Err(e.into()));
            let failed = page.is_err();
            if pages.send(page).await.is_err() || failed {
                return;
            }
        }
    });
    (received, reader)
}

/// Decoding tasks still running are stopped with the reader.
struct Decoding(VecDeque<JoinHandle<Page>>);

impl Drop for Decoding {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

/// The rows of the next page after `after`, cut at `until`.
async fn read_raw(source: &Db, after: Checkpoint, until: Option<Checkpoint>) -> Result<Vec<RawEvent>, ProjectionError> {
    let mut tx = source.begin_read().await?;
    let mut rows = read_raw_after(&mut tx, source.backend(), after, PAGE).await?;
    tx.commit().await?;
    if let Some(until) = until {
        rows.retain(|e| e.checkpoint() <= until);
    }
    Ok(rows)
}

/// Parses a page, then (when asked) reads the keys its sealed values name and opens them. The
/// keys are read after the events, never cached across pages: a key destroyed meanwhile reads
/// as destroyed, as in the live projector.
///
/// User events (most of a long history) in their current shape skip the JSON tree: their keys
/// are known before parsing (their subject is the user the aggregate id names), so they are
/// parsed straight into `UserEvent` with their personal values opened on the way.
async fn decode(source: Db, personal: PersonalData, rows: Vec<RawEvent>, open: bool) -> Page {
    let users = if open { user_subjects(&rows) } else { BTreeMap::new() };
    let user_keys = if users.is_empty() {
        None
    } else {
        let mut tx = source.begin_read().await?;
        let keys = personal.read_subject_keys(&mut tx, &users).await?;
        tx.commit().await?;
        Some(keys)
    };
    let opening = personal.clone();
    let events = blocking(move || {
        let openers = user_keys.map(|keys| opening.openers(keys)).transpose()?;
        // Pushed into a vector of the page's size (collecting `Result`s grows one by doubling).
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let decoded = match user_tenant(&row) {
                Some(tenant) => {
                    let opener = openers.as_ref().map(|o| o.of(tenant));
                    row.decode_as::<UserEvent>(opener)
                }
                None => row.decode(),
            };
            events.push(decoded.map_err(|e| ProjectionError::Decode {
                position: e.position,
                event_type: e.event_type,
                message: e.error.to_string(),
            })?);
        }
        Ok(events)
    })
    .await?;
    if !open || !events.iter().any(|e| envelope::has_sealed(&e.payload)) {
        return Ok(events);
    }
    let mut tx = source.begin_read().await?;
    let keys = personal.read_keys(&mut tx, &events).await?;
    tx.commit().await?;
    blocking(move || {
        let mut events = events;
        personal.open_events(keys, &mut events)?;
        Ok(events)
    })
    .await
}

/// The tenant of a user event that can be parsed straight into `UserEvent` (current shape).
fn user_tenant(row: &RawEvent) -> Option<&str> {
    if row.aggregate_type != User::TYPE || !is_current(&row.event_type, &row.event_version) {
        return None;
    }
    row.aggregate_id.split_once('/').map(|(tenant, _)| tenant)
}

/// The subjects of the page's user events, by tenant.
fn user_subjects(rows: &[RawEvent]) -> BTreeMap<String, BTreeSet<String>> {
    let mut subjects: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut previous: Option<&str> = None;
    for row in rows {
        // A user's events mostly come one after another: name each run's subject once.
        if previous == Some(row.aggregate_id.as_str()) {
            continue;
        }
        if let Some(tenant) = user_tenant(row)
            && let Some(subject) = subject::of(&row.aggregate_type, &row.aggregate_id, &serde_json::Value::Null)
        {
            previous = Some(&row.aggregate_id);
            subjects.entry(tenant.to_owned()).or_default().insert(subject);
        }
    }
    subjects
}

async fn blocking(work: impl FnOnce() -> Page + Send + 'static) -> Page {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| Err(e.into()))
}
