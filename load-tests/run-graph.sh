#!/usr/bin/env bash
# The Microsoft 365 benchmarks of docs/benchmarks.md (issue 4, item 8), in one go, on the
# embedded default store (SQLite; a fresh data directory per server):
#   1. `tessera graph-emulator` on a free port (its request log large enough for every request);
#   2. one server sets up four tenants with assigned users while Microsoft 365 is not connected:
#      two with EXPORT_USERS users (default 10,000), two with OUTBOX_USERS users (default 2,000);
#   3. export of EXPORT_USERS users with TESSERA_GRAPH_BATCH=false (the baseline), then with
#      $batch (server restarted on the same data between): wall time, round trips, requests;
#   4. outbox throughput with $batch: OUTBOX_USERS PROVISION_USER tasks (queued at once by an
#      export job, so creating tasks is not the bottleneck) with 0 % throttling (the baseline), then
#      with 20 % of /v1.0/users requests answered 429 (Retry-After 1 s).
# Results: load-tests/results/<UTC time>/ (results.jsonl, server and emulator logs) and a summary
# on stdout. Knobs: EXPORT_USERS, OUTBOX_USERS, THROTTLE, CLIENTS, PREBUILT=1 (skip the build).
set -euo pipefail
cd "$(dirname "$0")/.."

EXPORT_USERS=${EXPORT_USERS:-10000}
OUTBOX_USERS=${OUTBOX_USERS:-2000}
THROTTLE=${THROTTLE:-0.2}
CLIENTS=${CLIENTS:-16}
out="${OUT:-load-tests/results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
results="$out/results.jsonl"
: >"$results"
. load-tests/lib.sh
if [ "${PREBUILT:-0}" = 1 ]; then
    log "using the prebuilt $bin/tessera and tessera-load"
else
    log "building (release)"
    cargo build --release --quiet --bin tessera --bin tessera-load
fi

emu_port=$(free_port tcp)
emulator="http://127.0.0.1:$emu_port"
"$bin/tessera" graph-emulator --listen "127.0.0.1:$emu_port" --max-log-entries 2000000 >"$out/emulator.log" 2>&1 &
emu_pid=$!
data_dir=$(mktemp -d /tmp/tessera-bench-graph.XXXXXX)
cleanup() { stop_server; kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; rm -rf "$data_dir"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf "$emulator/_emulator/health" >/dev/null && break; sleep 0.1; done
master_key="$("$bin/tessera" generate-master-key)"
serve() { start_server "$1" TESSERA_DATA_DIR="$data_dir" TESSERA_MASTER_KEY="$master_key" TESSERA_GRAPH_BATCH="$2"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

serve setup true
declare -A setups
for name in export-plain export-batch outbox-0 outbox-throttled; do
    users=$EXPORT_USERS
    case $name in outbox-*) users=$OUTBOX_USERS ;; esac
    log "setting up $name: $users assigned users"
    setups[$name]=$(load graph-setup --emulator "$emulator" --users "$users" --clients "$CLIENTS")
    echo "${setups[$name]}" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d.pop("admin_key"); print(json.dumps(d))' >>"$results"
done
stop_server

export_run() { # name, batch, throttle
    local s=${setups[$1]}
    serve "$1" "$2"
    log "$1: export with TESSERA_GRAPH_BATCH=$2, throttle $3"
    load graph-export --emulator "$emulator" --admin-key "$(field "$s" admin_key)" --entra-tenant "$(field "$s" entra_tenant)" \
        --client-id "$(field "$s" client_id)" --throttle "$3" | tag "{\"run\":\"$1\",\"batch\":$2}" >>"$results"
    stop_server
}
export_run export-plain false 0
export_run export-batch true 0
export_run outbox-0 true 0
export_run outbox-throttled true "$THROTTLE"

python3 - "$results" <<'PY'
import json, sys
runs = {r["run"]: r for r in map(json.loads, open(sys.argv[1])) if r.get("benchmark") == "graph-export"}
def line(r):
    j = r["job"]
    return (f'{r["run"]}: {j["total"]} users, {j["status"]} (created {j["created"]}, matched {j["matched"]}, failed {j["failed"]}), '
            f'{r["seconds"]:.1f} s, {r["tasks_per_second"]:.1f} tasks/s, {r["round_trips"]} round trips '
            f'({r["batches"]} $batch) for {r["graph_requests"]} Graph requests, {r["throttled"]} answered 429')
for r in runs.values():
    print(line(r))
p, b = runs["export-plain"], runs["export-batch"]
print(f'export with $batch vs without: wall time x{b["seconds"] / p["seconds"]:.2f}, round trips x{b["round_trips"] / p["round_trips"]:.3f}')
o, t = runs["outbox-0"], runs["outbox-throttled"]
print(f'outbox tasks/s throttled vs unthrottled: x{t["tasks_per_second"] / o["tasks_per_second"]:.2f}')
PY
