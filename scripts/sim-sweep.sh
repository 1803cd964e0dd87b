#!/usr/bin/env bash
# Runs a large seed sweep of the deterministic Raft simulation, split into
# two processes over disjoint seed ranges (the CI machines have two cores).
#
#   scripts/sim-sweep.sh SEEDS [NODES] [START]
#
# Env: BUILD_DIR (default build), SIM_STEPS (default 1500), SIM_BIN (path to
# berth-raft-sim, overrides BUILD_DIR). Prints the total seeds and violations
# and exits non-zero if any seed found a violation (its replay command is in
# the output).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 SEEDS [NODES=3] [START=1]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 3 ]] || usage
seeds=$1
nodes=${2:-3}
start=${3:-1}
[[ $seeds =~ ^[0-9]+$ && $seeds -gt 0 ]] || { echo "SEEDS must be a positive integer, got '$seeds'" >&2; exit 2; }
[[ $nodes == 3 || $nodes == 5 ]] || { echo "NODES must be 3 or 5, got '$nodes'" >&2; exit 2; }
[[ $start =~ ^[0-9]+$ && $start -gt 0 ]] || { echo "START must be a positive integer, got '$start'" >&2; exit 2; }
bin=${SIM_BIN:-${BUILD_DIR:-build}/tests/sim/berth-raft-sim}
[[ -x $bin ]] || { echo "no simulator binary at $bin (build target berth-raft-sim)" >&2; exit 2; }
steps=${SIM_STEPS:-1500}
# Joiners learn the bootstrap membership from the core itself now (sim
# finding #1 is fixed), so sweeps run without the simulator's workaround.
extra=(--no-joiner-workaround --keep-going)

first_half=$(( (seeds + 1) / 2 ))
second_half=$(( seeds - first_half ))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

began=$SECONDS
"$bin" --seeds "$first_half" --start "$start" --nodes "$nodes" --steps "$steps" \
  "${extra[@]}" >"$tmp/a.out" 2>&1 &
pid_a=$!
pid_b=
if (( second_half > 0 )); then
  "$bin" --seeds "$second_half" --start $(( start + first_half )) \
    --nodes "$nodes" --steps "$steps" "${extra[@]}" >"$tmp/b.out" 2>&1 &
  pid_b=$!
fi
rc=0
wait "$pid_a" || rc=1
if [[ -n $pid_b ]]; then wait "$pid_b" || rc=1; fi

total=0
violations=0
for f in "$tmp"/*.out; do
  grep -E '^(VIOLATION|replay:)' "$f" || true
  violations=$(( violations + $(grep -c '^VIOLATION' "$f" || true) ))
  line=$(grep -E '^sim: ' "$f" | tail -1 || true)
  if [[ -z $line ]]; then
    # The process died inside a run (its seed is in the VIOLATION line).
    echo "a simulator process printed no summary; last lines:" >&2
    tail -5 "$f" >&2
    rc=1
    continue
  fi
  total=$(( total + $(awk '{print $2}' <<<"$line") ))
done
echo "sim-sweep: $total seeds ($nodes nodes, $steps steps, seeds $start..$(( start + seeds - 1 ))), $violations violations, $(( SECONDS - began ))s wall"
if (( violations > 0 || rc != 0 )); then exit 1; fi
