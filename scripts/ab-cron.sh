#!/usr/bin/env bash
# A/B comparison of `berth bench cron` between two berth CLI builds (not in
# CI): each round runs every variant once, alternating, so that drift in
# the machine's state hits all of them alike. With HEAPS=1 each binary also
# runs on the other kind of heap (4 KiB pages / transparent huge pages, see
# common/huge_pages.h), which separates the code's effect from the heap's.
#
#   scripts/ab-cron.sh OLD_BERTH NEW_BERTH
#
# Environment (defaults in brackets):
#   ROUNDS [3]      rounds
#   JOBS [100000]   cron jobs
#   HEAPS [0]       1: four variants (old/new x small/huge pages)
# Prints one line per run: round, variant, time, lag p50/p99/max, CPU while
# firing, first claim of a burst (p50) and claims committed as planned.
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 OLD_BERTH NEW_BERTH" >&2
  exit 2
fi
old=$1 new=$2
for b in "$old" "$new"; do
  [[ -x $b ]] || { echo "$0: $b is not an executable" >&2; exit 2; }
done
ROUNDS=${ROUNDS:-3} JOBS=${JOBS:-100000} HEAPS=${HEAPS:-0}

variants=(old new)
[[ $HEAPS == 1 ]] && variants=(old-small old-huge new-small new-huge)

run() {  # variant -> the bench's JSON
  local bin=$old env=()
  case $1 in
    new*) bin=$new ;;
  esac
  case $1 in
    *-small) env=(BERTH_HUGE_PAGES=0) ;;
    *-huge) env=(GLIBC_TUNABLES=glibc.malloc.hugetlb=1) ;;
  esac
  env "${env[@]}" "$bin" bench cron --jobs "$JOBS" --output json
}

for ((r = 1; r <= ROUNDS; r++)); do
  for v in "${variants[@]}"; do
    started=$(date +%T)
    run "$v" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%s %s %s p50 %.1f p99 %.1f max %.1f ms; cpu %.1f%%; first claim p50 %.1f ms; planned %d" % (
    sys.argv[1], sys.argv[2], sys.argv[3], d["lag_p50_ms"], d["lag_p99_ms"],
    d["lag_max_ms"], 100 * d["busy_cpu_core_fraction"],
    d["burst_first_claim_p50_ms"], d.get("prepared_used", 0)))' "$r" "$v" "$started"
  done
done
