# Shared by the load-tests/run-*.sh scripts (sourced, not run): a private, durable PostgreSQL
# cluster, a release `tessera serve` on it, and the load tool. Expects $out (results dir) and
# $results (results.jsonl) to be set, and `set -euo pipefail`.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
bin="$CARGO_TARGET_DIR/release"

log() { echo "== $*" | tee -a "$out/run.log" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"; }

build_release() {
    if ! ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib postgresql-client >/dev/null
    fi
    if [ "${PREBUILT:-0}" = 1 ]; then # measure the binaries already in $bin (say which commit in the write-up)
        log "using the prebuilt $bin/tessera and tessera-load"
        return 0
    fi
    log "building (release)"
    cargo build --release --quiet --bin tessera --bin tessera-load
}

# The cluster is durable (fsync, synchronous_commit, full_page_writes at their defaults, i.e.
# on), unlike the test suite's; Tessera's role is a non-superuser without BYPASSRLS.
server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; fi
}
start_pg() {
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    pgdir=$(mktemp -d /tmp/tessera-bench-pg.XXXXXX)
    pgport=$(free_port tcp)
    run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    [ "$(id -u)" = 0 ] && chown postgres "$pgdir"
    cleanup() {
        stop_server
        run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true
        rm -rf "$pgdir"
    }
    trap cleanup EXIT
    run_pg "$pgbin/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null
    run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w start \
        -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB" >/dev/null
    psql -d postgres -c "CREATE ROLE tessera LOGIN PASSWORD 'tessera' NOSUPERUSER NOBYPASSRLS" \
        -c "CREATE DATABASE tessera OWNER tessera" -c "CREATE DATABASE pgbench"
    database_url="postgres://tessera:tessera@127.0.0.1:$pgport/tessera"
    log "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on port $pgport (fsync=$(psql -d postgres -Atc 'SHOW fsync'), synchronous_commit=$(psql -d postgres -Atc 'SHOW synchronous_commit'))"
}
psql() { command psql -q -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 "$@"; }
pgbench() { "$pgbin/pgbench" -h 127.0.0.1 -p "$pgport" -U postgres "$@"; }

# SERVER_BIN: another `tessera` binary to measure (e.g. an older commit's); the load tool and
# the baselines stay this build's.
operator_key="tsk_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
export TESSERA_LOAD_OPERATOR_KEY="$operator_key"
start_server() { # name, then environment assignments
    local name=$1
    shift
    http_port=$(free_port tcp)
    dns_port=$(free_port udp)
    env "$@" TESSERA_LISTEN="127.0.0.1:$http_port" TESSERA_OPERATOR_KEY="$operator_key" \
        TESSERA_DNS_NAMESERVERS="127.0.0.1:$dns_port" TESSERA_LOG="${TESSERA_LOG:-warn}" \
        "${SERVER_BIN:-$bin/tessera}" serve >"$out/server-$name.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || { cat "$out/server-$name.log" >&2; return 1; }
        sleep 0.5
    done
    echo "server $name did not become ready" >&2
    return 1
}
load() { "$bin/tessera-load" --url "http://127.0.0.1:$http_port" --dns "127.0.0.1:$dns_port" --json "$@" | tee -a "$out/load.log" | sed -n 's/^RESULT //p'; }
tag() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d.update(json.loads(sys.argv[1])); print(json.dumps(d))' "$1"; }
