#!/usr/bin/env bash
# The core benchmarks of docs/benchmarks.md, reproducibly, in one go:
#   1. a private PostgreSQL cluster (as scripts/test.sh starts one, but durable: fsync,
#      synchronous_commit and full_page_writes stay at their defaults, i.e. on);
#   2. the baseline: pgbench -i, then pgbench -N -c 32 -j 2 -T 30 on that cluster, before and
#      after Tessera's run (the machine is shared and noisy: the ratio uses their mean);
#   3. tessera serve (release) on it: the 32-client CreateUser → AssignUser → GrantLicense mix
#      for 30 s (after a 5 s warm-up), with projection lag from /metrics;
#   4. the same mix on the embedded default (SQLite);
#   5. on PostgreSQL again: seed 100,000 users through the API, then `users(first: 50)` latency
#      over 2,000 requests (first pages and pages reached by cursors).
# Results: load-tests/results/<UTC time>/ (results.jsonl, pgbench and server logs), and a
# summary on stdout. Knobs (environment): CLIENTS, BENCH_SECONDS, SEED_USERS, READ_REQUESTS,
# PGBENCH_SCALE, and any TESSERA_* setting for the servers (e.g. TESSERA_DB_MAX_CONNECTIONS).
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-32}
BENCH_SECONDS=${BENCH_SECONDS:-30}
SEED_USERS=${SEED_USERS:-100000}
READ_REQUESTS=${READ_REQUESTS:-2000}
PGBENCH_SCALE=${PGBENCH_SCALE:-10}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

out="${OUT:-load-tests/results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
results="$out/results.jsonl"
: >"$results"
log() { echo "== $*" | tee -a "$out/run.log" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib postgresql-client >/dev/null
fi

log "building (release)"
cargo build --release --quiet --bin tessera --bin tessera-load
bin="$CARGO_TARGET_DIR/release"

free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"; }

# --- the private, durable PostgreSQL cluster ---------------------------------------------
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pgdir=$(mktemp -d /tmp/tessera-bench-pg.XXXXXX)
pgport=$(free_port tcp)
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$pgdir"
server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; fi
}
cleanup() {
    stop_server
    run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
}
trap cleanup EXIT
run_pg "$pgbin/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null
run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w start \
    -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB" >/dev/null
psql() { command psql -q -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql -d postgres -c "CREATE ROLE tessera LOGIN PASSWORD 'tessera' NOSUPERUSER NOBYPASSRLS" \
    -c "CREATE DATABASE tessera OWNER tessera" -c "CREATE DATABASE pgbench"
log "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on port $pgport (fsync=$(psql -d postgres -Atc 'SHOW fsync'), synchronous_commit=$(psql -d postgres -Atc 'SHOW synchronous_commit'))"

pgbench() { "$pgbin/pgbench" -h 127.0.0.1 -p "$pgport" -U postgres "$@"; }
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
operator_key="tsk_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
export TESSERA_LOAD_OPERATOR_KEY="$operator_key"
start_server() { # name, then environment assignments
    local name=$1
    shift
    http_port=$(free_port tcp)
    dns_port=$(free_port udp)
    env "$@" TESSERA_LISTEN="127.0.0.1:$http_port" TESSERA_OPERATOR_KEY="$operator_key" \
        TESSERA_DNS_NAMESERVERS="127.0.0.1:$dns_port" TESSERA_LOG="${TESSERA_LOG:-warn}" \
        "$bin/tessera" serve >"$out/server-$name.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 120); do
        curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || { cat "$out/server-$name.log" >&2; return 1; }
        sleep 0.5
    done
    echo "server $name did not become ready" >&2
    return 1
}
load() { "$bin/tessera-load" --url "http://127.0.0.1:$http_port" --dns "127.0.0.1:$dns_port" --json "$@" | tee -a "$out/load.log" | sed -n 's/^RESULT //p'; }
tag() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d.update(json.loads(sys.argv[1])); print(json.dumps(d))' "$1"; }

run_pgbench before
start_server postgres DATABASE_URL="postgres://tessera:tessera@127.0.0.1:$pgport/tessera" \
    TESSERA_MASTER_KEY="$("$bin/tessera" generate-master-key)"
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
    start_server postgres-read DATABASE_URL="postgres://tessera:tessera@127.0.0.1:$pgport/tessera" \
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
