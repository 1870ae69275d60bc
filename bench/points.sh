#!/usr/bin/env bash
# Points targets (issue 18), on this machine with the load generator on it
# (`examples/bench_points.rs` generates the data and times the services):
# - the expiry job's work for N members (default 100,000), each with one lot due, then a second
#   run (it must expire nothing), checked by the reconciliation;
# - the reconciliation query over a ledger of ROWS entries (default 1,000,000);
# - `signIn` at 32 connections, every request a different member (N tokens), beside
#   `{ __typename }`.
# Usage: bench/points.sh [duration, default 10s] [members] [ledger rows]
# PostgreSQL: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_points (recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10s}"
N="${2:-100000}"
ROWS="${3:-1000000}"
PORT=18086
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin distmall --example bench_points
BIN=target/release/distmall
GEN=target/release/examples/bench_points
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
export DATABASE_URL="${BENCH_DATABASE_URL:-sqlite://$WORK/bench.db?mode=rwc}"
if [[ "$DATABASE_URL" == postgres* ]]; then
  DB_NAME="${DATABASE_URL##*/}"
  psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME"
fi
export DISTMALL_DATA_DIR="$WORK/data"
export DISTMALL_LISTEN="127.0.0.1:$PORT"
export DISTMALL_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export DISTMALL_LOG_FILTER=warn
# The server's own expiry job must not run before the benchmark's.
export DISTMALL_POINTS_JOB_INTERVAL_SECS=86400

echo "== generate: $N members with their tokens"
"$GEN" members "$N" "$WORK/tokens"
echo "== expiry: one lot due for each of the $N members, then the same again"
"$GEN" expiry
echo "== reconciliation over $ROWS ledger entries"
"$GEN" ledger "$ROWS"

"$BIN" serve & PID=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.01; done
URL="http://127.0.0.1:$PORT/graphql"
echo "== { __typename }, 32 connections"
wrk -t2 -c32 -d"$DURATION" -s bench/graphql.lua "$URL" -- '{ __typename }' | grep RESULT
echo "== signIn, 32 connections, a different member each time"
wrk -t2 -c32 -d"$DURATION" -s bench/points.lua "$URL" -- "$WORK/tokens" 2 | grep RESULT
