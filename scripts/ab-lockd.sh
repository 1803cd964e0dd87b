#!/usr/bin/env bash
# A/B comparison of two berth-lockd binaries on this machine (not in CI):
# for each round, a fresh 3-replica cluster of A, then of B, on 127.0.0.1,
# each measured with the same `berth bench` workload, alternating so that
# drift in the machine's state (page cache, other load) hits both alike.
#
#   scripts/ab-lockd.sh OLD_LOCKD NEW_LOCKD
#
# Environment (defaults in brackets):
#   BUILD_DIR [build]     where the berth CLI is
#   ROUNDS [4]            pairs of runs
#   CLIENTS [1]           bench clients
#   WORKLOAD [put]        any `berth bench` workload (put, lock, get, ...)
#   DURATION [6s] WARMUP [1s]
#   BASE_PORT [27401]     replicas listen on BASE_PORT..BASE_PORT+2
#   NICE [-10]            niceness of the replicas and the bench
# Prints one line per run: round, side, and the bench's result line.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -ne 2 ]]; then
  echo "usage: $0 OLD_LOCKD NEW_LOCKD" >&2
  exit 2
fi
OLD=$(realpath "$1")
NEW=$(realpath "$2")
BERTH=${BUILD_DIR:-build}/cli/berth
ROUNDS=${ROUNDS:-4}
CLIENTS=${CLIENTS:-1}
WORKLOAD=${WORKLOAD:-put}
DURATION=${DURATION:-6s}
WARMUP=${WARMUP:-1s}
PORT=${BASE_PORT:-27401}
NICE=${NICE:--10}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ab-lockd.XXXXXX")
PIDS=()
stop() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop; rm -rf "$WORK"' EXIT
PEERS="1=127.0.0.1:$PORT,2=127.0.0.1:$((PORT + 1)),3=127.0.0.1:$((PORT + 2))"
export BERTH_LOCK_ENDPOINTS="127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))"

run() {  # run ROUND SIDE BINARY
  local dir="$WORK/$2"
  rm -rf "$dir"
  for i in 1 2 3; do
    mkdir -p "$dir/r$i"
    nice -n "$NICE" "$3" --id "$i" --listen "127.0.0.1:$((PORT + i - 1))" \
      --peers "$PEERS" --data-dir "$dir/r$i" --insecure >"$dir/r$i.log" 2>&1 &
    PIDS+=($!)
  done
  local deadline=$((SECONDS + 30)) leader=0
  while ((SECONDS < deadline)); do
    # Under pipefail a probe that fails (replicas not listening yet) would
    # end the whole script through set -e, silently dropping runs.
    leader=$("$BERTH" cluster status --output json --timeout 2s 2>/dev/null |
      sed -En 's/.*"leader_id": *"?([0-9]+).*/\1/p' | head -1) || leader=0
    [[ -n "$leader" && "$leader" != 0 ]] && break
    sleep 0.2
  done
  if [[ -z "$leader" || "$leader" == 0 ]]; then
    echo "$1 $2 no leader within 30 s (logs in $dir)" >&2
    stop
    return 1
  fi
  local line
  line=$(nice -n "$NICE" "$BERTH" bench "$WORKLOAD" --clients "$CLIENTS" \
    --duration "$DURATION" --warmup "$WARMUP" 2>&1 | tail -1)
  echo "$1 $2 $line"
  stop
}

for r in $(seq 1 "$ROUNDS"); do
  run "$r" old "$OLD"
  run "$r" new "$NEW"
done
