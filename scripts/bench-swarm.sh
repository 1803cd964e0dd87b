#!/usr/bin/env bash
# Idle cost of many simulated agents in one process (issue #14).
#
#   BUILD_DIR=build AGENTS=1000 IDLE_S=20 scripts/bench-swarm.sh [-- extra swarm flags]
#
# Starts three berth-lockd replicas on 127.0.0.1 with default flags, waits
# for a leader, runs `berth-agent-swarm --agents AGENTS --idle-s IDLE_S`
# against them (it reports its own and the replicas' CPU over the idle
# window), then stops everything and prints how many "session lost" lines
# the swarm logged and how many Raft-thread stalls the replicas logged.
# Extra flags after `--` go to the swarm (e.g. `-- --session-ttl-s 2`).
set -euo pipefail

BUILD_DIR=${BUILD_DIR:-build}
AGENTS=${AGENTS:-1000}
IDLE_S=${IDLE_S:-20}
LOCKD=$BUILD_DIR/lockservice/lockd/berth-lockd
SWARM=$BUILD_DIR/agent/server/berth-agent-swarm
BERTH=$BUILD_DIR/cli/berth
EXTRA=()
if [[ "${1:-}" == "--" ]]; then shift; EXTRA=("$@"); fi
for b in "$LOCKD" "$SWARM" "$BERTH"; do [[ -x "$b" ]] || { echo "missing $b" >&2; exit 2; }; done
command -v jq >/dev/null || { echo "needs jq" >&2; exit 2; }

BASE=$((12000 + ($$ % 400) * 8))
WORK=$(mktemp -d /tmp/berth-swarm.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

PEERS=""
for j in 1 2 3; do PEERS+="${PEERS:+,}$j=127.0.0.1:$((BASE + j - 1))"; done
EP=127.0.0.1:$BASE,127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2))
echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
for j in 1 2 3; do
  mkdir -p "$WORK/r$j"
  "$LOCKD" --id "$j" --listen "127.0.0.1:$((BASE + j - 1))" --peers "$PEERS" \
    --data-dir "$WORK/r$j" --insecure >"$WORK/r$j.log" 2>&1 &
  PIDS+=($!)
done
leader=""
for _ in $(seq 1 150); do
  leader=$(BERTH_LOCK_ENDPOINTS=$EP "$BERTH" cluster status --output json \
    --timeout 2s 2>/dev/null | jq -r '.leader_id // empty' 2>/dev/null || true)
  [[ -n "$leader" && "$leader" != 0 ]] && break
  sleep 0.2
done
[[ -n "$leader" && "$leader" != 0 ]] || { echo "no lockd leader within 30 s" >&2; exit 1; }
echo "lockd leader id $leader, pids ${PIDS[*]}"
rc=0
"$SWARM" --lock-endpoints "$EP" --agents "$AGENTS" --data-dir "$WORK/swarm" \
  --idle-s "$IDLE_S" --ready-timeout-s "${READY_TIMEOUT_S:-900}" \
  --lockd-pids "$(IFS=,; echo "${PIDS[*]}")" "${EXTRA[@]}" \
  >"$WORK/swarm.out" 2>"$WORK/swarm.err" || rc=$?
echo "end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$WORK/swarm.out"
echo "session lost lines: $(grep -ci 'session .*lost' "$WORK/swarm.err" || true)"
echo "raft thread stalls: $(cat "$WORK"/r*.log | grep -c 'raft thread stall' || true)"
if [[ $rc -ne 0 ]]; then
  echo "swarm exited $rc; last lines of its log:" >&2
  tail -20 "$WORK/swarm.err" >&2
  exit 1
fi
