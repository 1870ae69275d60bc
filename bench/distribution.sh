#!/usr/bin/env bash
# Distribution targets (issue 5), on this machine with the load generator on it
# (`examples/bench_distribution.rs` generates the data and times the services):
# - a settlement run over M CONFIRMED commissions (default 100,000) spread over 1,000
#   distributors, then a second run over the same period (it must do nothing: balances checked);
# - the payment transaction (`orders::payments::record_success`) of P orders with a three-tier
#   referral chain against P orders without (default 300 each, alternating);
# - the first page of `myTeam(depth: 3)` with per-level counts for a distributor with N
#   descendants (default 100,000), and the same page without the counts (what counting costs),
#   at 1, 8 and 32 connections, each beside `{ __typename }`.
# Settlement and payments run before the server starts (its settlement job would otherwise
# settle the period first).
# Usage: bench/distribution.sh [duration, default 10s] [descendants] [commissions] [orders]
# PostgreSQL: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_dist (recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10s}"
N="${2:-100000}"
COMMISSIONS="${3:-100000}"
ORDERS="${4:-300}"
PORT=18085
PHONE=13800000000
PASSWORD=Bench1234
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }

cargo build --release --quiet --bin distmall --example bench_distribution
BIN=target/release/distmall
GEN=target/release/examples/bench_distribution
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

echo "== generate: one distributor with $N descendants within depth 3"
"$GEN" team "$N" "$PHONE" "$PASSWORD"
echo "== settlement over $COMMISSIONS confirmed commissions, then again over the same period"
"$GEN" settle "$COMMISSIONS"
echo "== payment transaction: $ORDERS orders with a three-tier chain, $ORDERS without"
"$GEN" pay "$ORDERS"

"$BIN" serve & PID=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.01; done
URL="http://127.0.0.1:$PORT/graphql"
TOKEN=$(curl -s "$URL" -H 'content-type: application/json' \
  -d "{\"query\":\"mutation { login(input: {phone: \\\"$PHONE\\\", password: \\\"$PASSWORD\\\"}) { accessToken } }\"}" \
  | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
QUERY='{ myTeam(depth: 3, first: 20) { counts { level1 level2 level3 total } edges { depth sales node { id name level { name } } } } }'
curl -s "$URL" -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \
  -d "{\"query\":\"$QUERY\"}" | python3 -c '
import json, sys
r = json.load(sys.stdin)
if r.get("errors"):
    sys.exit("myTeam failed: %s" % r["errors"])
t = r["data"]["myTeam"]
print("check: counts=%s members_on_page=%d first=%s" % (t["counts"], len(t["edges"]), t["edges"][0]))
if t["counts"]["total"] != int(sys.argv[1]) or len(t["edges"]) != 20:
    sys.exit("unexpected team")
' "$N"

# What the counts cost: the same page without them (counted only when asked for).
PAGE_ONLY='{ myTeam(depth: 3, first: 20) { edges { depth sales node { id name level { name } } } } }'
for c in 1 8 32; do
  t=$(( c < 2 ? 1 : 2 ))
  echo "== myTeam(depth: 3, first: 20) with counts ($c connections, $DURATION)"
  wrk -t"$t" -c"$c" -d"$DURATION" -s bench/graphql.lua "$URL" -- "$QUERY" "$TOKEN" | grep -E 'RESULT|Non-2xx'
  echo "== the same page without counts ($c connections, $DURATION)"
  wrk -t"$t" -c"$c" -d"$DURATION" -s bench/graphql.lua "$URL" -- "$PAGE_ONLY" "$TOKEN" | grep -E 'RESULT|Non-2xx'
  echo "== { __typename } ($c connections, same run)"
  wrk -t"$t" -c"$c" -d"$DURATION" -s bench/graphql.lua "$URL" -- '{ __typename }' | grep -E 'RESULT|Non-2xx'
done
# The other depths (the default is 1): one index range per level, merged.
for d in 1 2; do
  echo "== myTeam(depth: $d, first: 20) with counts (8 connections, $DURATION)"
  wrk -t2 -c8 -d"$DURATION" -s bench/graphql.lua "$URL" -- "${QUERY/depth: 3/depth: $d}" "$TOKEN" | grep -E 'RESULT|Non-2xx'
done
echo "rss_after_load_kb=$(ps -o rss= -p "$PID" | tr -d ' ')"
