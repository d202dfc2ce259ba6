#!/usr/bin/env bash
# The audit benchmarks of docs/benchmarks.md (issue 5), in one go, on a private durable
# PostgreSQL cluster (load-tests/lib.sh):
#   1. baselines on the same cluster: pgbench -S (read-only) and a raw scan of the events table;
#   2. `tessera-load seed-events`: USERS users × 5 events (default 200,000 → 1,000,003 events)
#      written through the event store (aggregates decide; no HTTP, no read models);
#   3. `tessera serve` catching up from zero: every read model and the audit hash chain, live
#      (events/s until /readyz says caught up);
#   4. `tessera projections rebuild` (all read models, one pass), timed;
#   5. `tessera replay` (every read model folded into a scratch store and compared), timed;
#   6. `tessera audit verify --tenant` (hash chain + signed checkpoints), timed;
#   7. `tessera-load audit-read`: auditEvents page p99 with filters over the whole history.
# Knobs: USERS, SEED_CLIENTS, AUDIT_REQUESTS, OUT. REUSE_PGPORT + REUSE_TENANT (+ the run's
# TESSERA_MASTER_KEY) measure a cluster an earlier run seeded and left running (killed before
# its clean-up): steps 2 and 3 are skipped, the rebuild starts from zero all the same.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-200000}
SEED_CLIENTS=${SEED_CLIENTS:-16}
AUDIT_REQUESTS=${AUDIT_REQUESTS:-300}
out="${OUT:-load-tests/results/audit-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
results="$out/results.jsonl"
: >"$results"
. load-tests/lib.sh
build_release
timed() { # name, command...: appends {"benchmark": name, "seconds": …} and prints the seconds
    local name=$1 started ended
    shift
    started=$(date +%s.%N)
    "$@" >>"$out/$name.log" 2>&1
    ended=$(date +%s.%N)
    python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.3f}")' "$started" "$ended"
}

# Appends {"benchmark": $1, "seconds": …}: the time until every checkpoint (the audit chain's
# included) has reached the last event.
caught_up() {
    local started ended last
    started=$(date +%s.%N)
    last=$(psql -d tessera -Atc "SELECT max(position) FROM events")
    until [ "$(psql -d tessera -Atc "SELECT count(*) FILTER (WHERE position >= $last) = count(*) AND count(*) >= 8 FROM projection_checkpoints")" = t ]; do
        sleep 0.5
    done
    ended=$(date +%s.%N)
    echo "{\"benchmark\":\"$1\",\"events\":$events,\"seconds\":$(python3 -c "print($ended - $started)")}" >>"$results"
}

if [ -n "${REUSE_PGPORT:-}" ]; then
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    pgport=$REUSE_PGPORT
    database_url="postgres://tessera:tessera@127.0.0.1:$pgport/tessera"
    master_key=$TESSERA_MASTER_KEY
    tenant=$REUSE_TENANT
    trap stop_server EXIT
    log "reusing the seeded cluster on port $pgport"
else
start_pg
master_key="$("$bin/tessera" generate-master-key)"
log "seeding $USERS users (x5 events) through the event store"
# Seeding is set-up, not a measured figure: its commits need not wait for the disk (the cluster
# stays durable for everything measured after it).
psql -d postgres -c "ALTER DATABASE tessera SET synchronous_commit = off" >/dev/null
TESSERA_MASTER_KEY="$master_key" "$bin/tessera-load" --json seed-events --database-url "$database_url" --users "$USERS" --clients "$SEED_CLIENTS" \
    2>>"$out/seed.log" | sed -n 's/^RESULT //p' | tag '{"benchmark":"seed-events"}' >>"$results"
psql -d postgres -c "ALTER DATABASE tessera RESET synchronous_commit" >/dev/null
tenant=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["tenant"])' "$results")
fi
psql -d tessera -c "VACUUM ANALYZE" >/dev/null
events=$(psql -d tessera -Atc "SELECT count(*) FROM events")
log "$events events in the store"

log "baselines: raw scan of the events table, pgbench -S"
scan=$(timed scan psql -d tessera -Atc "SELECT count(*), sum(length(payload::text) + length(metadata::text)) FROM events")
pgbench -i -q -s 10 pgbench >"$out/pgbench-init.log" 2>&1
pgbench -S -c 8 -j 2 -T 20 pgbench >"$out/pgbench-S.log" 2>&1
tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out/pgbench-S.log")
echo "{\"benchmark\":\"baseline\",\"events\":$events,\"scan_seconds\":$scan,\"pgbench_S_tps\":$tps}" >>"$results"

if [ -z "${REUSE_PGPORT:-}" ]; then
log "tessera serve catching up from zero (read models + audit chain)"
# Ready at once (the lag bound is huge); caught up when every checkpoint, the audit chain's
# included, has reached the last event.
start_server catch-up DATABASE_URL="$database_url" TESSERA_MASTER_KEY="$master_key" TESSERA_READINESS_MAX_LAG_SECONDS=1000000000
caught_up live-catch-up
log "auditEvents with filters: $AUDIT_REQUESTS requests per filter"
load audit-read --tenant "$tenant" --requests "$AUDIT_REQUESTS" >>"$results"
stop_server
fi

run_cli() { env DATABASE_URL="$database_url" TESSERA_MASTER_KEY="$master_key" TESSERA_LOG=warn "$bin/tessera" "$@"; }
log "tessera projections rebuild (all read models)"
seconds=$(timed rebuild run_cli projections rebuild)
echo "{\"benchmark\":\"rebuild\",\"events\":$events,\"seconds\":$seconds}" >>"$results"
if [ -n "${REUSE_PGPORT:-}" ]; then
    # The read models are complete now; the audit chain (not a read model) catches up live.
    log "tessera serve: the audit chain catching up"
    start_server audit-read DATABASE_URL="$database_url" TESSERA_MASTER_KEY="$master_key" TESSERA_READINESS_MAX_LAG_SECONDS=1000000000
    caught_up audit-chain-catch-up
    log "auditEvents with filters: $AUDIT_REQUESTS requests per filter"
    load audit-read --tenant "$tenant" --requests "$AUDIT_REQUESTS" >>"$results"
    stop_server
fi
log "tessera replay"
seconds=$(timed replay run_cli replay)
echo "{\"benchmark\":\"replay\",\"events\":$events,\"seconds\":$seconds}" >>"$results"
log "tessera audit verify --tenant"
seconds=$(timed verify run_cli audit verify --tenant "$tenant")
echo "{\"benchmark\":\"verify\",\"events\":$events,\"seconds\":$seconds}" >>"$results"

python3 - "$results" <<'PY' | tee "$out/summary.txt"
import json, sys
rows = {r["benchmark"]: r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip())}
base = rows["baseline"]
n = base["events"]
scan_rate = n / base["scan_seconds"]
print(f"events: {n}; baseline raw scan {scan_rate:,.0f} events/s; pgbench -S {base['pgbench_S_tps']:,.0f} tps")
if "seed-events" in rows:
    print(f"seed-events: {rows['seed-events']['events_per_second']:,.0f} events/s")
for name in ["live-catch-up", "rebuild", "audit-chain-catch-up", "replay", "verify"]:
    if name not in rows:
        continue
    r = rows[name]
    rate = n / r["seconds"]
    print(f"{name}: {r['seconds']:.1f} s, {rate:,.0f} events/s (ratio to raw scan {rate / scan_rate:.3f})")
a = rows["audit-read"]
print(f"auditEvents(first: 50) with filters: p50 {a['latency']['p50_ms']:.1f} ms p99 {a['latency']['p99_ms']:.1f} ms (target p99 < 25 ms)")
for f, s in a["filters"].items():
    print(f"  {f}: p50 {s['p50_ms']:.1f} ms p99 {s['p99_ms']:.1f} ms")
PY
log "results in $out"
