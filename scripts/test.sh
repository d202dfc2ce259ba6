#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine with Rust:
#   installs what the tests need (PostgreSQL, xmlsec1, xmllint, Chromium + chromedriver), starts a private PostgreSQL
#   cluster on a free port unless DATABASE_URL names one, then runs fmt, clippy and every test
#   on both storage backends. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- system packages the tests drive -------------------------------------------------------
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v xmlsec1 >/dev/null 2>&1 || missing+=(xmlsec1)
command -v xmllint >/dev/null 2>&1 || missing+=(libxml2-utils)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- a private PostgreSQL cluster, unless one was given ----------------------------------------
# Tests create one database per test in it, owned by a non-superuser role (row-level security
# does not bind superusers).
if [ -z "${DATABASE_URL:-}" ]; then
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    pgdir=$(mktemp -d /tmp/tessera-pg.XXXXXX)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    [ "$(id -u)" = 0 ] && chown postgres "$pgdir"
    stop_pg() { run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
    trap stop_pg EXIT
    run_pg "$pgbin/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null
    run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w start \
        -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
    psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE tessera LOGIN PASSWORD 'tessera' CREATEDB NOSUPERUSER NOBYPASSRLS"
    export TESSERA_TEST_DATABASE_URL="postgres://tessera:tessera@127.0.0.1:$port/postgres"
    echo "private PostgreSQL on port $port"
else
    export TESSERA_TEST_DATABASE_URL="$DATABASE_URL"
fi
unset DATABASE_URL

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast
else
    cargo test --no-fail-fast
fi
