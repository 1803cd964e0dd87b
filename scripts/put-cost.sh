#!/usr/bin/env bash
# What one put costs each replica: CPU microseconds, bytes and syscalls
# written and read, bytes sent to the disk. Starts a 3-member cluster of
# berth-lockd or etcd on 127.0.0.1 (fresh data dirs, default flags), drives
# it with `berth bench put` (256 B values, 1,000 keys), reads
# /proc/PID/{stat,io} of every member over a window in the middle of the
# run, divides by the puts acknowledged in that window, and stops
# everything it started. Not in CI: it measures, it does not check.
#
#   scripts/put-cost.sh [berth|etcd ...]     default: berth etcd
#
# Environment (defaults in brackets):
#   BUILD_DIR [build]  LOCKD_BIN / BERTH_BIN (binaries, default from BUILD_DIR)
#   CLIENTS [64]       closed-loop put clients
#   WINDOW [5]         seconds measured, after 3 s of load
#   PORT [27300]       first of the 3 client ports (etcd peers use PORT+10..)
#
# Columns: cpu_us = user+system CPU per put; wchar / rchar = bytes through
# write()/pwrite() and read()/pread() per put (WAL frames, checkpoints, log);
# syscw / syscr = those calls per put; disk_w = bytes the member sent to the
# block layer per put (/proc/PID/io write_bytes).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
BERTH=${BERTH_BIN:-$ROOT/$BUILD_DIR/cli/berth}
LOCKD=${LOCKD_BIN:-$ROOT/$BUILD_DIR/lockservice/lockd/berth-lockd}
CLIENTS=${CLIENTS:-64}
WINDOW=${WINDOW:-5}
PORT=${PORT:-27300}
SYSTEMS=("$@")
((${#SYSTEMS[@]})) || SYSTEMS=(berth etcd)

log() { echo "put-cost.sh: $*" >&2; }
[[ -x "$BERTH" ]] || { log "$BERTH is missing; run scripts/build.sh --target berth berth-lockd"; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/put-cost.XXXXXX")
PIDS=()
BENCH_PID=""
stop_all() {
  local p
  for p in $BENCH_PID "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in $BENCH_PID "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  BENCH_PID=""
}
trap 'stop_all; rm -rf "$WORK"' EXIT

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $PORT $((PORT + 1)) $((PORT + 2)) $((PORT + 10)) $((PORT + 11)) $((PORT + 12)); do
  if port_in_use "$p"; then log "port $p is in use; set PORT"; exit 2; fi
done
ENDPOINTS="127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))"

start_berth() {
  local peers="1=127.0.0.1:$PORT,2=127.0.0.1:$((PORT + 1)),3=127.0.0.1:$((PORT + 2))" i
  for i in 1 2 3; do
    mkdir -p "$WORK/berth/r$i"
    "$LOCKD" --id "$i" --listen "127.0.0.1:$((PORT + i - 1))" --peers "$peers" \
      --data-dir "$WORK/berth/r$i" --insecure --metrics-listen off \
      >>"$WORK/berth-r$i.log" 2>&1 &
    PIDS+=($!)
  done
}

start_etcd() {
  command -v etcd >/dev/null || { log "etcd is missing; run scripts/setup.sh"; exit 2; }
  local cluster="" i j
  for j in 1 2 3; do cluster+="${cluster:+,}e$j=http://127.0.0.1:$((PORT + 10 + j - 1))"; done
  for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$WORK/etcd/e$i" \
      --listen-client-urls "http://127.0.0.1:$((PORT + i - 1))" \
      --advertise-client-urls "http://127.0.0.1:$((PORT + i - 1))" \
      --listen-peer-urls "http://127.0.0.1:$((PORT + 10 + i - 1))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((PORT + 10 + i - 1))" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --initial-cluster-token put-cost --logger zap --log-level warn \
      >>"$WORK/etcd-e$i.log" 2>&1 &
    PIDS+=($!)
  done
}

# One put through the same driver the measurement uses proves the cluster
# has a leader and accepts writes.
wait_ready() {
  local sys=$1 deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    if "$BERTH" bench put --target "$sys" --endpoints "$ENDPOINTS" --clients 1 \
      --duration 200ms --warmup 0 --key-prefix /put-cost/ready/ >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  log "$sys never accepted a write; logs in $WORK"
  return 1
}

# pid, then /proc/PID/io's seven counters, then utime+stime in ticks.
sample() {
  local p
  for p in "${PIDS[@]}"; do
    echo "$p $(awk '{print $2}' "/proc/$p/io" | tr '\n' ' ') $(awk '{print $14 + $15}' "/proc/$p/stat")"
  done
}

TICK=$(getconf CLK_TCK)
printf '| system | member | puts/s | cpu_us | wchar | syscw | rchar | syscr | disk_w |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
for sys in "${SYSTEMS[@]}"; do
  case "$sys" in
    berth) start_berth ;;
    etcd) start_etcd ;;
    *) log "unknown system $sys (berth or etcd)"; exit 2 ;;
  esac
  wait_ready "$sys"
  total=$((WINDOW + 6))
  "$BERTH" bench put --target "$sys" --endpoints "$ENDPOINTS" \
    --clients "$CLIENTS" --duration "${total}s" --warmup 0 \
    --key-prefix /put-cost/ --output json >"$WORK/$sys.json" 2>"$WORK/$sys.err" &
  BENCH_PID=$!
  sleep 3
  before=$(sample)
  ops0=$(date +%s.%N)
  sleep "$WINDOW"
  after=$(sample)
  ops1=$(date +%s.%N)
  wait "$BENCH_PID" || { log "bench failed: $(cat "$WORK/$sys.err")"; exit 1; }
  BENCH_PID=""
  rate=$(jq -r '.ops_per_sec' "$WORK/$sys.json")
  # The driver's rate over its whole run stands for the window's rate: a
  # closed loop at a steady state, and the window sits in its middle.
  paste <(echo "$before") <(echo "$after") | awk -v sys="$sys" -v rate="$rate" \
    -v secs="$(awk -v a="$ops0" -v b="$ops1" 'BEGIN {print b - a}')" -v tick="$TICK" '{
      n = rate * secs
      printf "| %s | pid %s | %.0f | %.0f | %.0f | %.1f | %.0f | %.1f | %.0f |\n", sys, $1, rate,
        ($18 - $9) * 1e6 / tick / n, ($12 - $3) / n, ($14 - $5) / n,
        ($11 - $2) / n, ($13 - $4) / n, ($16 - $7) / n
    }'
  stop_all
done
