#!/usr/bin/env bash
# `make bench`: PostgreSQL's TPC-B-like pgbench, then Jifen's HTTP API under the same load,
# and the ratios between them. See docs/performance.md for what is measured and why.
#
# Environment (all optional):
#   DATABASE_URL      PostgreSQL for Jifen (default postgres://postgres@127.0.0.1:5432/jifen_bench);
#                     pgbench uses <same server>/<name>_pgbench. Both are dropped and recreated
#                     (Jifen's) or reused (pgbench's, re-initialised when the scale differs).
#   BENCH_SECONDS     length of each measurement (default 10)
#   BENCH_CLIENTS     concurrent clients / connections (default 16); BENCH_THREADS wrk and
#                     pgbench threads (default 2)
#   BENCH_WORKERS     granian worker processes; a list ("2 3 4") measures each and keeps the
#                     best (default 2: with one round trip per request, one worker per core;
#                     docs/performance.md, third round)
#   BENCH_BLOCKING_THREADS  granian blocking threads per worker (default 1)
#   BENCH_MEMBERS     bench members with tokens (default 200)
#   BENCH_PORT        port for granian (default: a free port)
#   BENCH_DB_OPTIONS  driver options for the app server's DATABASE_URL, as a query string
#                     (default "server_side_binding=true&prepare_threshold=1": server-side
#                     parameters and prepared statements; set it empty to measure without)
#   BENCH_PROFILE     1 = run the transfer measurement again under py-spy (writes var/bench/)
#   DB_CONN_HEALTH_CHECKS  passed through to the app server (default on, as in production:
#                     a `SELECT 1` when a request first uses its persistent connection)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin

DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/jifen_bench}
SECONDS_EACH=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-16}
THREADS=${BENCH_THREADS:-2}
WORKERS_LIST=${BENCH_WORKERS:-2}
BLOCKING_THREADS=${BENCH_BLOCKING_THREADS:-1}
MEMBERS=${BENCH_MEMBERS:-200}
# A free port unless one is given: another server on a fixed port would answer our requests.
PORT=${BENCH_PORT:-$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
OUT=$ROOT/var/bench
mkdir -p "$OUT"
TOKENS=$OUT/tokens.txt

log() { printf '\n== %s\n' "$*"; }

if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk"
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk; else sudo apt-get install -y wrk; fi
fi
for tool in pgbench psql curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done

# --- split DATABASE_URL into the server and the database name --------------------------------
DB_NAME=${DATABASE_URL##*/}
DB_NAME=${DB_NAME%%\?*}
SERVER_URL=${DATABASE_URL%/*}
PGBENCH_DB=${DB_NAME}_pgbench
ADMIN_URL=$SERVER_URL/postgres

# Commits are durable in both measurements: the comparison is only fair that way.
export PGOPTIONS="-c synchronous_commit=on"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo);" \
  "PostgreSQL $(psql "$ADMIN_URL" -Atc 'show server_version')," \
  "synchronous_commit=$(psql "$ADMIN_URL" -Atc 'show synchronous_commit')," \
  "fsync=$(psql "$ADMIN_URL" -Atc 'show fsync')," \
  "shared_buffers=$(psql "$ADMIN_URL" -Atc 'show shared_buffers')"
echo "load: $CLIENTS clients, $THREADS threads, ${SECONDS_EACH}s per measurement;" \
  "machine load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- 1. pgbench, TPC-B-like --------------------------------------------------------------------
SCALE=$(( CLIENTS > 16 ? CLIENTS : 16 ))
log "pgbench (TPC-B-like, scale $SCALE) on $PGBENCH_DB"
if ! psql "$ADMIN_URL" -Atc "select 1 from pg_database where datname = '$PGBENCH_DB'" | grep -q 1; then
  psql "$ADMIN_URL" -qc "create database \"$PGBENCH_DB\""
fi
current_scale=$(psql "$SERVER_URL/$PGBENCH_DB" -Atc "select count(*) from pgbench_branches" 2>/dev/null || echo 0)
if [ "$current_scale" != "$SCALE" ]; then
  pgbench -i -q -s "$SCALE" "$SERVER_URL/$PGBENCH_DB" 2>&1 | tail -1
fi
rm -rf "$OUT/pgbench_log" && mkdir -p "$OUT/pgbench_log"
(cd "$OUT/pgbench_log" && pgbench -c "$CLIENTS" -j "$THREADS" -T "$SECONDS_EACH" -l \
  "$SERVER_URL/$PGBENCH_DB" >"$OUT/pgbench.txt" 2>&1) || { cat "$OUT/pgbench.txt"; exit 1; }
TPCB_TPS=$(awk -F'[ =]+' '/^tps = .*without initial connection/ {print $2}' "$OUT/pgbench.txt")
read -r TPCB_P50 TPCB_P99 TPCB_N < <(cat "$OUT"/pgbench_log/pgbench_log.* | "$BIN/python" -c '
import sys
lat = sorted(int(line.split()[2]) for line in sys.stdin if line.strip())
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1000
print(f"{pick(0.50):.2f} {pick(0.99):.2f} {len(lat)}")')
grep -E "^(number of failed|latency average)" "$OUT/pgbench.txt" || true
printf 'RESULT name=tpcb transactions=%s tps=%.1f p50_ms=%s p99_ms=%s\n' \
  "$TPCB_N" "$TPCB_TPS" "$TPCB_P50" "$TPCB_P99"

# --- 2. Jifen's API ----------------------------------------------------------------------------
log "Jifen: fresh $DB_NAME, migrate, $MEMBERS funded members with tokens"
psql "$ADMIN_URL" -qc "drop database if exists \"$DB_NAME\" with (force)"
psql "$ADMIN_URL" -qc "create database \"$DB_NAME\""

# Production-like: DEBUG off, a real SECRET_KEY, no HTTPS redirect on localhost; transfer
# limits out of the way (the bench measures postings, not the daily cap); the sandbox
# gateway allowed (no payments are made, but the system check refuses it otherwise).
SECRET=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))')
APP_ENV=(
  DATABASE_URL="$DATABASE_URL" DEBUG=0 SECRET_KEY="$SECRET" SECURE_SSL_REDIRECT=0
  SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0 SECURE_HSTS_SECONDS=0
  ALLOWED_HOSTS="127.0.0.1,localhost" LOG_LEVEL=WARNING
  JIFEN_TRANSFER_DAILY_LIMIT=1000000000 JIFEN_TRANSFER_MIN=1
  DB_CONN_MAX_AGE=600 DB_CONN_HEALTH_CHECKS="${DB_CONN_HEALTH_CHECKS:-1}" JIFEN_TESTING=0
  JIFEN_ALLOW_SANDBOX_PAY=1
)
env "${APP_ENV[@]}" "$BIN/jifen" migrate --noinput -v0
env "${APP_ENV[@]}" "$BIN/jifen" bench-setup --members "$MEMBERS" --tokens-file "$TOKENS"

# The app server may connect with extra driver options (BENCH_DB_OPTIONS, a query string such
# as "server_side_binding=true&prepare_threshold=1"); migrations and verification do not.
BENCH_DB_OPTIONS=${BENCH_DB_OPTIONS-server_side_binding=true&prepare_threshold=1}
SERVE_URL=$DATABASE_URL
if [ -n "${BENCH_DB_OPTIONS:-}" ]; then
  case $DATABASE_URL in *\?*) SERVE_URL="$DATABASE_URL&$BENCH_DB_OPTIONS" ;; *) SERVE_URL="$DATABASE_URL?$BENCH_DB_OPTIONS" ;; esac
fi

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
trap stop_server EXIT

start_server() {  # $1 = workers
  env "${APP_ENV[@]}" DATABASE_URL="$SERVE_URL" "$BIN/granian" --interface wsgi --host 127.0.0.1 --port "$PORT" \
    --workers "$1" --blocking-threads "$BLOCKING_THREADS" --no-ws --log-level warning \
    jifen.config.wsgi:application >"$OUT/granian.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 150); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi  # it died (port taken, bad config)
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/openapi.json" || true)
    [ "$code" != "000" ] && kill -0 "$SERVER_PID" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "granian did not start:" >&2
  cat "$OUT/granian.log" >&2
  exit 1
}

db_backends() {  # pids of the PostgreSQL backends serving the app
  psql "$ADMIN_URL" -Atc "select pid from pg_stat_activity where datname = '$DB_NAME' and pid <> pg_backend_pid()" | tr '\n' ' '
}

run_wrk() {  # $1 = name, $2 = script, $3 = seconds; prints the RESULT line and CPU per request
  local backends app0 db0 app1 db1 requests
  backends=$(db_backends)
  app0=$("$BIN/python" bench/cpu.py --tree "$SERVER_PID")
  db0=$("$BIN/python" bench/cpu.py $backends)
  BENCH_NAME=$1 BENCH_TOKENS=$TOKENS BENCH_DIR=$ROOT/bench \
    wrk -t "$THREADS" -c "$CLIENTS" -d "${3}s" --timeout 10s -s "$ROOT/bench/$2" \
    "http://127.0.0.1:$PORT" >"$OUT/wrk_$1.txt" 2>&1 || true
  app1=$("$BIN/python" bench/cpu.py --tree "$SERVER_PID")
  db1=$("$BIN/python" bench/cpu.py $backends)
  grep -E "^(RESULT|FIRST_NON2XX)" "$OUT/wrk_$1.txt" || { cat "$OUT/wrk_$1.txt"; return 1; }
  requests=$(sed -n 's/^RESULT .* requests=\([0-9]*\).*/\1/p' "$OUT/wrk_$1.txt")
  "$BIN/python" -c "
n = max(int('${requests:-0}' or 0), 1)
print(f'CPU name=$1 app_ms_per_request={($app1 - $app0) * 1000 / n:.2f} '
      f'db_ms_per_request={($db1 - $db0) * 1000 / n:.2f}')"
}

field() {  # $1 = RESULT line, $2 = key
  sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

BEST_WORKERS="" BEST_EARN="" BEST_TRANSFER="" FAILED=0
for workers in $WORKERS_LIST; do
  log "granian: $workers workers x $BLOCKING_THREADS blocking thread(s), $CLIENTS connections${BENCH_DB_OPTIONS:+, $BENCH_DB_OPTIONS}"
  start_server "$workers"
  # Warm up: imports, connections, prepared caches in every worker.
  run_wrk warmup earn.lua 2 >/dev/null || true
  run_wrk warmup transfer.lua 2 >/dev/null || true
  earn=$(run_wrk "earn_w$workers" earn.lua "$SECONDS_EACH") || FAILED=1
  echo "$earn"
  transfer=$(run_wrk "transfer_w$workers" transfer.lua "$SECONDS_EACH") || FAILED=1
  echo "$transfer"
  if [ "${BENCH_PROFILE:-0}" = 1 ]; then
    PYSPY=${PYSPY:-$(command -v py-spy || echo "$BIN/py-spy")}
    log "py-spy: sampling every worker during another transfer measurement"
    spies=()
    for pid in $(pgrep -P "$SERVER_PID" || true); do
      "$PYSPY" record --nonblocking -d "$SECONDS_EACH" -r 100 -f raw \
        -o "$OUT/pyspy_w${workers}_$pid.txt" -p "$pid" >/dev/null 2>&1 &
      spies+=($!)
    done
    run_wrk "transfer_profiled_w$workers" transfer.lua "$SECONDS_EACH" || true
    wait "${spies[@]}" 2>/dev/null || true
    "$BIN/python" bench/pyspy_summary.py "$OUT"/pyspy_w"${workers}"_*.txt || true
  fi
  stop_server
  for line in "$earn" "$transfer"; do
    bad=$(field "$(grep RESULT <<<"$line")" non2xx)
    errs=$(field "$(grep RESULT <<<"$line")" socket_errors)
    if [ "${bad:-1}" != 0 ] || [ "${errs:-1}" != 0 ]; then FAILED=1; fi
  done
  earn_rps=$(field "$(grep RESULT <<<"$earn")" rps)
  transfer_rps=$(field "$(grep RESULT <<<"$transfer")" rps)
  earn_rps=${earn_rps:-0} transfer_rps=${transfer_rps:-0}
  total=$("$BIN/python" -c "print($earn_rps + $transfer_rps)")
  if [ -z "$BEST_WORKERS" ] || "$BIN/python" -c "import sys; sys.exit(not $total > $BEST_EARN + $BEST_TRANSFER)"; then
    BEST_WORKERS=$workers BEST_EARN=$earn_rps BEST_TRANSFER=$transfer_rps
    BEST_EARN_LINE=$(grep RESULT <<<"$earn") BEST_TRANSFER_LINE=$(grep RESULT <<<"$transfer")
  fi
done

# The steadier figure on a shared machine: statements and app CPU per request, in-process.
log "in-process: statements and app CPU per request (bench/measure.py, 300 requests each)"
env "${APP_ENV[@]}" DATABASE_URL="$SERVE_URL" BENCH_TOKENS="$TOKENS" \
  "$BIN/python" -W ignore bench/measure.py 300 || FAILED=1

log "ledger verification on $DB_NAME"
env "${APP_ENV[@]}" "$BIN/jifen" verify-ledger || FAILED=1

log "summary (machine load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
printf 'tpcb      %8.1f tps  p50 %s ms  p99 %s ms\n' "$TPCB_TPS" "$TPCB_P50" "$TPCB_P99"
printf 'earn      %8.1f rps  p50 %s ms  p99 %s ms  non-2xx %s  (granian %s workers)\n' \
  "$BEST_EARN" "$(field "$BEST_EARN_LINE" p50_ms)" "$(field "$BEST_EARN_LINE" p99_ms)" \
  "$(field "$BEST_EARN_LINE" non2xx)" "$BEST_WORKERS"
printf 'transfer  %8.1f rps  p50 %s ms  p99 %s ms  non-2xx %s  (granian %s workers)\n' \
  "$BEST_TRANSFER" "$(field "$BEST_TRANSFER_LINE" p50_ms)" "$(field "$BEST_TRANSFER_LINE" p99_ms)" \
  "$(field "$BEST_TRANSFER_LINE" non2xx)" "$BEST_WORKERS"
if [ "$FAILED" != 0 ]; then
  echo "bench FAILED: non-2xx responses, socket errors or ledger violations (see above)" >&2
fi
"$BIN/python" - "$BEST_EARN" "$BEST_TRANSFER" "$TPCB_TPS" <<'EOF'
import sys
earn, transfer, tpcb = map(float, sys.argv[1:])
for name, value, target in (("earn", earn, 0.30), ("transfer", transfer, 0.25)):
    if value / tpcb < target:
        print(f"note: {name} is below its target ratio {target:.2f}", file=sys.stderr)
print(f"ratio earn_vs_tpcb={earn / tpcb:.2f}")
print(f"ratio transfer_vs_tpcb={transfer / tpcb:.2f}")
EOF
exit "$FAILED"
