#!/usr/bin/env bash
# Times `tessera projections rebuild` (twice) and `tessera replay` on a database that already
# holds a long history (e.g. the million events `run-audit.sh` seeds; keep its cluster), with a
# raw scan of the events table before and after as the baseline of the same run.
#   DATABASE_URL=postgres://tessera:…@host:port/tessera TESSERA_MASTER_KEY=… \
#   ADMIN_URL=postgres://postgres@host:port/tessera ./load-tests/time-rebuild.sh
# ADMIN_URL: a role that may read every row (the raw scan bypasses row-level security).
# BIN: the directory of the release `tessera` (default: $CARGO_TARGET_DIR/release).
set -euo pipefail
: "${DATABASE_URL:?}" "${TESSERA_MASTER_KEY:?}" "${ADMIN_URL:?}"
bin=${BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}/release}
export DATABASE_URL TESSERA_MASTER_KEY
p() { psql -q "$ADMIN_URL" "$@"; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); python3 -c "print(f'{$e-$s:.2f}')"; }
phases() { grep -E 'TIME|rebuild:|replayed|events in|OK|DIFFERENCE' | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^.*INFO [^ ]* //' | tr '\n' ' '; echo; }
scan="SELECT count(*), sum(length(payload::text) + length(metadata::text)) FROM events"
"$bin/tessera" migrate >/dev/null
echo "events $(p -Atc "SELECT count(*) FROM events")"
echo "raw scan: $(t p -Atc "$scan") s, $(t p -Atc "$scan") s"
for i in 1 2; do
    echo "rebuild $i: $(TESSERA_LOG=info /usr/bin/time -f 'TIME %e s wall, %U s user, %S s sys' "$bin/tessera" projections rebuild 2>&1 | phases)"
done
echo "raw scan: $(t p -Atc "$scan") s"
echo "replay: $(TESSERA_LOG=info /usr/bin/time -f 'TIME %e s wall, %U s user, %S s sys' "$bin/tessera" replay 2>&1 | phases)"
echo "rows: users $(p -Atc "SELECT count(*) FROM users"), user_licenses $(p -Atc "SELECT count(*) FROM user_licenses"), outbox_users $(p -Atc "SELECT count(*) FROM outbox_users")"
