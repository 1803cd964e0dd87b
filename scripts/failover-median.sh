#!/usr/bin/env bash
# Failover gap with default settings, as the median of N leader kills.
#
#   BUILD_DIR=build ROUNDS=20 scripts/failover-median.sh [-- extra lockd flags]
#
# Starts three berth-lockd replicas on 127.0.0.1 with default flags (only
# ids, ports and data dirs given), then ROUNDS times: finds the leader, runs
# `berth bench failover --kill-pid <leader>` with the client library's
# defaults (dial timeout and backoff included) and restarts the killed
# replica, waiting until it has caught up before the next round. Prints
# every gap and the median / min / max. Waits are condition polls with
# deadlines; nothing listens anywhere but 127.0.0.1.
set -euo pipefail

BUILD_DIR=${BUILD_DIR:-build}
ROUNDS=${ROUNDS:-20}
LOCKD=$BUILD_DIR/lockservice/lockd/berth-lockd
BERTH=$BUILD_DIR/cli/berth
EXTRA=()
if [[ "${1:-}" == "--" ]]; then shift; EXTRA=("$@"); fi
for b in "$LOCKD" "$BERTH"; do [[ -x "$b" ]] || { echo "missing $b" >&2; exit 2; }; done
command -v jq >/dev/null || { echo "needs jq" >&2; exit 2; }

BASE=$((21000 + ($$ % 500) * 8))
WORK=$(mktemp -d /tmp/berth-failover.XXXXXX)
declare -A PIDS
PEERS=""
for j in 1 2 3; do PEERS+="${PEERS:+,}$j=127.0.0.1:$((BASE + j - 1))"; done
export BERTH_LOCK_ENDPOINTS=127.0.0.1:$BASE,127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2))

cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

start_member() {
  local i=$1
  mkdir -p "$WORK/r$i"
  "$LOCKD" --id "$i" --listen "127.0.0.1:$((BASE + i - 1))" --peers "$PEERS" \
    --data-dir "$WORK/r$i" --insecure "${EXTRA[@]}" >>"$WORK/r$i.log" 2>&1 &
  PIDS[$i]=$!
}

status_of() {  # status JSON from one replica (or all endpoints)
  BERTH_LOCK_ENDPOINTS=${1:-$BERTH_LOCK_ENDPOINTS} "$BERTH" cluster status \
    --output json --timeout 2s 2>/dev/null || true
}

leader_id() {  # waits for a leader that accepts a write
  local deadline=$((SECONDS + 60)) id
  while ((SECONDS < deadline)); do
    id=$(status_of | jq -r '.leader_id // empty' 2>/dev/null || true)
    if [[ "$id" =~ ^[123]$ ]] && "$BERTH" kv put /failover/ready yes --timeout 5s >/dev/null 2>&1; then
      echo "$id"; return 0
    fi
    sleep 0.1
  done
  echo "no leader after 60s" >&2; return 1
}

caught_up() {  # replica $1 knows the leader and applied what it had at $2
  local s
  s=$(status_of "127.0.0.1:$((BASE + $1 - 1))")
  [[ -n "$s" ]] || return 1
  [[ $(jq -r '.leader_id' <<<"$s") != 0 ]] && (($(jq -r '.applied_index' <<<"$s") >= $2))
}

for i in 1 2 3; do start_member "$i"; done
GAPS=()
for ((round = 1; round <= ROUNDS; round++)); do
  id=$(leader_id)
  out=$("$BERTH" bench failover --kill-pid "${PIDS[$id]}" --output json 2>>"$WORK/bench.err") || out=""
  wait "${PIDS[$id]}" 2>/dev/null || true
  gap=$(jq -r '.gap_ms // empty' <<<"$out" 2>/dev/null || true)
  if [[ -n "$gap" ]]; then
    GAPS+=("$gap")
    echo "round $round: killed leader $id, first acknowledged write after ${gap} ms"
  else
    echo "round $round: failed (see $WORK/bench.err)"
  fi
  target=$(status_of | jq -r '.applied_index // 0')
  start_member "$id"
  deadline=$((SECONDS + 60))
  until caught_up "$id" "$target"; do
    ((SECONDS < deadline)) || { echo "replica $id did not catch up" >&2; exit 1; }
    sleep 0.1
  done
done

((${#GAPS[@]} > 0)) || { echo "no successful round" >&2; exit 1; }
printf '%s\n' "${GAPS[@]}" | sort -g | awk -v n="${#GAPS[@]}" -v r="$ROUNDS" '
  {v[NR] = $1}
  END {
    med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    p90 = v[int(0.9 * n + 0.999)]
    printf "failover: %d of %d rounds ok; median %.0f ms, min %.0f, p90 %.0f, max %.0f\n", n, r, med, v[1], p90, v[n]
    printf "sorted gaps (ms):"; for (i = 1; i <= n; i++) printf " %.0f", v[i]; printf "\n"
  }'
echo "stall lines in the replicas' logs: $(cat "$WORK"/r*.log | grep -c 'raft thread stall' || true)"
echo "logs in $WORK"
