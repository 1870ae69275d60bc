#!/usr/bin/env bash
# Hot-SKU checkout at launch-burst rates (issue 20): a group buy announced in a WeChat group of
# 500 sends everyone to one SKU in the same second.
# 1. Throughput: 200 connections (200 buyers) order one unit each of one SKU with plenty of
#    stock for the duration; orders placed per second, p99, and a check that every unit that
#    left stock belongs to exactly one order (zero oversold).
# 2. Sell-out: another SKU with SELL_OUT units (default 3,000) and the same 200 connections for
#    5 s: exactly that many orders are placed, the stock ends at 0, and every other buyer is
#    told OUT_OF_STOCK (any other answer is counted as `other` and must be 0).
# Usage: bench/hot_sku.sh [duration, default 10s] [connections, default 200]
# PostgreSQL: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_hot (recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10s}"
[[ "$DURATION" =~ ^[0-9]+s$ ]] || { echo "give the duration in seconds, e.g. 10s"; exit 1; }
CONNECTIONS="${2:-200}"
SELL_OUT="${SELL_OUT:-3000}"
PORT=18089
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# SKIP_BUILD=1 measures what target/release holds (or BIN=path) without building.
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin distmall
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
BUYERS="$CONNECTIONS" python3 bench/orders_setup.py "$URL" 13700000000 Bench1234 "$WORK/data"

echo "== placeOrder, one hot SKU ($CONNECTIONS connections, $DURATION)"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s bench/hot_sku.lua "$URL" -- "$WORK/data.lua" 1 | grep -E 'RESULT|Non-2xx'
sleep 1  # the requests wrk gave up waiting for land first
python3 bench/orders_verify.py "$URL" "$WORK/data.json" 1000000

echo "== sell-out: $SELL_OUT units of another SKU, $CONNECTIONS connections, 5s"
python3 - "$URL" "$WORK/data.json" "$SELL_OUT" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from gql import client, ok
url, path, units = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = json.load(open(path))
gql = client(url, data["staff"])
ok(gql("mutation($i: AdjustStockInput!) { adjustStock(input: $i) { userErrors { code message } } }",
       {"i": {"skuId": data["skus"][1], "delta": units - 1000000, "reason": "ADJUSTMENT"}})["adjustStock"])
PY
wrk -t2 -c"$CONNECTIONS" -d5s --timeout 10s -s bench/hot_sku.lua "$URL" -- "$WORK/data.lua" 2 | grep -E 'RESULT|Non-2xx'
sleep 1
python3 - "$URL" "$WORK/data.json" "$SELL_OUT" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from gql import client
url, path, units = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = json.load(open(path))
gql = client(url, data["staff"])
hot, sold_out = [n["stock"] for n in gql("query($ids: [ID!]!) { nodes(ids: $ids) { ... on Sku { stock } } }",
                                         {"ids": data["skus"][:2]})["nodes"]]
orders = gql("{ orders { totalCount } }")["orders"]["totalCount"]
units_out = (1000000 - hot) + (units - sold_out)
print(f"orders={orders} units_out_of_stock={units_out} oversold={units_out - orders} sell_out_stock_left={sold_out}")
PY
echo "rss_end_kb=$(ps -o rss= -p "$PID" | tr -d ' ')"
