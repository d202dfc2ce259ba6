//! Prometheus metrics: one process-wide recorder behind the `metrics` facade, rendered at
//! `GET /metrics`. Labels never carry tenant ids or personal data (cardinality and privacy):
//! only projection names and aggregate types.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

/// For every event a projection applies: commit of its read-model transaction minus the
/// event's `occurred_at` (set when the command was accepted). Label `projection`.
pub const PROJECTION_LAG: &str = "tessera_projection_lag_seconds";
/// Events applied, per projection.
pub const PROJECTED_EVENTS: &str = "tessera_projected_events_total";
/// A command from acceptance to "the read models show it" (event store write plus the bounded
/// wait for the projections). Labels `aggregate`, `outcome` (`ok` or `error`).
pub const COMMAND_DURATION: &str = "tessera_command_duration_seconds";

/// Fine around 1–100 ms, where a healthy projection lives, coarse beyond.
const LAG_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.075, 0.1, 0.125, 0.15,
    0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const COMMAND_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder, installed on first use (several servers in one test process share it).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(PROJECTION_LAG.to_owned()), LAG_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(COMMAND_DURATION.to_owned()), COMMAND_BUCKETS))
                // Only an empty bucket list fails, and the lists above are constants.
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder was installed first; /metrics stays empty");
            }
            metrics::describe_histogram!(
                PROJECTION_LAG,
                metrics::Unit::Seconds,
                "Event occurred_at to read-model commit, per applied event"
            );
            metrics::describe_counter!(PROJECTED_EVENTS, "Events applied by each projection");
            metrics::describe_histogram!(COMMAND_DURATION, metrics::Unit::Seconds, "Command accepted to read models updated");
            handle
        })
        .clone()
}

/// Drains the histograms' sample buffers now and then, so memory stays bounded between scrapes.
pub fn spawn_upkeep(handle: PrometheusHandle, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(Duration::from_secs(5)) => handle.run_upkeep(),
            }
        }
    })
}

/// Records the lag of events a projection just committed.
pub fn record_projected(projection: &'static str, occurred: impl Iterator<Item = chrono::DateTime<chrono::Utc>>) {
    let now = chrono::Utc::now();
    let lag = metrics::histogram!(PROJECTION_LAG, "projection" => projection);
    let mut count = 0u64;
    for at in occurred {
        // Clocks of several instances may disagree slightly: never negative.
        lag.record((now - at).to_std().unwrap_or_default().as_secs_f64());
        count += 1;
    }
    metrics::counter!(PROJECTED_EVENTS, "projection" => projection).increment(count);
}

/// Records one command's duration and outcome.
pub fn record_command(aggregate: &'static str, ok: bool, took: Duration) {
    metrics::histogram!(COMMAND_DURATION, "aggregate" => aggregate, "outcome" => if ok { "ok" } else { "error" })
        .record(took.as_secs_f64());
}
