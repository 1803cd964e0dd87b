#!/usr/bin/env bash
# Soak test for berth-lockd (not in CI): a 3-replica cluster on 127.0.0.1
# under mixed load for DURATION, watched every 10 s.
#
#   scripts/soak.sh DURATION        e.g. 15m, 600s, 600 (seconds)
#
# Load, all at once, for the whole DURATION (`berth bench` workloads):
#   64 put clients, 16 lock clients, 1,000 watchers (and their putter),
#   1,000 sessions kept alive.
# Every 10 s it records the leader and term (`berth cluster status --output
# json`), each replica's RSS and data-dir size (SQLite file + WAL), the
# revision, the oldest revision kept, and any alarm. At the end it counts
# Raft-thread stalls over 50 ms in the replicas' logs ("raft thread stall:
# ... took N ms" and the older "snapshot at index ... took" lines), prints a table and
# one PASS/FAIL line against these targets:
#   * zero leader changes;
#   * zero stalls over 50 ms;
#   * RSS and data-dir growth < 10% per replica from minute 10 to the end
#     (from half-time when DURATION is under 20 minutes; the line says
#     which sample it used).
# Replicas run with their production defaults (auto-compaction, quota).
#
# Environment: BUILD_DIR (default build), BERTH_BIN / LOCKD_BIN (binaries,
# default from BUILD_DIR), SOAK_PORT (default 17611; uses
# SOAK_PORT..+2), KEEP=1 keeps the work directory, LOCKD_FLAGS adds flags
# to every replica. Exit: 0 PASS, 1 FAIL, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; }
[[ $# -eq 1 ]] || { usage >&2; exit 2; }
case "$1" in
  -h|--help) usage; exit 0 ;;
  *[0-9]m) DUR_S=$((${1%m} * 60)) ;;
  *[0-9]s) DUR_S=${1%s} ;;
  *[0-9]) DUR_S=$1 ;;
  *) echo "soak.sh: DURATION must look like 15m, 600s or 600, got \"$1\"" >&2; exit 2 ;;
esac
[[ "$DUR_S" =~ ^[0-9]+$ ]] && ((DUR_S >= 60)) ||
  { echo "soak.sh: DURATION must be at least 60s" >&2; exit 2; }

BUILD_DIR=${BUILD_DIR:-build}
PORT=${SOAK_PORT:-17611}
BERTH=${BERTH_BIN:-$ROOT/$BUILD_DIR/cli/berth}
LOCKD=${LOCKD_BIN:-$ROOT/$BUILD_DIR/lockservice/lockd/berth-lockd}
for b in "$BERTH" "$LOCKD"; do
  [[ -x "$b" ]] || { echo "soak.sh: $b is missing; run scripts/build.sh berth berth-lockd" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "soak.sh: needs jq" >&2; exit 2; }

log() { echo "soak.sh: $*" >&2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
declare -A LOCKD_PID=()
BENCH_PIDS=()
EP="127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))"
export BERTH_LOCK_ENDPOINTS=$EP

cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}" "${LOCKD_PID[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}" "${LOCKD_PID[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ "${KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for i in 0 1 2; do
  if port_in_use $((PORT + i)); then log "port $((PORT + i)) is in use; set SOAK_PORT"; exit 2; fi
done

peers="1=127.0.0.1:$PORT,2=127.0.0.1:$((PORT + 1)),3=127.0.0.1:$((PORT + 2))"
for i in 1 2 3; do
  mkdir -p "$WORK/r$i"
  # shellcheck disable=SC2086
  "$LOCKD" --id "$i" --listen "127.0.0.1:$((PORT + i - 1))" --peers "$peers" \
    --data-dir "$WORK/r$i" --insecure ${LOCKD_FLAGS:-} >>"$WORK/lockd-$i.log" 2>&1 &
  LOCKD_PID[$i]=$!
done
deadline=$((SECONDS + 60))
until "$BERTH" kv put /soak/ready yes --timeout 2s >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { log "no leader after 60s; logs in $WORK"; KEEP=1; exit 1; }
  sleep 0.2
done
log "cluster up on $EP; load for ${DUR_S}s; work dir $WORK"

pids_csv="${LOCKD_PID[1]},${LOCKD_PID[2]},${LOCKD_PID[3]}"
bench() {  # name, args...
  local name=$1; shift
  "$BERTH" bench "$@" --duration "${DUR_S}s" --warmup 0 --output json \
    --server-pids "$pids_csv" >"$WORK/bench-$name.json" 2>"$WORK/bench-$name.err" &
  BENCH_PIDS+=($!)
}
bench put put --clients 64 --key-prefix /soak/put/
bench lock lock --clients 16 --key-prefix /soak/lock/
bench watch watch --clients 8 --watchers 1000 --key-prefix /soak/watch/
bench sessions sessions --clients 8 --sessions 1000 --key-prefix /soak/sessions/

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
dir_bytes() { du -sb "$1" 2>/dev/null | cut -f1; }

SAMPLES=$WORK/samples.tsv
printf 't_s\tleader\tterm\trevision\tcompacted\tdb_mib\trss1_mib\trss2_mib\trss3_mib\tdir1_mib\tdir2_mib\tdir3_mib\talarms\n' >"$SAMPLES"
leader_changes=0
no_leader_samples=0
last_leader=""
last_term=""
t0=$SECONDS
next=$t0
while ((SECONDS - t0 < DUR_S)); do
  next=$((next + 10))
  st=$("$BERTH" cluster status --output json --timeout 5s 2>/dev/null || echo '{}')
  leader=$(jq -r '.leader_id // "?"' <<<"$st")
  term=$(jq -r '.raft_term // "?"' <<<"$st")
  # A status that timed out (leader "?") or saw no leader ("0") is only
  # recorded; the next real answer shows whether leadership moved.
  if [[ "$leader" =~ ^[1-9][0-9]*$ ]]; then
    if [[ -n "$last_leader" && ( "$leader" != "$last_leader" || "$term" != "$last_term" ) ]]; then
      leader_changes=$((leader_changes + 1))
      log "leader change at $((SECONDS - t0))s: $last_leader/term $last_term -> $leader/term $term"
    fi
    last_leader=$leader
    last_term=$term
  else
    no_leader_samples=$((no_leader_samples + 1))
  fi
  row="$((SECONDS - t0))\t$leader\t$term\t$(jq -r '.revision // 0' <<<"$st")\t$(jq -r '.compact_revision // 0' <<<"$st")"
  row+="\t$(jq -r '((.db_size_bytes // 0) / 1048576 * 10 | floor) / 10' <<<"$st")"
  for i in 1 2 3; do row+="\t$(( $(rss_kib "${LOCKD_PID[$i]}") / 1024 ))"; done
  for i in 1 2 3; do row+="\t$(( $(dir_bytes "$WORK/r$i") / 1048576 ))"; done
  row+="\t$(jq -r '(.alarms // []) | length' <<<"$st")"
  printf "$row\n" >>"$SAMPLES"
  printf "$row\n" | tr '\t' ' ' >&2
  while ((SECONDS < next && SECONDS - t0 < DUR_S)); do sleep 1; done
done
for p in "${BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
BENCH_PIDS=()

# Stalls: every log line that reports a Raft-thread stall or a slow
# snapshot, with its first duration converted to ms.
stall_lines=$(grep -hiE 'raft thread stall|snapshot at index .* took' "$WORK"/lockd-*.log || true)
stalls_over_50=0
max_stall_ms=0
stall_wall_ms=0
stall_cpu_ms=0
stall_wait_ms=0
while IFS= read -r line; do
  [[ -n "$line" ]] || continue
  # "raft node 1: raft thread stall: step messages took 75 ms" (lockd's
  # StallMeter) or "... snapshot at index N took 1.2s (...)".
  d=$(grep -oE 'took [0-9]+(\.[0-9]+)? ?(ms|s)\b' <<<"$line" | head -n1 | sed 's/^took //; s/ //' || true)
  [[ -n "$d" ]] || continue
  ms=$(awk -v d="$d" 'BEGIN { if (d ~ /ms$/) { sub(/ms$/, "", d); print int(d) } else { sub(/s$/, "", d); print int(d * 1000) } }')
  ((ms > max_stall_ms)) && max_stall_ms=$ms
  ((ms > 50)) && stalls_over_50=$((stalls_over_50 + 1))
  # StallMeter adds "(N ms on cpu, M ms waiting for a cpu)" from the
  # thread's schedstat; the rest of the stall it was blocked (fsync, locks).
  split=$(grep -oE '\([0-9]+ ms on cpu, [0-9]+ ms waiting for a cpu\)' <<<"$line" | grep -oE '[0-9]+' | tr '\n' ' ' || true)
  if [[ -n "$split" ]]; then
    read -r cpu wait <<<"$split"
    stall_wall_ms=$((stall_wall_ms + ms))
    stall_cpu_ms=$((stall_cpu_ms + cpu))
    stall_wait_ms=$((stall_wait_ms + wait))
  fi
done <<<"$stall_lines"

base_t=$((DUR_S >= 1200 ? 600 : DUR_S / 2))
growth() {  # column -> max growth in percent over the three replicas
  awk -F'\t' -v base="$base_t" -v c1="$1" -v c2="$2" -v c3="$3" '
    NR == 1 { next }
    $1 >= base && !seen { for (i = 0; i < 3; i++) b[i] = $(c1 + i); seen = 1 }
    { for (i = 0; i < 3; i++) e[i] = $(c1 + i) }
    END {
      m = 0
      for (i = 0; i < 3; i++) if (b[i] > 0) { g = (e[i] - b[i]) * 100 / b[i]; if (g > m) m = g }
      printf "%.1f", m
    }' "$SAMPLES"
}
rss_growth=$(growth 7 8 9)
dir_growth=$(growth 10 11 12)

echo
echo "== samples (every 10 s) =="
column -t -s $'\t' "$SAMPLES"
echo
echo "== load =="
for b in put lock watch sessions; do
  jq -r --arg b "$b" '"\($b): \(.ops) ops, \(.ops_per_sec | floor)/s, p99 \(.latency_ms.p99) ms, errors \(.errors)\(if .first_error != "" then " (first: " + .first_error + ")" else "" end)"' \
    "$WORK/bench-$b.json" 2>/dev/null || echo "$b: no result ($(head -c 300 "$WORK/bench-$b.err"))"
done
echo
echo "== stall / slow-snapshot lines in the replicas' logs =="
if [[ -n "$stall_lines" ]]; then echo "$stall_lines" | tail -n 20; else echo "(none)"; fi
if ((stall_wall_ms > 0)); then
  # Where the stalled time went: running (slow code), runnable but without
  # a core (an overloaded host), or blocked (fsync, a lock).
  blocked=$((stall_wall_ms - stall_cpu_ms - stall_wait_ms))
  echo "stalls: ${stall_wall_ms} ms of wall time: on a cpu ${stall_cpu_ms} ms ($((100 * stall_cpu_ms / stall_wall_ms))%), waiting for a cpu ${stall_wait_ms} ms ($((100 * stall_wait_ms / stall_wall_ms))%), blocked (fsync, locks) ${blocked} ms ($((100 * blocked / stall_wall_ms))%)"
fi
echo
echo "load: $(uptime)"
pass=1
verdict="leader changes $leader_changes (target 0; $no_leader_samples samples without an answer or a leader); stalls > 50 ms $stalls_over_50 (max ${max_stall_ms} ms, target 0);"
verdict+=" RSS growth ${rss_growth}%, data-dir growth ${dir_growth}% from t=${base_t}s to the end (target < 10%)"
((leader_changes == 0)) || pass=0
((stalls_over_50 == 0)) || pass=0
awk -v r="$rss_growth" -v d="$dir_growth" 'BEGIN { exit !(r < 10 && d < 10) }' || pass=0
if ((pass)); then echo "PASS: $verdict"; exit 0; fi
echo "FAIL: $verdict"
exit 1
