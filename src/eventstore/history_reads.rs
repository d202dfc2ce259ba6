//! Aggregate histories read together on PostgreSQL: concurrent commands' reads (each of one or
//! a few aggregates) go to the store as one statement, each key an index probe of the events'
//! primary key. The same batching as the appends' group commit (`batches`): a lone read is never
//! held back.

use std::collections::HashMap;

use cqrs_es::persist::{PersistenceError, SerializedEvent};

use super::batches::{BatchJob, Batches, Failure};
use super::repo::HistoryRow;
use crate::db::Quiet;

/// Statements in flight at once (see `group_commit::WRITERS`).
const READERS: usize = 2;
/// Commands' reads in one statement at most.
const MAX_BATCH: usize = 128;

const READ: &str = "SELECT e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version, e.payload, e.metadata
      FROM unnest($1::text[], $2::text[]) AS k(aggregate_type, aggregate_id)
     CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.aggregate_type = k.aggregate_type AND e.aggregate_id = k.aggregate_id) e
     ORDER BY e.aggregate_type, e.aggregate_id, e.sequence";

/// An aggregate: (aggregate type, aggregate id).
type Aggregate = (String, String);

#[derive(Clone)]
pub(super) struct HistoryReads {
    batches: Batches<Reads>,
}

struct Reads {
    connections: Quiet,
}

impl HistoryReads {
    pub(super) fn new(connections: Quiet) -> Self {
        Self { batches: Batches::new(Reads { connections }, READERS, MAX_BATCH) }
    }

    /// The events of the aggregates (still sealed), ordered by aggregate and sequence.
    pub(super) async fn read(&self, aggregates: Vec<Aggregate>) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self.batches.submit(aggregates).await {
            Some(result) => result.map_err(PersistenceError::from),
            None => Err(PersistenceError::UnknownError("the event store's reader stopped".into())),
        }
    }
}

impl BatchJob for Reads {
    type Item = Vec<Aggregate>;
    type Output = Result<Vec<SerializedEvent>, Failure>;

    async fn run(&self, reads: Vec<Vec<Aggregate>>) -> Vec<Self::Output> {
        // Each aggregate's history, and how many reads still want it: the last one takes it,
        // the others (commands consulting the same tenant, say) get a copy.
        let mut histories: HashMap<&Aggregate, (Vec<SerializedEvent>, usize)> = HashMap::new();
        for key in reads.iter().flatten() {
            histories.entry(key).or_default().1 += 1;
        }
        let keys: Vec<&Aggregate> = histories.keys().copied().collect();
        let (types, ids): (Vec<&str>, Vec<&str>) = keys.iter().map(|(t, i)| (t.as_str(), i.as_str())).unzip();
        let rows = match self.fetch(types, ids).await {
            Ok(rows) => rows,
            Err(err) => return reads.iter().map(|_| Err(Failure::of(&err))).collect(),
        };
        for row in rows {
            let key = (row.aggregate_type.clone(), row.aggregate_id.clone());
            if let Some((history, _)) = histories.get_mut(&key) {
                history.push(row.into());
            }
        }
        let mut take = |key: &Aggregate| -> Vec<SerializedEvent> {
            let (history, wanted) = histories.get_mut(key).expect("every key read");
            *wanted -= 1;
            if *wanted == 0 { std::mem::take(history) } else { history.clone() }
        };
        reads.iter().map(|read| Ok(read.iter().flat_map(&mut take).collect())).collect()
    }
}

impl Reads {
    async fn fetch(&self, types: Vec<&str>, ids: Vec<&str>) -> Result<Vec<HistoryRow>, sqlx::Error> {
        let mut conn = self.connections.lease().await?;
        let rows = sqlx::query_as::<_, HistoryRow>(READ).bind(types).bind(ids).fetch_all(&mut *conn).await;
        conn.finish(rows)
    }
}
