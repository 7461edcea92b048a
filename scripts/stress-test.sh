#!/usr/bin/env bash
# stress-test.sh: does the suite hold on a loaded machine?
#
# Clones this repository's committed HEAD (or $REV) fresh into a temporary
# directory, starts `stress-ng --cpu 2` (Debian's stress-ng) beside it, runs
# `make test` N times in a row (default 5), and reports each run's result
# and duration. Exits non-zero if any run failed. The logs stay in the
# temporary directory it prints.
#
#   scripts/stress-test.sh [N]
#   REV=<commit> CPU_HOGS=2 scripts/stress-test.sh 5
set -uo pipefail

runs=${1:-5}
rev=${REV:-HEAD}
hogs=${CPU_HOGS:-2}

command -v stress-ng >/dev/null || { echo "stress-ng is missing: apt-get install -y stress-ng" >&2; exit 2; }
repo=$(git rev-parse --show-toplevel) || exit 2
commit=$(git -C "$repo" rev-parse "$rev") || exit 2
work=$(mktemp -d -t bmc-agent-stress-XXXXXX)
git clone -q "$repo" "$work/src" && git -C "$work/src" checkout -q "$commit" || exit 2

stress-ng --cpu "$hogs" --timeout 6h --quiet &
hog=$!
trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null' EXIT

echo "stress-test: $runs x make test of $commit in $work/src, beside stress-ng --cpu $hogs (pid $hog)"
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
for i in $(seq 1 "$runs"); do
	log="$work/run-$i.log"
	start=$(date +%s)
	if (cd "$work/src" && make test) >"$log" 2>&1; then
		result=PASS
	else
		result=FAIL
		failed=$((failed + 1))
	fi
	took=$(($(date +%s) - start))
	echo "run $i: $result in ${took}s (load $(cut -d' ' -f1-3 /proc/loadavg)), log $log"
	if [ "$result" = FAIL ]; then
		grep -E -- '^(--- FAIL|FAIL|panic:)|_test\.go:[0-9]+:' "$log" | head -20 | sed 's/^/    /'
	fi
done
echo "stress-test: $((runs - failed)) of $runs runs passed"
[ "$failed" -eq 0 ]
