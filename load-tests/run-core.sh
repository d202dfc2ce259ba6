#!/usr/bin/env bash
# The core benchmarks of docs/benchmarks.md, reproducibly, in one go:
#   1. a private PostgreSQL cluster (as scripts/test.sh starts one, but durable: fsync,
#      synchronous_commit and full_page_writes stay at their defaults, i.e. on);
#   2. the baseline: pgbench -i, then pgbench -N -c 32 -j 2 -T 30 on that cluster, before and
#      after Tessera's run (the machine is shared and noisy: the ratio uses their mean);
#   3. tessera serve (release) on it: the 32-client CreateUser → AssignUser → GrantLicense mix
#      for 10 s, ANALYZE (the fresh database's planner statistics, as autovacuum would), then
#      the measured mix for 30 s (after a 5 s warm-up), with projection lag from /metrics;
#   4. the same mix on the embedded default (SQLite);
#   5. on PostgreSQL again: seed 100,000 users through the API, then `users(first: 50)` latency
#      over 2,000 requests (first pages and pages reached by cursors).
# Results: load-tests/results/<UTC time>/ (results.jsonl, pgbench and server logs), and a
# summary on stdout. Knobs (environment): CLIENTS, BENCH_SECONDS, WARMUP_SECONDS, SEED_USERS, READ_REQUESTS,
# PGBENCH_SCALE, and any TESSERA_* setting for the servers (e.g. TESSERA_DB_MAX_CONNECTIONS).
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-32}
BENCH_SECONDS=${BENCH_SECONDS:-30}
WARMUP_SECONDS=${WARMUP_SECONDS:-10}
SEED_USERS=${SEED_USERS:-100000}
READ_REQUESTS=${READ_REQUESTS:-2000}
PGBENCH_SCALE=${PGBENCH_SCALE:-10}
out="${OUT:-load-tests/results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
results="$out/results.jsonl"
: >"$results"
. load-tests/lib.sh
build_release
start_pg

log "pgbench -i -s $PGBENCH_SCALE"
pgbench -i -q -s "$PGBENCH_SCALE" pgbench >"$out/pgbench-init.log" 2>&1
run_pgbench() {
    local name=$1
    log "pgbench -N -c 32 -j 2 -T 30 ($name)"
    pgbench -N -c 32 -j 2 -T 30 pgbench >"$out/pgbench-$name.log" 2>&1
    local tps
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out/pgbench-$name.log")
    echo "{\"benchmark\":\"pgbench\",\"run\":\"$name\",\"tps\":$tps}" >>"$results"
    log "pgbench $name: $tps tps"
}

# --- tessera serve ------------------------------------------------------------------------
run_pgbench before
start_server postgres DATABASE_URL="$database_url" \
    TESSERA_MASTER_KEY="$("$bin/tessera" generate-master-key)"
# A fresh database has no planner statistics: until autovacuum's first ANALYZE (a minute or so
# into a live system) PostgreSQL plans for empty tables, e.g. 3.5 ms per audit-chain head
# look-up instead of a backward index step. Measure the steady state: warm up, then ANALYZE.
log "warm-up on PostgreSQL: $CLIENTS clients, ${WARMUP_SECONDS} s, then ANALYZE"
load mix --clients "$CLIENTS" --seconds "$WARMUP_SECONDS" >/dev/null
psql -d tessera -c "ANALYZE" >/dev/null
log "mix on PostgreSQL: $CLIENTS clients, ${BENCH_SECONDS} s"
load mix --clients "$CLIENTS" --seconds "$BENCH_SECONDS" | tag '{"backend":"postgres"}' >>"$results"
stop_server
run_pgbench after

sqlite_dir=$(mktemp -d /tmp/tessera-bench-sqlite.XXXXXX)
start_server sqlite TESSERA_DATA_DIR="$sqlite_dir"
log "mix on SQLite: $CLIENTS clients, ${BENCH_SECONDS} s"
load mix --clients "$CLIENTS" --seconds "$BENCH_SECONDS" | tag '{"backend":"sqlite"}' >>"$results"
stop_server
rm -rf "$sqlite_dir"

if [ "$SEED_USERS" -gt 0 ]; then # SEED_USERS=0 runs only the throughput benchmarks
    start_server postgres-read DATABASE_URL="$database_url" \
        TESSERA_MASTER_KEY="$("$bin/tessera" generate-master-key)"
    log "seeding $SEED_USERS users through the API"
    seeded=$(load seed --users "$SEED_USERS" --clients "$CLIENTS" | tag '{"backend":"postgres"}')
    echo "$seeded" >>"$results"
    tenant=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["tenant"])' "$seeded")
    psql -d tessera -c "VACUUM ANALYZE" >/dev/null
    log "users(first: 50): $READ_REQUESTS requests"
    load read --tenant "$tenant" --requests "$READ_REQUESTS" | tag '{"backend":"postgres"}' >>"$results"
    load read --tenant "$tenant" --requests "$READ_REQUESTS" --with-licenses | tag '{"backend":"postgres","with_licenses":true}' >>"$results"
    stop_server
fi

# --- summary ---------------------------------------------------------------------------
python3 - "$results" <<'EOF' | tee "$out/summary.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pg = [r["tps"] for r in rows if r["benchmark"] == "pgbench"]
baseline = sum(pg) / len(pg)
print(f"pgbench -N -c 32 -j 2 -T 30: {', '.join(f'{t:.0f}' for t in pg)} tps (mean {baseline:.0f})")
for r in rows:
    if r["benchmark"] == "mix":
        lag = r["projection_lag"]["all_projections"]
        print(f"mix on {r['backend']}: {r['commands_per_second']:.1f} commands/s "
              f"(ratio to pgbench {r['commands_per_second'] / baseline:.3f}, target >= 0.5), "
              f"latency p50 {r['latency']['p50_ms']:.1f} ms p99 {r['latency']['p99_ms']:.1f} ms, errors {r['errors']}, "
              f"projection lag p99 {lag['p99_ms'] if lag['p99_ms'] is None else round(lag['p99_ms'], 1)} ms (target < 100)")
    elif r["benchmark"] == "seed":
        print(f"seed on {r['backend']}: {r['users']} users in {r['seconds']:.0f} s ({r['users_per_second']:.0f}/s), errors {r['errors']}")
    elif r["benchmark"] == "read":
        which = "with licenses" if r.get("with_licenses") else "scalar fields"
        print(f"users(first: 50), {which}: p50 {r['latency']['p50_ms']:.1f} ms p99 {r['latency']['p99_ms']:.1f} ms "
              f"(first page p99 {r['first_page']['p99_ms']:.1f}, cursor pages p99 {r['cursor_pages']['p99_ms']:.1f}; target p99 < 20 ms)")
EOF
log "results in $out"
