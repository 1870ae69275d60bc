#!/usr/bin/env bash
# Promotions targets (issue 19), on this machine with the load generator on it:
# - claimCoupon at 32 connections, N members (default 2,000) in rotation, 100 each at most, from
#   a template of 1,000,000; then the template's issued count is checked against the coupons
#   claimed (the exact-quantity guarantee);
# - checkoutPreview of a 5-line cart for a 金卡 member with two 满减 activities, 11 coupons held
#   (the best picked) and 100 points;
# - placeOrder of the hot SKU with both activities and the best coupon (each order uses one;
#   `ok` counts orders placed with a coupon; `other` orders refused, e.g. COUPON_ALREADY_USED
#   when one buyer's two checkouts pick the same coupon at once).
# The exact-quantity check compares the claim template's issued count with its coupon rows in
# the database (wrk stops counting answers with requests still in flight).
# Usage: bench/promotions.sh [duration, default 10s] [members, default 2000]
# PostgreSQL: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_promotions (recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10s}"
N="${2:-2000}"
PORT=18087
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
export DISTMALL_ORDER_PAYMENT_TIMEOUT_SECS=86400

"$BIN" migrate
"$BIN" admin create --phone 13600000000 --password Bench1234 >/dev/null
"$GEN" members "$N" "$WORK/tokens" >/dev/null
"$BIN" serve & PID=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.01; done
URL="http://127.0.0.1:$PORT/graphql"
python3 bench/promotions_setup.py "$URL" 13600000000 Bench1234 "$WORK/tokens" "$WORK"
STAFF=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['staff'])" "$WORK/data.json")
staff_query() {
  curl -s "$URL" -H 'content-type: application/json' -H "authorization: Bearer $STAFF" -d "{\"query\":\"$1\"}"
  echo
}

echo "== claimCoupon, 32 connections, $N members in rotation"
wrk -t2 -c32 -d"$DURATION" -s bench/requests.lua "$URL" -- "$WORK/claims.lua" '"coupon":{"id"' | grep RESULT
staff_query '{ couponTemplates { name issuedCount totalQuantity } }' | python3 -c "import json,sys; t=[x for x in json.load(sys.stdin)['data']['couponTemplates'] if x['name']=='领券压测'][0]; print('issued_count=%d' % t['issuedCount'])"
if [[ "$DATABASE_URL" == postgres* ]]; then
  psql "$DATABASE_URL" -tAc "SELECT 'coupon_rows=' || COUNT(*) FROM coupons c JOIN coupon_templates t ON t.id = c.template_id WHERE t.name = '领券压测'"
else
  python3 -c "import sqlite3,sys; print('coupon_rows=%d' % sqlite3.connect(sys.argv[1]).execute(\"SELECT COUNT(*) FROM coupons c JOIN coupon_templates t ON t.id = c.template_id WHERE t.name = '领券压测'\").fetchone()[0])" "$WORK/bench.db"
fi
echo "== checkoutPreview, 5 lines, member price, 2 activities, 11 coupons held, points"
wrk -t2 -c32 -d"$DURATION" -s bench/requests.lua "$URL" -- "$WORK/previews.lua" '"payAmount"' | grep RESULT
echo "== placeOrder, hot SKU, 2 activities and the best coupon"
wrk -t2 -c32 -d"$DURATION" -s bench/requests.lua "$URL" -- "$WORK/orders.lua" '"couponDiscount":"[1-9]' | grep RESULT
echo "== { __typename } (same run)"
wrk -t2 -c32 -d"$DURATION" -s bench/graphql.lua "$URL" -- '{ __typename }' | grep RESULT
