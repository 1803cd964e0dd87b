#!/usr/bin/env bash
# Slurm next to berth on the same trivial workload, on this machine (not in
# CI): a one-node Slurm (munged, slurmctld, slurmd; 2 CPUs, Epilog=/bin/true,
# state in a temp dir) started by this script, then `berth bench start`
# (its own 3 lockd + scheduler + agent). Prints one Markdown table.
#
#   scripts/bench-slurm.sh
#
# Both systems get
#   * an idle phase: LATENCY_JOBS jobs, one at a time (submit, wait for the
#     end, next): submit -> start latency;
#   * a batch: JOBS jobs submitted at once by SUBMITTERS parallel clients:
#     completed jobs/s = JOBS / (all finished - first submit), and the
#     submit -> start latency under that load.
# Slurm's job is `sbatch --wrap 'date +%s%N'` (it must stamp its own start:
# Slurm's StartTime has 1 s resolution); berth's task is /bin/true and its
# start is the agent's start_unix_ms. Submit time is taken just before
# sbatch runs / SubmitJob is called.
#
# Slurm's daemons bind every interface, so the whole script re-runs itself
# in a private network namespace that has only loopback: nothing it starts
# is reachable from outside, and every daemon is stopped on exit.
#
# Environment (defaults in brackets):
#   JOBS [500]  LATENCY_JOBS [20]  SUBMITTERS [8]  BUILD_DIR [build]
#   MAX_WAIT [300]   seconds per phase before giving up
#   BERTH_RUNTIMES ["linux process"]   berth agent runtimes to run ("" = Slurm only)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

JOBS=${JOBS:-500}
LATENCY_JOBS=${LATENCY_JOBS:-20}
SUBMITTERS=${SUBMITTERS:-8}
BUILD_DIR=${BUILD_DIR:-build}
MAX_WAIT=${MAX_WAIT:-300}
BERTH_RUNTIMES=${BERTH_RUNTIMES-"linux process"}

log() { echo "bench-slurm.sh: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  log "must run as root (Slurm's daemons, network namespace)"
  exit 1
fi

if [[ -z ${BERTH_SLURM_NETNS:-} ]]; then
  scripts/setup.sh --slurm >&2
  for b in cli/berth lockservice/lockd/berth-lockd \
           scheduler/server/berth-scheduler agent/server/berth-agent; do
    [[ -n $BERTH_RUNTIMES ]] || break
    if [[ ! -x $ROOT/$BUILD_DIR/$b ]]; then
      log "building berth binaries in $BUILD_DIR"
      BUILD_DIR=$BUILD_DIR scripts/build.sh --target berth berth-lockd \
        berth-scheduler berth-agent >&2
      break
    fi
  done
  exec unshare --net --fork env BERTH_SLURM_NETNS=1 "$0" "$@"
fi

ip link set lo up
# Slurm resolves its listen address with AI_ADDRCONFIG, which finds nothing
# when loopback is the only address; a private address on lo (in this
# namespace only, so still unreachable from outside) satisfies it.
ip addr add 10.255.255.1/32 dev lo
BERTH=$ROOT/$BUILD_DIR/cli/berth
WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-slurm.XXXXXX")
chmod 700 "$WORK"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ -z ${KEEP_WORK:-} ]]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}
trap cleanup EXIT

# --- munge: its own key and socket -------------------------------------
dd if=/dev/urandom of="$WORK/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/munge.key"
munged --socket="$WORK/munge.sock" --key-file="$WORK/munge.key" \
  --pid-file="$WORK/munged.pid" --log-file="$WORK/munged.log" \
  --seed-file="$WORK/munged.seed" --foreground --force >"$WORK/munged.out" 2>&1 &
PIDS+=($!)

# --- slurm.conf ----------------------------------------------------------
mkdir -p "$WORK/state" "$WORK/spool" "$WORK/out"
cat > "$WORK/slurm.conf" <<EOF
ClusterName=berthbench
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket=$WORK/munge.sock
CredType=cred/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
Epilog=/bin/true
MpiDefault=none
ReturnToService=2
MinJobAge=600
MaxJobCount=100000
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=bench Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$WORK/slurm.conf

wait_for() {  # wait_for SECONDS CMD...: poll CMD until it succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then return 1; fi
    sleep 0.05
  done
}

wait_for 10 test -S "$WORK/munge.sock" || { log "munged did not start"; cat "$WORK/munged.log" >&2; exit 1; }
slurmctld -D -i -f "$SLURM_CONF" >"$WORK/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >"$WORK/slurmd.out" 2>&1 &
PIDS+=($!)
node_idle() { sinfo -h -N -o %t | grep -qx idle; }
if ! wait_for 60 node_idle; then
  log "slurm node never became idle"; tail -n 20 "$WORK/slurmctld.log" "$WORK/slurmd.log" "$WORK/slurmctld.out" "$WORK/slurmd.out" >&2; exit 1
fi
log "slurm up: $(sinfo -h -o '%P %D %c %t')"

now_ns() { date +%s%N; }
queue_empty() { [[ -z $(squeue -h -o %i) ]]; }

submit_one() {  # prints "<jobid> <submit_ns>"
  local t0 id
  t0=$(now_ns)
  id=$(sbatch --parsable -o "$WORK/out/%j.out" --wrap 'date +%s%N')
  echo "${id%%;*} $t0"
}
export -f submit_one now_ns
export WORK

# percentiles of a column of numbers (ms) on stdin: "p50 p90 p99 max n"
pct() {
  sort -g | awk '{v[NR]=$1} END {
    if (NR == 0) { print "- - - - 0"; exit }
    split("0.5 0.9 0.99", q, " ")
    for (i = 1; i <= 3; i++) { r = int(q[i] * NR); if (r < q[i] * NR) r++; if (r < 1) r = 1; printf "%.1f ", v[r] }
    printf "%.1f %d\n", v[NR], NR }'
}
latencies() {  # from "<jobid> <submit_ns>" lines: submit->start ms
  while read -r id t0; do
    [[ -s $WORK/out/$id.out ]] || continue
    echo "$(( $(head -1 "$WORK/out/$id.out") - t0 ))" | awk '{printf "%.3f\n", $1 / 1e6}'
  done
}

log "slurm idle phase: $LATENCY_JOBS jobs one at a time"
: > "$WORK/idle.txt"
for _ in $(seq "$LATENCY_JOBS"); do
  submit_one >> "$WORK/idle.txt"
  wait_for "$MAX_WAIT" queue_empty || { log "slurm idle job did not finish"; exit 1; }
done
read -r S_IDLE_P50 S_IDLE_P90 S_IDLE_P99 S_IDLE_MAX S_IDLE_N < <(latencies < "$WORK/idle.txt" | pct)

log "slurm batch phase: $JOBS jobs, $SUBMITTERS parallel sbatch clients"
T_START=$(now_ns)
seq "$JOBS" | xargs -P "$SUBMITTERS" -I{} bash -c submit_one > "$WORK/batch.txt"
T_SUBMITTED=$(now_ns)
wait_for "$MAX_WAIT" queue_empty || { log "slurm batch did not finish within ${MAX_WAIT}s"; exit 1; }
T_END=$(now_ns)
S_DONE=$(latencies < "$WORK/batch.txt" | wc -l)
read -r S_B_P50 S_B_P90 S_B_P99 S_B_MAX S_B_N < <(latencies < "$WORK/batch.txt" | pct)
S_RATE=$(awk -v n="$S_DONE" -v ns=$((T_END - T_START)) 'BEGIN {printf "%.1f", n / (ns / 1e9)}')
S_SUBMIT_RATE=$(awk -v n="$JOBS" -v ns=$((T_SUBMITTED - T_START)) 'BEGIN {printf "%.1f", n / (ns / 1e9)}')
S_FAILED=$(grep -c . < <(squeue -h -t all -o '%i %T' | grep -v COMPLETED) || true)
SLURM_VERSION=$(sinfo --version)

ROWS=("| Slurm ($SLURM_VERSION, 1 node, 2 CPUs) | sbatch --wrap 'date +%s%N' | $S_IDLE_P50 / $S_IDLE_P99 / $S_IDLE_MAX | $S_RATE ($S_DONE of $JOBS done; submits alone $S_SUBMIT_RATE/s) | $S_B_P50 / $S_B_P99 / $S_B_MAX | $S_FAILED |")

# Slurm is done; stop it before berth runs so the two never share the CPUs.
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()

for rt in $BERTH_RUNTIMES; do
  log "berth bench start, runtime $rt"
  if ! "$BERTH" bench start --runtime "$rt" --latency-tasks "$LATENCY_JOBS" \
      --batch "$JOBS" --submitters "$SUBMITTERS" --max-wait "${MAX_WAIT}s" \
      --output json > "$WORK/berth-$rt.json" 2> "$WORK/berth-$rt.err"; then
    log "berth bench start ($rt) reported errors:"; cat "$WORK/berth-$rt.err" >&2
  fi
  J=$WORK/berth-$rt.json
  if [[ ! -s $J ]]; then ROWS+=("| berth ($rt) | failed: see above | | | | |"); continue; fi
  ms() { jq -r ".phases[] | select(.phase == \"$1\") | .milestones_ms.running | \"\(.p50) / \(.p99) / \(.max)\"" "$J"; }
  rate=$(jq -r '.phases[] | select(.phase == "batch") | "\(.completed_per_second) (\(.completed) of \(.tasks) done)"' "$J")
  errors=$(jq -r '.errors' "$J")
  ROWS+=("| berth $(git -C "$ROOT" rev-parse --short HEAD) ($rt runtime, 1 agent) | /bin/true | $(ms latency) | $rate | $(ms batch) | $errors |")
done

cat <<EOF

Trivial jobs on $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), load at the end: $(cut -d' ' -f1-3 /proc/loadavg).
Idle: $LATENCY_JOBS jobs one at a time. Batch: $JOBS jobs, $SUBMITTERS parallel submitters. Latencies in ms (submit -> start).

| system | job | idle submit->start p50 / p99 / max | batch: completed jobs/s | batch submit->start p50 / p99 / max | failed |
|---|---|---|---|---|---|
EOF
printf '%s\n' "${ROWS[@]}"
