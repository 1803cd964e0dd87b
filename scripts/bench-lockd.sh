#!/usr/bin/env bash
# Benchmarks berth-lockd on this machine: a 3-replica cluster on 127.0.0.1
# (fsync on, the default), put/get/lock/watch at several client counts, then
# the failover gap (kill -9 the leader, time to the first acknowledged
# write). Prints a Markdown report; --write-docs also puts it into
# docs/benchmarks.md between the bench-lockd markers.
#
#   scripts/bench-lockd.sh [--write-docs]
#
# Environment (defaults in brackets):
#   BUILD_DIR [build]        where berth and berth-lockd are (built if absent)
#   DURATION [10s]           measurement window of each run
#   WARMUP [1s]              unmeasured lead-in of each run
#   CLIENTS ["1 16 64"]      client counts
#   WORKLOADS ["put get lock watch"]
#   WATCHERS [1000]          watchers of the watch workload
#   FAILOVER_ROUNDS [10]     kill -9 rounds (0 skips failover)
#   BASE_PORT [17401]        replicas listen on BASE_PORT..BASE_PORT+2
#   BENCH_TMP [${TMPDIR:-/tmp}]  parent of the data dirs (one filesystem)
#   TICK_MS [50] ELECTION_TICKS [20]   passed to berth-lockd
#   DIAL_TIMEOUT [100ms]     failover client's wait on the dead leader
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

WRITE_DOCS=0
for arg in "$@"; do
  case "$arg" in
    --write-docs) WRITE_DOCS=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-lockd.sh: unknown argument \"$arg\" (try --help)" >&2; exit 2 ;;
  esac
done

BUILD_DIR=${BUILD_DIR:-build}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
CLIENTS=${CLIENTS:-"1 16 64"}
WORKLOADS=${WORKLOADS:-"put get lock watch"}
WATCHERS=${WATCHERS:-1000}
FAILOVER_ROUNDS=${FAILOVER_ROUNDS:-10}
BASE_PORT=${BASE_PORT:-17401}
TICK_MS=${TICK_MS:-50}
ELECTION_TICKS=${ELECTION_TICKS:-20}
DIAL_TIMEOUT=${DIAL_TIMEOUT:-100ms}

BERTH=$ROOT/$BUILD_DIR/cli/berth
LOCKD=$ROOT/$BUILD_DIR/lockservice/lockd/berth-lockd
if [[ ! -x "$BERTH" || ! -x "$LOCKD" ]]; then
  echo "bench-lockd.sh: building berth and berth-lockd in $BUILD_DIR" >&2
  BUILD_DIR=$BUILD_DIR scripts/build.sh --target berth berth-lockd >&2
fi

WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/berth-bench.XXXXXX")
declare -A PIDS=()
PEERS=""
ENDPOINTS=""
for i in 1 2 3; do
  port=$((BASE_PORT + i - 1))
  PEERS+="${PEERS:+,}$i=127.0.0.1:$port"
  ENDPOINTS+="${ENDPOINTS:+,}127.0.0.1:$port"
done
export BERTH_LOCK_ENDPOINTS=$ENDPOINTS

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "bench-lockd.sh: $*" >&2; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_replica() {
  local i=$1
  mkdir -p "$WORK/r$i"
  "$LOCKD" --id "$i" --listen "127.0.0.1:$((BASE_PORT + i - 1))" \
    --peers "$PEERS" --data-dir "$WORK/r$i" --tick-ms "$TICK_MS" \
    --election-ticks "$ELECTION_TICKS" --insecure >>"$WORK/r$i.log" 2>&1 &
  PIDS[$i]=$!
}

# Prints the leader id once the cluster has one and accepts a write;
# fails after 60s.
wait_leader() {
  local deadline=$((SECONDS + 60)) leader
  while ((SECONDS < deadline)); do
    leader=$("$BERTH" cluster status --output json --timeout 2s 2>/dev/null |
      jq -r '.leader_id' 2>/dev/null || true)
    if [[ -n "$leader" && "$leader" != "0" && "$leader" != "null" ]] &&
      "$BERTH" kv put /bench/ready yes --timeout 5s >/dev/null 2>&1; then
      echo "$leader"
      return 0
    fi
    sleep 0.1
  done
  log "no leader after 60s; replica logs are in $WORK"
  tail -n 5 "$WORK"/r*.log >&2
  return 1
}

wait_port() {
  local deadline=$((SECONDS + 30))
  until port_in_use "$1"; do
    ((SECONDS < deadline)) || { log "port $1 never opened"; return 1; }
    sleep 0.05
  done
}

for i in 1 2 3; do
  if port_in_use $((BASE_PORT + i - 1)); then
    log "port $((BASE_PORT + i - 1)) is already in use; set BASE_PORT"
    exit 1
  fi
done

# --- Machine ---------------------------------------------------------------
CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
MEM_GIB=$(awk '/^MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
FSTYPE=$(df -PT "$WORK" | awk 'NR == 2 {print $2}')
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
log "measuring fdatasync latency in $WORK ($FSTYPE)"
DD_SECONDS=$(dd if=/dev/zero of="$WORK/dsync.test" bs=4k count=1000 \
  oflag=dsync 2>&1 | awk '/copied/ {for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) print $(i-1)}')
rm -f "$WORK/dsync.test"
FSYNC_MS=$(awk -v s="$DD_SECONDS" 'BEGIN {printf "%.3f", s * 1000 / 1000}')

# --- Cluster -----------------------------------------------------------------
for i in 1 2 3; do start_replica "$i"; done
LEADER=$(wait_leader)
log "cluster up, leader is replica $LEADER"

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
for wl in $WORKLOADS; do
  for c in $CLIENTS; do
    args=(bench "$wl" --clients "$c" --duration "$DURATION" --warmup "$WARMUP"
      --output json --key-prefix "/bench/$wl-$c/")
    [[ "$wl" == watch ]] && args+=(--watchers "$WATCHERS")
    log "berth ${args[*]}"
    if ! "$BERTH" "${args[@]}" >>"$RESULTS" 2>"$WORK/bench.err"; then
      log "run failed: $(cat "$WORK/bench.err")"
      echo "{\"workload\":\"$wl\",\"clients\":$c,\"failed\":true}" >>"$RESULTS"
    fi
  done
done

# --- Failover ------------------------------------------------------------------
GAPS=()
for ((round = 1; round <= FAILOVER_ROUNDS; round++)); do
  LEADER=$(wait_leader)
  victim=${PIDS[$LEADER]}
  out=$("$BERTH" bench failover --kill-pid "$victim" \
    --dial-timeout "$DIAL_TIMEOUT" --output json) || {
    log "failover round $round failed"
    continue
  }
  wait "$victim" 2>/dev/null || true
  gap=$(jq -r '.gap_ms' <<<"$out")
  GAPS+=("$gap")
  log "failover round $round: killed replica $LEADER (pid $victim), first write after ${gap}ms"
  start_replica "$LEADER"
  wait_port $((BASE_PORT + LEADER - 1))
done
if ((${#GAPS[@]} > 0)); then
  read -r GAP_MEDIAN GAP_MIN GAP_MAX < <(printf '%s\n' "${GAPS[@]}" | sort -g |
    awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
         printf "%.1f %.1f %.1f\n", m, v[1], v[NR]}')
fi

# --- Report --------------------------------------------------------------------
REPORT=$WORK/report.md
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "(working tree may differ), \`DURATION=$DURATION WARMUP=$WARMUP CLIENTS=\"$CLIENTS\" WATCHERS=$WATCHERS scripts/bench-lockd.sh\`"
  echo
  echo "Machine: $(nproc) CPUs ($CPU_MODEL), ${MEM_GIB} GiB RAM, kernel $(uname -r)," \
    "load average at start $LOAD. Data dirs on $FSTYPE;" \
    "4 KiB O_DSYNC write (≈ fdatasync): ${FSYNC_MS} ms."
  echo
  echo "| workload | clients | ops/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | notes |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  jq -r 'if .failed then "| \(.workload) | \(.clients) | failed | | | | | | |" else
    "| \(.workload)\(if .serializable then " (serializable)" else "" end) | \(.clients) | \(.ops_per_sec) | \(.latency_ms.p50) | \(.latency_ms.p99) | \(.latency_ms.p999) | \(.latency_ms.max) | \(.errors) | \(
      if .workload == "watch" then "\(.watchers) watchers, \(.events_per_sec) events/s; put→event"
      elif .workload == "lock" then "one lock; Lock call→grant"
      elif .workload == "get" then "linearizable (ReadIndex)"
      else "256 B values, 1000 keys" end) |" end' "$RESULTS"
  echo
  if ((${#GAPS[@]} > 0)); then
    echo "Failover (kill -9 the leader → first acknowledged put, tick ${TICK_MS} ms," \
      "election after ${ELECTION_TICKS}–$((2 * ELECTION_TICKS)) ticks," \
      "client dial timeout ${DIAL_TIMEOUT}), ${#GAPS[@]} rounds:" \
      "median **${GAP_MEDIAN} ms** (min ${GAP_MIN}, max ${GAP_MAX}); all: ${GAPS[*]} ms."
  else
    echo "Failover: not measured (FAILOVER_ROUNDS=0 or every round failed)."
  fi
} >"$REPORT"
cat "$REPORT"

if ((WRITE_DOCS)); then
  DOC=docs/benchmarks.md
  if ! grep -q '<!-- BEGIN bench-lockd -->' "$DOC" 2>/dev/null; then
    log "$DOC has no <!-- BEGIN bench-lockd --> marker; not written"
    exit 1
  fi
  awk -v report="$REPORT" '
    /<!-- BEGIN bench-lockd -->/ {print; while ((getline line < report) > 0) print line; skip = 1; next}
    /<!-- END bench-lockd -->/ {skip = 0}
    !skip {print}' "$DOC" >"$WORK/doc.md"
  cp "$WORK/doc.md" "$DOC"
  log "wrote the report into $DOC"
fi
