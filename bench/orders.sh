#!/usr/bin/env bash
# Orders targets (issue 4), on this machine with the load generator on it:
# - placeOrder on one hot SKU, then spread over 1,000 SKUs (32 connections), each followed by
#   a check that every unit that left stock belongs to an order (zero oversold);
# - the staff orders list (20 orders with lines and buyer) at 32 connections;
# - N WebSocket subscribers (default 5,000): memory per idle subscription, and how long one
#   new order takes to reach the last of them.
# Usage: bench/orders.sh [duration, default 10s] [subscribers, default 5000]
# MEMBER=1: the buyers are 金卡 members (the member price) and every order spends 100 points;
# the points reconciliation must agree after the runs.
# PostgreSQL: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_orders (recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10s}"
[[ "$DURATION" =~ ^[0-9]+s$ ]] || { echo "give the duration in seconds, e.g. 10s"; exit 1; }
SUBSCRIBERS="${2:-5000}"
PORT=18083
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# SKIP_BUILD=1 measures what target/release holds (or BIN=path) without building.
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin distmall --example bench_ws
BIN="${BIN:-target/release/distmall}"
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
# Nothing times out during the run.
export DISTMALL_ORDER_PAYMENT_TIMEOUT_SECS=86400

"$BIN" migrate
"$BIN" admin create --phone 13700000000 --password Bench1234 >/dev/null
"$BIN" serve & PID=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.01; done
URL="http://127.0.0.1:$PORT/graphql"
MEMBER="${MEMBER:-}" python3 bench/orders_setup.py "$URL" 13700000000 Bench1234 "$WORK/data"

orders_so_far() {
  python3 bench/orders_verify.py "$URL" "$WORK/data.json" 1000000 | tee /dev/stderr | sed 's/^orders=\([0-9]*\).*/\1/'
}
# Orders placed, not requests answered: a request that placed nothing (a refusal, a replayed
# key) must not count.
place() {
  echo "== placeOrder, $1 (32 connections, $DURATION)"
  local before after
  before=$(orders_so_far 2>/dev/null)
  wrk -t2 -c32 -d"$DURATION" -s bench/orders.lua "$URL" -- "$WORK/data.lua" "$1" | grep -E 'RESULT|Non-2xx'
  after=$(orders_so_far)
  echo "placed=$((after - before)) placed_per_sec=$(( (after - before) / ${DURATION%s} ))"
}
place hot
place spread
if [ -n "${MEMBER:-}" ]; then
  STAFF=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['staff'])" "$WORK/data.json")
  curl -s "$URL" -H 'content-type: application/json' -H "authorization: Bearer $STAFF" \
    -d '{"query":"{ pointsReconciliation { consistent entries ledgerTotal balanceTotal } }"}'
  echo
fi

STAFF=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['staff'])" "$WORK/data.json")
echo "== staff orders list, 20 with lines and buyer (32 connections, $DURATION)"
wrk -t2 -c32 -d"$DURATION" -s bench/graphql.lua "$URL" -- \
  '{ orders(first: 20) { edges { node { orderNo status payAmount createdAt lines { productName specText quantity unitPrice } buyer { id nickname phone } } } } }' "$STAFF" \
  | grep -E 'RESULT|Non-2xx'
echo "== { __typename } (same run)"
wrk -t2 -c32 -d"$DURATION" -s bench/graphql.lua "$URL" -- '{ __typename }' | grep -E 'RESULT|Non-2xx'

echo "== $SUBSCRIBERS WebSocket subscribers"
target/release/examples/bench_ws "$URL" "$WORK/data.json" "$SUBSCRIBERS" "$PID"
echo "rss_end_kb=$(ps -o rss= -p "$PID" | tr -d ' ')"
