#!/usr/bin/env bash
# The WS-Federation sign-in benchmarks of docs/benchmarks.md (issue 3, item 9), in one run on
# one machine, so every ratio compares figures taken on the same cores minutes apart:
#   1. baselines, before and after the servers' runs (the ratios use the mean):
#      A. `openssl speed -seconds N -multi <nproc> rsa2048` (sign/s of the system's OpenSSL);
#      B. `tessera-load argon2`: raw argon2id verifications/s with the server's parameters,
#         one thread per core (and `tessera-load rsa`, the vendored OpenSSL the server links,
#         as a cross-check of A);
#   2. a private, durable PostgreSQL cluster (load-tests/lib.sh, as run-core.sh);
#   3. SESSIONS signed-in sessions made by real sign-ins (`tessera-load sessions`) through a
#      `tessera serve` with cheap argon2 parameters (FILL_ARGON2_*: at the default cost 10,000
#      sign-ins take too long on 2 cores), in a tenant of their own; that server is stopped;
#   4. a fresh `tessera serve` with the default (or given) parameters on the same database, and
#      `tessera-load signin`: a tenant with a verified domain and USERS assigned users with a
#      password; SSO tokens/s and password sign-ins/s by CLIENTS clients (BENCH_SECONDS each,
#      after WARMUP_SECONDS); then every session of step 3 is used once for a token without a
#      prompt (proving it live); the server's VmRSS is sampled from /proc throughout;
#   5. step 4 on the embedded default (SQLite), without the sessions.
# Results: load-tests/results/signin-<UTC time>/ (results.jsonl, logs) and a summary on stdout.
# Knobs (environment): CLIENTS, USERS, BENCH_SECONDS, WARMUP_SECONDS, SESSIONS (0 skips steps 3
# and the touching), FILL_ARGON2_MEMORY_KIB, FILL_ARGON2_ITERATIONS, SQLITE (0 skips SQLite),
# BASELINE_SECONDS, SERVER_BIN (a prebuilt `tessera` to measure, e.g. an older commit's),
# PG_STATEMENTS=1 (pg_stat_statements of step 4 into pg-statements.txt), and any TESSERA_*
# setting for the servers.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-64}
USERS=${USERS:-256}
BENCH_SECONDS=${BENCH_SECONDS:-30}
WARMUP_SECONDS=${WARMUP_SECONDS:-5}
SESSIONS=${SESSIONS:-10000}
SQLITE=${SQLITE:-1}
FILL_ARGON2_MEMORY_KIB=${FILL_ARGON2_MEMORY_KIB:-1024}
FILL_ARGON2_ITERATIONS=${FILL_ARGON2_ITERATIONS:-1}
BASELINE_SECONDS=${BASELINE_SECONDS:-10}
out="${OUT:-load-tests/results/signin-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
results="$out/results.jsonl"
: >"$results"
. load-tests/lib.sh
command -v openssl >/dev/null 2>&1 || { as_root apt-get update -qq; as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }
build_release
cores=$(nproc)
start_pg
if [ "${PG_STATEMENTS:-0}" = 1 ]; then # count the server's statements (pg_stat_statements) in step 4
    psql -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
    run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -w restart >/dev/null
    psql -d tessera -c "CREATE EXTENSION pg_stat_statements" >/dev/null
fi

# --- baselines ----------------------------------------------------------------------------
tool() { "$bin/tessera-load" --json "$@" | tee -a "$out/load.log" | sed -n 's/^RESULT //p'; }
baselines() { # before | after
    local run=$1
    log "openssl speed -seconds $BASELINE_SECONDS -multi $cores rsa2048 ($run)"
    (cd "$out" && openssl speed -seconds "$BASELINE_SECONDS" -multi "$cores" rsa2048 >"$out/openssl-speed-$run.log" 2>&1)
    local signs
    signs=$(awk '/^rsa 2048 bits/ {print $6}' "$out/openssl-speed-$run.log" | tail -n 1)
    [ -n "$signs" ] || { cat "$out/openssl-speed-$run.log" >&2; exit 1; }
    echo "{\"benchmark\":\"openssl_speed_rsa2048\",\"run\":\"$run\",\"processes\":$cores,\"signs_per_second\":$signs}" >>"$results"
    log "openssl speed rsa2048 $run: $signs sign/s"
    log "tessera-load argon2 --seconds $BASELINE_SECONDS ($run)"
    tool argon2 --seconds "$BASELINE_SECONDS" | tag "{\"run\":\"$run\"}" >>"$results"
    tool rsa --seconds "$BASELINE_SECONDS" | tag "{\"run\":\"$run\"}" >>"$results"
}

# --- tessera serve ---------------------------------------------------------------------
signin() { # backend, then extra arguments
    local backend=$1
    shift
    log "signin on $backend: $CLIENTS clients, ${BENCH_SECONDS} s per phase, $USERS users $*"
    "$bin/tessera-load" --url "http://127.0.0.1:$http_port" --dns "127.0.0.1:$dns_port" --json \
        signin --clients "$CLIENTS" --users "$USERS" --seconds "$BENCH_SECONDS" --warmup-seconds "$WARMUP_SECONDS" \
        --server-pid "$server_pid" "$@" | tee -a "$out/load.log" | sed -n 's/^RESULT //p' | tag "{\"backend\":\"$backend\"}" >>"$results"
}

baselines before


master_key="$("$bin/tessera" generate-master-key)"
touch_args=()
if [ "$SESSIONS" -gt 0 ]; then
    start_server fill DATABASE_URL="$database_url" TESSERA_MASTER_KEY="$master_key" \
        TESSERA_ARGON2_MEMORY_KIB="$FILL_ARGON2_MEMORY_KIB" TESSERA_ARGON2_ITERATIONS="$FILL_ARGON2_ITERATIONS"
    log "making $SESSIONS signed-in sessions (argon2 m=$FILL_ARGON2_MEMORY_KIB KiB, t=$FILL_ARGON2_ITERATIONS for these users)"
    "$bin/tessera-load" --url "http://127.0.0.1:$http_port" --dns "127.0.0.1:$dns_port" --json \
        sessions --count "$SESSIONS" --clients "$CLIENTS" --out "$out/sessions.secret" \
        | tee -a "$out/load.log" | sed -n 's/^RESULT //p' | tag '{"backend":"postgres"}' >>"$results"
    stop_server
    touch_args=(--touch-sessions "$out/sessions.secret")
fi
start_server postgres DATABASE_URL="$database_url" TESSERA_MASTER_KEY="$master_key"
# Planner statistics for the fresh tables (sign-ins, the audit chain), as autovacuum would make
# them a minute into a live system: a short unmeasured run, then ANALYZE (see run-core.sh).
log "warm-up on postgres, then ANALYZE"
"$bin/tessera-load" --url "http://127.0.0.1:$http_port" --dns "127.0.0.1:$dns_port" --json \
    signin --clients "$CLIENTS" --users "$USERS" --seconds 5 --warmup-seconds 1 >>"$out/load.log"
psql -d tessera -c "ANALYZE" >/dev/null
[ "${PG_STATEMENTS:-0}" = 1 ] && psql -d tessera -c "SELECT pg_stat_statements_reset()" >/dev/null
signin postgres "${touch_args[@]}"
[ "${PG_STATEMENTS:-0}" = 1 ] && psql -d tessera -c "SELECT calls, rows, round(total_exec_time) AS ms, left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS query FROM pg_stat_statements ORDER BY calls DESC LIMIT 60" >"$out/pg-statements.txt"
rows=$(psql -d tessera -Atc "SELECT count(*) FILTER (WHERE user_id IS NOT NULL AND now() - last_seen_at < interval '30 minutes') || ' ' || count(*) || ' ' || pg_total_relation_size('wsfed_sessions') FROM wsfed_sessions")
read -r live all_rows table_bytes <<<"$rows"
echo "{\"benchmark\":\"session_rows\",\"backend\":\"postgres\",\"signed_in_live\":$live,\"rows\":$all_rows,\"table_bytes\":$table_bytes}" >>"$results"
stop_server
rm -f "$out/sessions.secret"

if [ "$SQLITE" != 0 ]; then
    sqlite_dir=$(mktemp -d /tmp/tessera-signin-sqlite.XXXXXX)
    start_server sqlite TESSERA_DATA_DIR="$sqlite_dir"
    signin sqlite
    stop_server
    rm -rf "$sqlite_dir"
fi

baselines after

# --- summary ---------------------------------------------------------------------------
python3 - "$results" <<'EOF' | tee "$out/summary.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def mean(xs): return sum(xs) / len(xs)
def ms(x): return "n/a" if x is None else f"{x:.1f}"
rsa = [r["signs_per_second"] for r in rows if r["benchmark"] == "openssl_speed_rsa2048"]
argon = [r["verifications_per_second"] for r in rows if r["benchmark"] == "argon2id_verify"]
vendored = [r["signatures_per_second"] for r in rows if r["benchmark"] == "rsa2048_sign_in_process"]
a = [r for r in rows if r["benchmark"] == "argon2id_verify"][0]
print(f"baseline A, openssl speed -multi {rows[0]['processes']} rsa2048: {', '.join(f'{x:.0f}' for x in rsa)} sign/s (mean {mean(rsa):.0f})")
print(f"  cross-check, vendored OpenSSL in process: {', '.join(f'{x:.0f}' for x in vendored)} sign/s (mean {mean(vendored):.0f})")
print(f"baseline B, argon2id verify (m={a['memory_kib']} KiB, t={a['iterations']}, p={a['parallelism']}, {a['threads']} threads): "
      f"{', '.join(f'{x:.1f}' for x in argon)} /s (mean {mean(argon):.1f})")
for r in rows:
    if r["benchmark"] == "signin":
        s, p = r["sso"], r["password"]
        print(f"{r['backend']}, {r['clients']} clients:")
        print(f"  SSO tokens: {s['tokens_per_second']:.1f}/s = {s['tokens_per_second'] / mean(rsa):.3f} x openssl (target >= 0.8); "
              f"p50 {ms(s['latency']['p50_ms'])} ms, p99 {ms(s['latency']['p99_ms'])} ms; errors {s['errors']}")
        print(f"  password sign-ins: {p['sign_ins_per_second']:.1f}/s = {p['sign_ins_per_second'] / mean(argon):.3f} x argon2id (target >= 0.8); "
              f"whole flow p50 {ms(p['latency_whole_flow']['p50_ms'])} ms, p99 {ms(p['latency_whole_flow']['p99_ms'])} ms; "
              f"password post p99 {ms(p['latency_password_post']['p99_ms'])} ms; errors {p['errors']}")
        c = s.get("cpu_per_token")
        if c:
            sign_ms = 1000 * rows[0]["processes"] / mean(rsa)
            print(f"  CPU per SSO token: machine {c['machine_busy_ms']:.2f} ms (server {ms(c['server_ms'])}, load generator {ms(c['load_generator_ms'])}, "
                  f"PostgreSQL and others {c['others_ms']:.2f}; cores {100 * c['machine_busy_share']:.0f} % busy); one signature = {sign_ms:.2f} ms of a core, "
                  f"so the ratio cannot exceed {sign_ms / c['machine_busy_ms']:.2f} while the rest of a token costs what it costs")
        c = p.get("cpu_per_sign_in")
        if c:
            argon_ms = 1000 * a["threads"] / mean(argon)
            pools = c.get("server_pools") or {}
            print(f"  CPU per password sign-in: machine {c['machine_busy_ms']:.1f} ms (server {ms(c['server_ms'])}, of which argon2 threads "
                  f"{ms(pools.get('argon2_threads_ms'))} and signer threads {ms(pools.get('signer_threads_ms'))}; load generator "
                  f"{ms(c['load_generator_ms'])}, PostgreSQL and others {c['others_ms']:.1f}); one raw verification = {argon_ms:.1f} ms of a core, "
                  f"so the ratio cannot exceed {argon_ms / c['machine_busy_ms']:.2f} while the rest of a sign-in costs what it costs")
        m = r["server_rss_mb"]
        print(f"  server RSS MB: idle {ms(m['idle_after_setup'])}, max during SSO {ms(m['max_during_sso'])}, "
              f"max during password {ms(m['max_during_password'])}, peak (VmHWM) {ms(m['peak_since_start_vmhwm'])}")
        if r.get("sessions"):
            l = r["sessions"]
            sm = l["server_rss_mb"]
            print(f"  {l['live_confirmed_by_sso']} of {l['sessions_listed']} pre-made sessions confirmed live by SSO "
                  f"(plus {l['also_live_from_this_run']} from this run); RSS after {ms(sm['after'])} MB, "
                  f"max while touching {ms(sm['max_while_touching'])} MB (target < 150), VmHWM {ms(m['peak_since_start_vmhwm'])} MB")
    elif r["benchmark"] == "sessions":
        print(f"sessions made on {r['backend']}: {r['sessions']} in {r['seconds']:.0f} s, errors {r['errors']}")
    elif r["benchmark"] == "session_rows":
        print(f"  session rows in {r['backend']}: {r['signed_in_live']} signed in and live of {r['rows']}, table {r['table_bytes'] / 1e6:.1f} MB")
EOF
log "results in $out"
