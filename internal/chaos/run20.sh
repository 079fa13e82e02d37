#!/usr/bin/env bash
# run20.sh runs `shoal chaos` 20 times (seeds SEED0+1 .. SEED0+20) for one
# workload and mode, with the acceptance settings (4 nodes, a fault every
# 10 s, at most 2), and counts the runs that passed: every result verified,
# free resources back to the baseline within 10 s of the last result, no node
# process dead unless hit (the exit status of `shoal chaos`).
#
#   chaos/run20.sh WORKLOAD [MODE] [more shoal chaos flags]
#   RUNS=5 SEED0=100 OUT=/tmp/r chaos/run20.sh actors partition
#
# Each run's JSON is OUT/run-SEED.json and its events OUT/run-SEED.log; a
# failed run keeps its cluster's logs (log_dir in its JSON).
set -u
workload=${1:?usage: run20.sh WORKLOAD [MODE] [flags...]}
mode=${2:-process}
shift
[ $# -gt 0 ] && shift
runs=${RUNS:-20}
seed0=${SEED0:-0}
out=${OUT:-/tmp/shoal-chaos-run20-$workload-$mode-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$out/shoal
(cd "$root" && go build -o "$bin" ./cmd/shoal) || exit 2

field() { grep -o "\"$1\":[^,}]*" "$2" | head -1 | cut -d: -f2- | tr -d '"'; }

pass=0
failed=()
printf '%-6s %-4s %-7s %-6s %-9s %-8s %-9s %-8s %s\n' seed ok correct killed restored restore duration rss_mb leftover_clean
for i in $(seq 1 "$runs"); do
	seed=$((seed0 + i))
	json=$out/run-$seed.json
	"$bin" chaos --workload "$workload" --mode "$mode" --nodes 4 --kill-interval 10s --max-kills 2 \
		--seed "$seed" --json "$@" >"$json" 2>"$out/run-$seed.log"
	rc=$?
	ok=no
	if [ $rc -eq 0 ]; then
		ok=yes
		pass=$((pass + 1))
	else
		failed+=("$seed")
	fi
	printf '%-6s %-4s %-7s %-6s %-9s %-8.8s %-9.9s %-8.8s %s\n' "$seed" "$ok" "$(field correct "$json")" "$(field nodes_killed "$json")" \
		"$(field resources_restored "$json")" "$(field restore_s "$json")" "$(field duration_s "$json")" \
		"$(field head_peak_rss_mb "$json")" "$(field clean "$json")"
done
echo "$workload/$mode: $pass of $runs runs passed${failed:+; failed seeds: ${failed[*]}} (results in $out)"
[ "$pass" -eq "$runs" ]
