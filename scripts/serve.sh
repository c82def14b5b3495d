#!/usr/bin/env bash
# `make serve` (and the end of `make demo`): the site on granian, plus what runs the
# periodic jobs and the queued tasks on one machine:
#   - with REDIS_URL, a Celery worker with an embedded beat (tasks go through Redis);
#   - without it (tasks run inline), `jifen run-due-jobs` every minute for the beat schedule.
# Both stop when the server stops. Production runs workers and one beat on their own
# (README, "Running it in production").
set -euo pipefail
BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
WORKERS=${WORKERS:-2}
mkdir -p var

if [ -n "${REDIS_URL:-}" ]; then
  "$BIN/celery" -A jifen worker --beat --schedule var/celerybeat-schedule \
    --concurrency 2 --loglevel warning &
else
  # Stops by itself once this script is gone, however it ended.
  server=$$
  (while sleep 60 && kill -0 "$server" 2>/dev/null; do
    "$BIN/jifen" run-due-jobs >/dev/null 2>&1 || true
  done) &
fi
helper=$!
trap 'kill "$helper" 2>/dev/null || true' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

"$BIN/granian" --interface wsgi --host "$HOST" --port "$PORT" \
  --workers "$WORKERS" --no-ws jifen.config.wsgi:application
