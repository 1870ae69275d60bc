#!/usr/bin/env bash
# Catalogue targets (issue 3) on a generated catalogue (default 10,000 products, 12 SKUs each):
# full reindex time; then, each beside `{ __typename }` in the same run at 32 connections:
# keyword search (20 hits, price range, first image), product detail with all SKUs, category
# listing of 20 products with their SKUs; server RSS after the load.
# With MEMBER=1, product detail and the listing run a second time for a signed-in 金卡 member
# asking for `memberPrice` (per-level cached responses), beside the public runs.
# With BADGES=1, two promotion activities run (bench/badges_setup.py) and product detail and the
# listing run a second time asking for `Product.promotions` as well, beside the public runs.
# Usage: bench/catalog.sh [products, default 10000] [duration, default 15s]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
DURATION="${2:-15s}"
PORT=18081
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }

# SKIP_BUILD=1 measures what target/release holds (or BIN=path) without building.
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin distmall --example bench_catalog
BIN="${BIN:-target/release/distmall}"
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
export DATABASE_URL="${BENCH_DATABASE_URL:-sqlite://$WORK/bench.db?mode=rwc}"
export DISTMALL_DATA_DIR="$WORK/data"
export DISTMALL_LISTEN="127.0.0.1:$PORT"
export DISTMALL_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export DISTMALL_LOG_FILTER=warn

t0=$(date +%s%N)
target/release/examples/bench_catalog "$N"
echo "generate_ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
"$BIN" reindex
[ -z "${MEMBER:-}${BADGES:-}" ] || "$BIN" admin create --phone 13700000000 --password Bench1234 >/dev/null

"$BIN" serve & PID=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.01; done
URL="http://127.0.0.1:$PORT/graphql"
check() { curl -s "$URL" -H 'content-type: application/json' -d "$1"; echo; }
check '{"query":"{ products(filter: { keyword: \"运动鞋\", priceMin: \"50\", priceMax: \"800\" }, first: 2) { totalCount edges { node { name coverImage { url } } } } }"}' | head -c 400; echo
echo "rss_before_warmup_kb=$(ps -o rss= -p "$PID" | tr -d ' ')"
python3 bench/warm_catalogue.py "$URL"
echo "rss_after_warmup_kb=$(ps -o rss= -p "$PID" | tr -d ' ')"
[ -z "${BADGES:-}" ] || python3 bench/badges_setup.py "$URL" 13700000000 Bench1234
MEMBER_TOKEN=
[ -z "${MEMBER:-}" ] || MEMBER_TOKEN=$(python3 bench/member_setup.py "$URL" 13700000000 Bench1234)

run() {
  echo "== $1 (32 connections, $DURATION)"
  wrk -t2 -c32 -d"$DURATION" -s bench/catalog.lua "$URL" -- "$1" "$N" | grep -E 'RESULT|Non-2xx'
  if [ -n "${MEMBER_TOKEN:-}" ] && [ "$1" != search ]; then
    echo "== $1 with member prices, a 金卡 member (32 connections, $DURATION)"
    wrk -t2 -c32 -d"$DURATION" -s bench/catalog.lua "$URL" -- "$1" "$N" "$MEMBER_TOKEN" member | grep -E 'RESULT|Non-2xx'
  fi
  if [ -n "${BADGES:-}" ] && [ "$1" != search ]; then
    echo "== $1 with promotion badges (32 connections, $DURATION)"
    wrk -t2 -c32 -d"$DURATION" -s bench/catalog.lua "$URL" -- "$1" "$N" "" badges | grep -E 'RESULT|Non-2xx'
  fi
  echo "== { __typename } (same run)"
  wrk -t2 -c32 -d"$DURATION" -s bench/graphql.lua "$URL" -- '{ __typename }' | grep -E 'RESULT|Non-2xx'
}
run search
run detail
run listing
echo "rss_after_load_kb=$(ps -o rss= -p "$PID" | tr -d ' ')"
# Anonymous memory is the server's own; file-backed pages (the binary, the mapped index) are
# shared with the page cache and given back under pressure.
grep -E '^(RssAnon|RssFile)' "/proc/$PID/status" | tr -s ' \t' ' '

