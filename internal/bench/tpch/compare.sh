#!/usr/bin/env bash
# Runs Shoal and DuckDB on the same TPC-H data, side by side, and prints each
# query's time ratio (Shoal / DuckDB).
#
#   bench/tpch/compare.sh DATADIR [ROUNDS] [QUERIES]
#
# DATADIR holds dbgen's <table>.tbl files (or <table>.parquet). Each round runs
# Shoal, then DuckDB (2 threads), each with 1 warm-up and 3 timed runs per query
# (median), alternating which engine goes first. The report takes, per query,
# the median over rounds. DuckDB comes from npm (@duckdb/node-api), installed
# on first use into $SHOAL_BENCH_CACHE (default ~/.cache/shoal-bench).
# Shoal runs through bench/tpch/shoalbench (the JSON of `shoal tpch run --json`).
# Environment: SHOAL_FLAGS adds flags (e.g. --stream, --memory 4GiB),
# DUCKDB_THREADS (default 2), ANSWERS (a directory of qN.out files to check),
# SHOAL_PATHS the ways Shoal builds the queries, run one after the other in
# each round: "api" (the hand-written plans, the default), "sql" (from the
# SQL text) or "api sql" (both, each compared with DuckDB).
set -euo pipefail

data=${1:?usage: compare.sh DATADIR [ROUNDS] [QUERIES]}
rounds=${2:-3}
queries=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
shared=${SHOAL_SHARED:-$repo/../shared}
cache=${SHOAL_BENCH_CACHE:-$HOME/.cache/shoal-bench}
threads=${DUCKDB_THREADS:-2}

if [ ! -d "$cache/node_modules/@duckdb/node-api" ]; then
  echo "installing @duckdb/node-api into $cache" >&2
  mkdir -p "$cache"
  (cd "$cache" && npm install --silent @duckdb/node-api@1.5.6-r.1 >&2)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The DuckDB driver reads schema.sql beside itself.
cp "$shared/bench/duckdb/duckdb_baseline.mjs" "$work/"
cp "$shared/tpch/schema.sql" "$work/"
(cd "$repo" && go build -o "$work/shoal" ./internal/bench/tpch/shoalbench)

shoal_args=(--data "$data" --runs 3 --warmup 1)
duck_args=("$data" --queries "$shared/tpch/queries" --threads "$threads" --runs 3 --warmup 1)
if [ -n "$queries" ]; then
  shoal_args+=(--queries "$queries")
  duck_args+=(--only "$queries")
fi
if [ -n "${ANSWERS:-}" ]; then
  shoal_args+=(--answers "$ANSWERS")
  duck_args+=(--answers "$ANSWERS")
fi
# shellcheck disable=SC2206
shoal_args+=(${SHOAL_FLAGS:-})

paths=${SHOAL_PATHS:-api}
run_shoal() {
  for p in $paths; do
    echo "round $1: shoal ($p)" >&2
    extra=()
    if [ "$p" = sql ]; then extra=(--sql); fi
    "$work/shoal" "${shoal_args[@]}" "${extra[@]}" > "$work/shoal-$p-$1.json"
  done
}
run_duck() {
  echo "round $1: duckdb" >&2
  DUCKDB_NODE_DIR="$cache" node "$work/duckdb_baseline.mjs" "${duck_args[@]}" --json "$work/duck-$1.json" > "$work/duck-$1.log"
  grep -E '^load:' "$work/duck-$1.log" >&2 || true
}
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then run_shoal "$r"; run_duck "$r"; else run_duck "$r"; run_shoal "$r"; fi
done
node "$here/compare.mjs" "$work" "$rounds" $paths
