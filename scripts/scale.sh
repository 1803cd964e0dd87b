#!/usr/bin/env bash
# berth at scale on this machine (not in CI): 3 lockd replicas, 2
# schedulers and AGENTS simulated agents (berth-agent-swarm, sim runtime,
# split over SWARMS processes) on 127.0.0.1; then JOBS service jobs of
# REPLICAS sim tasks each are submitted, and the script reports
#   * the time from the first submit until every task runs;
#   * lockd leader CPU (share of a core over that window) and RSS, and the
#     schedulers' RSS;
#   * the scheduler failover at that size: kill -9 the leader, submit one
#     more one-task job at once, time until that task is placed (new leader
#     elected after its session TTL, mirror loaded, pass, commit).
# Every phase is bounded (TIMEOUT seconds each); everything it starts is
# stopped on exit, and its data directory removed.
#
#   scripts/scale.sh                                   # 10,000 agents, 100,000 tasks
#   AGENTS=1000 JOBS=100 REPLICAS=100 scripts/scale.sh # 1,000 agents, 10,000 tasks
#
# Environment (defaults in brackets):
#   AGENTS [10000]  SWARMS [4]  JOBS [1000]  REPLICAS [100]
#   (SWARMS=16 costs about a sixth less CPU at full size, but 16 processes
#   of sim agents' threads came close to this sandbox's task limit: one run
#   aborted with "Resource temporarily unavailable"; docs/benchmarks.md
#   "Scale run")
#   TIMEOUT [1800]  seconds per phase (agents up; all tasks running)
#   FAILOVER_TIMEOUT [300]  seconds for the failover's submit and placement
#   AGENT_TTL [30]  agents' session TTL, seconds
#   SCHED_TTL [2]   schedulers' session TTL, seconds (the scheduler default; bounds failover)
#   BASE_PORT [15401]  lockd on BASE_PORT..+2, schedulers +3..+4 (below the
#                      ephemeral range and the e2e harness's 21000-29000)
#   BUILD_DIR [build]  BENCH_TMP [${TMPDIR:-/tmp}]  (lockd's and the schedulers' data)
#   SWARM_TMP [/dev/shm if it exists, else BENCH_TMP]  the simulated hosts'
#                   local state (one SQLite store per agent). Each would have
#                   its own disk; on this machine's one disk their fsyncs
#                   (most of 3,585/s system-wide at 4,000 agents) queue with
#                   lockd's, the thing measured. SWARM_TMP=/tmp puts them back on the disk.
#   SERVER_NICE [-10]  SWARM_NICE [10]  niceness of lockd and the schedulers,
#                   and of the swarm processes, for the same reason with the
#                   CPU: the simulated hosts' 30,000 threads (a loop, a
#                   health checker and an exit notifier per agent) would
#                   otherwise outweigh the servers' on the run queue and
#                   starve lockd's Raft thread for a second at a time, and
#                   the schedulers' 2 s sessions with it. The swarms still
#                   get every cycle the servers leave. 0 and 0 turn it off.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

AGENTS=${AGENTS:-10000}
SWARMS=${SWARMS:-4}
JOBS=${JOBS:-1000}
REPLICAS=${REPLICAS:-100}
TIMEOUT=${TIMEOUT:-1800}
FAILOVER_TIMEOUT=${FAILOVER_TIMEOUT:-300}
AGENT_TTL=${AGENT_TTL:-30}
SCHED_TTL=${SCHED_TTL:-2}
BASE_PORT=${BASE_PORT:-15401}
BUILD_DIR=${BUILD_DIR:-build}

log() { echo "scale.sh: $(date -u +%H:%M:%S) $*" >&2; }

B=$ROOT/$BUILD_DIR
BERTH=$B/cli/berth
LOCKD=$B/lockservice/lockd/berth-lockd
SCHED=$B/scheduler/server/berth-scheduler
SWARM=$B/agent/server/berth-agent-swarm
for bin in "$BERTH" "$LOCKD" "$SCHED" "$SWARM"; do
  if [[ ! -x $bin ]]; then
    log "building in $BUILD_DIR"
    # JOBS here is the number of jobs to submit, not build parallelism.
    JOBS=${BUILD_JOBS:-2} BUILD_DIR=$BUILD_DIR scripts/build.sh --target berth berth-lockd \
      berth-scheduler berth-agent-swarm >&2
    break
  fi
done
command -v jq >/dev/null || { log "needs jq (scripts/setup.sh)"; exit 1; }

WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/berth-scale.XXXXXX")
if [[ -z ${SWARM_TMP:-} && -d /dev/shm ]]; then SWARM_TMP=/dev/shm; fi
SWARM_WORK=$(mktemp -d "${SWARM_TMP:-${BENCH_TMP:-${TMPDIR:-/tmp}}}/berth-scale-swarm.XXXXXX")
declare -A PIDS=()
cleanup() {
  local name
  for name in "${!PIDS[@]}"; do kill "${PIDS[$name]}" 2>/dev/null || true; done
  for name in "${!PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "${PIDS[$name]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${PIDS[$name]}" 2>/dev/null || true
  done
  rm -rf "$SWARM_WORK"
  if [[ -z ${KEEP_WORK:-} ]]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PEERS="" ENDPOINTS=""
for i in 1 2 3; do
  port=$((BASE_PORT + i - 1))
  PEERS+="${PEERS:+,}$i=127.0.0.1:$port"
  ENDPOINTS+="${ENDPOINTS:+,}127.0.0.1:$port"
done
SCHEDS="127.0.0.1:$((BASE_PORT + 3)),127.0.0.1:$((BASE_PORT + 4))"
export BERTH_LOCK_ENDPOINTS=$ENDPOINTS BERTH_SCHEDULER=$SCHEDS

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $(seq "$BASE_PORT" $((BASE_PORT + 4))); do
  if port_in_use "$p"; then log "port $p in use; set BASE_PORT"; exit 1; fi
done

# await SECONDS WHAT CMD...: poll CMD every second until it succeeds.
await() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    if ((SECONDS > deadline)); then log "timed out after $limit s waiting for $what"; return 1; fi
    sleep 1
  done
}

# proc PID: "<cpu ticks> <rss KiB> <peak rss KiB>"
proc() {
  local ticks rss hwm
  ticks=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat")
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$1/status")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$1/status")
  echo "$ticks $rss $hwm"
}
HZ=$(getconf CLK_TCK)

log "3 lockd replicas on $ENDPOINTS"
for i in 1 2 3; do
  mkdir -p "$WORK/lockd$i"
  nice -n "${SERVER_NICE:--10}" "$LOCKD" --id "$i" --listen "127.0.0.1:$((BASE_PORT + i - 1))" --peers "$PEERS" \
    --data-dir "$WORK/lockd$i" --insecure >"$WORK/lockd$i.log" 2>&1 &
  PIDS[lockd$i]=$!
done
cluster_up() { "$BERTH" kv put /scale/ping x >/dev/null 2>&1; }
await 60 "a lockd leader" cluster_up

log "2 schedulers on $SCHEDS"
for i in 1 2; do
  nice -n "${SERVER_NICE:--10}" "$SCHED" --lock-endpoints "$ENDPOINTS" --id "s$i" --listen "127.0.0.1:$((BASE_PORT + 2 + i))" \
    --session-ttl-s "$SCHED_TTL" --insecure >"$WORK/scheduler$i.log" 2>&1 &
  PIDS[sched$i]=$!
done

log "$AGENTS sim agents in $SWARMS swarm processes"
T_AGENTS=$SECONDS
per=$(( (AGENTS + SWARMS - 1) / SWARMS ))
left=$AGENTS
for k in $(seq "$SWARMS"); do
  n=$(( left < per ? left : per ))
  ((n > 0)) || break
  left=$((left - n))
  mkdir -p "$SWARM_WORK/swarm$k"
  # --idle-s: the swarm stays up through the whole run; it is killed on exit.
  nice -n "${SWARM_NICE:-10}" \
  "$SWARM" --lock-endpoints "$ENDPOINTS" --agents "$n" --data-dir "$SWARM_WORK/swarm$k" \
    --node-prefix "w$k-" --allocs-per-agent 0 --session-ttl-s "$AGENT_TTL" \
    --ready-timeout-s "$TIMEOUT" --idle-s $((4 * TIMEOUT)) \
    >"$WORK/swarm$k.log" 2>&1 &
  PIDS[swarm$k]=$!
done
count() {  # keys under a prefix
  "$BERTH" kv list "$1" --keys-only --limit 1 --output json 2>/dev/null | jq -r '.count // 0'
}
nodes_up() {
  local n; n=$(count /berth/nodes/)
  echo "nodes $n/$AGENTS" > "$WORK/progress"
  [[ $n -ge $AGENTS ]]
}
await "$TIMEOUT" "$AGENTS nodes" nodes_up || { cat "$WORK/progress" >&2; exit 1; }
AGENTS_UP_S=$((SECONDS - T_AGENTS))
log "all $AGENTS agents registered after ${AGENTS_UP_S}s"

leader_pid() {  # pid of the scheduler that says it leads
  local i
  for i in 1 2; do
    [[ -n ${PIDS[sched$i]:-} ]] || continue
    # The last leadership line decides: a scheduler may have led, lost its
    # session and been elected again.
    if "$BERTH" --scheduler "127.0.0.1:$((BASE_PORT + 2 + i))" job list >/dev/null 2>&1 &&
       grep -E "elected leader|leadership ended|stepping down" "$WORK/scheduler$i.log" |
         tail -n 1 | grep -q "elected leader"; then
      echo "$i"; return 0
    fi
  done
  return 1
}
await 60 "a scheduler leader" leader_pid >/dev/null
LEADER=$(leader_pid)
lockd_leader() {
  "$BERTH" cluster status --output json 2>/dev/null | jq -r '.leader_id // empty'
}
LOCKD_LEADER=$(lockd_leader || true)
LPID=${PIDS[lockd${LOCKD_LEADER:-1}]}

log "writing $JOBS service jobs x $REPLICAS sim tasks"
for j in $(seq "$JOBS"); do
  cat <<EOF
job: scale-$j
kind: service
replicas: $REPLICAS
task:
  command: ["sim"]
  resources: {cpu: 10m, memory: 16MiB}
---
EOF
done > "$WORK/jobs.yaml"

TASKS=$((JOBS * REPLICAS))
read -r L0_TICKS _ _ < <(proc "$LPID")
# CPU ticks of every process by kind (lockd, sched, swarm), to show where
# the cores went between the first submit and all running.
ticks_by_kind() {
  local name t
  declare -A sum=([lockd]=0 [sched]=0 [swarm]=0)
  for name in "${!PIDS[@]}"; do
    read -r t _ _ < <(proc "${PIDS[$name]}")
    sum[${name%%[0-9]*}]=$((sum[${name%%[0-9]*}] + t))
  done
  echo "${sum[lockd]} ${sum[sched]} ${sum[swarm]}"
}
read -r C0_LOCKD C0_SCHED C0_SWARM < <(ticks_by_kind)
T0=$(date +%s.%N)
"$BERTH" --timeout 60s job run --detach "$WORK/jobs.yaml" >"$WORK/submit.log" 2>&1 || {
  log "some submits failed:"; grep -v "version" "$WORK/submit.log" | head >&2 || true; }
T_SUBMITTED=$(date +%s.%N)
running() {
  "$BERTH" --scheduler "$SCHEDS" job list --output json 2>/dev/null |
    jq '[.jobs[]? | select(.name | startswith("scale-")) | (.status.running // 0)] | add // 0'
}
all_running() {
  local n; n=$(running)
  echo "running $n/$TASKS after $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}')s" > "$WORK/progress"
  [[ ${n:-0} -ge $TASKS ]]
}
log "submitted in $(awk -v a="$T0" -v b="$T_SUBMITTED" 'BEGIN{printf "%.1f", b-a}')s; waiting for $TASKS tasks to run"
OK=1
await "$TIMEOUT" "$TASKS running tasks" all_running || OK=0
T1=$(date +%s.%N)
cat "$WORK/progress" >&2
ALL_RUN_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}')
SUBMIT_S=$(awk -v a="$T0" -v b="$T_SUBMITTED" 'BEGIN{printf "%.1f", b-a}')
TAIL_S=$(awk -v a="$T_SUBMITTED" -v b="$T1" 'BEGIN{printf "%.1f", b-a}')
read -r L1_TICKS L_RSS L_HWM < <(proc "$LPID")
read -r C1_LOCKD C1_SCHED C1_SWARM < <(ticks_by_kind)
core_s() { awk -v t="$1" -v hz="$HZ" 'BEGIN{printf "%.0f", t / hz}'; }
CPU_SPLIT="lockd (3) $(core_s $((C1_LOCKD - C0_LOCKD))) s, schedulers (2) $(core_s $((C1_SCHED - C0_SCHED))) s, swarms ($SWARMS) $(core_s $((C1_SWARM - C0_SWARM))) s, of $(awk -v a="$T0" -v b="$T1" -v n="$(nproc)" 'BEGIN{printf "%.0f", (b - a) * n}') core-seconds"
L_CPU=$(awk -v t=$((L1_TICKS - L0_TICKS)) -v hz="$HZ" -v a="$T0" -v b="$T1" 'BEGIN{printf "%.0f", 100 * t / hz / (b - a)}')
read -r _ S1_RSS S1_HWM < <(proc "${PIDS[sched1]}")
read -r _ S2_RSS S2_HWM < <(proc "${PIDS[sched2]}")
FINAL=$(cat "$WORK/progress")

# The leader now: under this load a session can run out and the other
# scheduler take over during the run (the elections line counts those).
await 60 "a scheduler leader" leader_pid >/dev/null || true
LEADER=$(leader_pid || echo "$LEADER")
log "scheduler failover: kill -9 s$LEADER"
cat > "$WORK/after.yaml" <<EOF
job: scale-after-failover
kind: service
replicas: 1
task:
  command: ["sim"]
  resources: {cpu: 10m, memory: 16MiB}
EOF
T_KILL=$(date +%s.%N)
kill -9 "${PIDS[sched$LEADER]}"
unset "PIDS[sched$LEADER]"
submitted() { "$BERTH" --timeout 5s job run --detach "$WORK/after.yaml" >/dev/null 2>&1; }
await "$FAILOVER_TIMEOUT" "a submit to the new leader" submitted || true
T_ACCEPTED=$(date +%s.%N)
placed() {
  "$BERTH" job status scale-after-failover --output json 2>/dev/null |
    jq -e '[.allocations[]? | select(.alloc.node != null and .alloc.node != "")] | length > 0' >/dev/null
}
FAILOVER="not placed within ${FAILOVER_TIMEOUT}s"
if await "$FAILOVER_TIMEOUT" "the post-failover placement" placed; then
  T_PLACED=$(date +%s.%N)
  FAILOVER="$(awk -v a="$T_KILL" -v b="$T_PLACED" 'BEGIN{printf "%.1f", b-a}') s (submit accepted after $(awk -v a="$T_KILL" -v b="$T_ACCEPTED" 'BEGIN{printf "%.1f", b-a}') s)"
fi

cat <<EOF

berth scale run, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)

| what | figure |
|---|---|
| agents (sim, $SWARMS swarm processes at nice ${SWARM_NICE:-10}, servers at nice ${SERVER_NICE:--10}, TTL ${AGENT_TTL}s, local state in $(dirname "$SWARM_WORK")) | $AGENTS, all registered after ${AGENTS_UP_S} s |
| tasks | $JOBS service jobs x $REPLICAS = $TASKS |
| submits (one \`berth job run\` of $JOBS documents) took | $SUBMIT_S s |
| first submit -> all running | $( ((OK)) && echo "$ALL_RUN_S s" || echo "not reached in ${TIMEOUT} s ($FINAL)") |
| last submit -> all running (target: 60 s) | $( ((OK)) && echo "$TAIL_S s" || echo "-") |
| lockd leader (replica ${LOCKD_LEADER:-?}) CPU over that window | ${L_CPU} % of one core |
| CPU used from the first submit to all running | $CPU_SPLIT |
| lockd leader RSS / peak | $((L_RSS / 1024)) / $((L_HWM / 1024)) MiB |
| scheduler RSS / peak (s1, s2) | $((S1_RSS / 1024)) / $((S1_HWM / 1024)) MiB, $((S2_RSS / 1024)) / $((S2_HWM / 1024)) MiB |
| scheduler failover (kill -9 s$LEADER, TTL ${SCHED_TTL}s) -> next placement | $FAILOVER |
| scheduler elections won (s1 + s2; 1 + the kill when nothing else failed over) | $(cat "$WORK"/scheduler[12].log | grep -c "elected leader") |
| lockd Raft-thread stalls over 50 ms (log lines, all replicas) | $(cat "$WORK"/lockd[123].log | grep -c "raft thread stall") |
EOF
((OK))
