#!/usr/bin/env bash
# Foundation targets (issue 2): start-to-ready on an existing SQLite database, idle RSS,
# `{ __typename }` (the ceiling) and `{ me { id } }` with a valid token in the same run, at 32
# connections with wrk on this machine, RSS after the load, and the release binary size.
# Usage: bench/foundation.sh [duration, default 15s]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15s}"
PORT=18080
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }

# BIN overrides the binary under test (default: a fresh release build of this checkout).
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/distmall
fi
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
export DATABASE_URL="sqlite://$WORK/bench.db?mode=rwc"
export DISTMALL_LISTEN="127.0.0.1:$PORT"
export DISTMALL_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export DISTMALL_LOG_FILTER=warn
"$BIN" migrate >/dev/null

rss_kb() { ps -o rss= -p "$1" | tr -d ' '; }

# Start to ready, on the existing (migrated) database: best of 5.
best=999999
for _ in 1 2 3 4 5; do
  t0=$(date +%s%N)
  "$BIN" serve & PID=$!
  until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.002; done
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  [ "$ms" -lt "$best" ] && best=$ms
  kill "$PID"; wait "$PID" 2>/dev/null || true
done
echo "start_to_ready_ms=$best (best of 5)"

"$BIN" serve & PID=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.005; done
sleep 1
echo "idle_rss_kb=$(rss_kb "$PID")"

TOKEN=$(curl -s "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' \
  -d '{"query":"mutation { register(input: {phone: \"13800009999\", password: \"Bench12345\"}) { accessToken } }"}' \
  | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
ME=$(curl -s "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' \
  -H "authorization: Bearer $TOKEN" -d '{"query":"{ me { id } }"}')
echo "check: $ME"
echo "$ME" | grep -q '"me":{"id"' || { echo "me query failed"; exit 1; }

URL="http://127.0.0.1:$PORT/graphql"
echo "== { __typename }, 32 connections, $DURATION"
wrk -t2 -c32 -d"$DURATION" -s bench/graphql.lua "$URL" -- '{ __typename }' | grep -E 'RESULT|Non-2xx'
echo "== { me { id } } with a valid token, 32 connections, $DURATION"
wrk -t2 -c32 -d"$DURATION" -s bench/graphql.lua "$URL" -- '{ me { id } }' "$TOKEN" | grep -E 'RESULT|Non-2xx'
echo "rss_after_load_kb=$(rss_kb "$PID")"
echo "release_binary_bytes=$(stat -c %s "$BIN")"
