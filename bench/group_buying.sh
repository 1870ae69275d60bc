#!/usr/bin/env bash
# Group buying and sharing targets (issue 20), on this machine, with the server and the load
# generator in one process (`examples/bench_group_buying.rs`):
# - joining: BUYERS buyers (default 1,000), CONNECTIONS at a time (200), on GROUPS groups
#   (200) of SIZE (5), each buyer picking a random group and following the suggestion when it
#   filled first; then every group must have succeeded with exactly SIZE paid members;
# - posters: N distinct posters (1,000) drawn and stored, then served again: latencies and RSS;
# - subscribers: SUBS WebSocket subscriptions (5,000) to one group's changes; how long until
#   the last one has a join.
# Usage: bench/group_buying.sh [buyers] [groups] [size] [connections] [posters] [subscribers]
# PostgreSQL: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_groups (recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
BUYERS="${1:-1000}"
GROUPS="${2:-200}"
SIZE="${3:-5}"
CONNECTIONS="${4:-200}"
POSTERS="${5:-1000}"
SUBS="${6:-5000}"

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --example bench_group_buying
GEN=target/release/examples/bench_group_buying
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Client and server sockets of every subscriber live in this one process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
export DISTMALL_LISTEN="127.0.0.1:0"
export DISTMALL_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export DISTMALL_LOG_FILTER=warn

fresh() {
  export DATABASE_URL="${BENCH_DATABASE_URL:-sqlite://$WORK/$1.db?mode=rwc}"
  export DISTMALL_DATA_DIR="$WORK/data-$1"
  if [[ "$DATABASE_URL" == postgres* ]]; then
    DB_NAME="${DATABASE_URL##*/}"
    psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME"
  fi
}

echo "== joining: $BUYERS buyers on $GROUPS groups of $SIZE, $CONNECTIONS at a time"
fresh joins
"$GEN" joins "$BUYERS" "$GROUPS" "$SIZE" "$CONNECTIONS"
echo "== posters: $POSTERS distinct"
fresh posters
"$GEN" posters "$POSTERS"
echo "== subscribers: $SUBS on one group"
fresh subscribers
"$GEN" subscribers "$SUBS"
