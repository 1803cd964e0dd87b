#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and starts a single-replica
# berth-lockd on 127.0.0.1:7400, then drives it with the berth CLI.
#
# `berth dev` (lockd + scheduler + agent in one process, running the example
# jobs) is not built yet; until it is, this demo shows the lock service,
# which is what works end to end today. It leaves lockd running and says how
# to stop it. Running it again reuses the running replica and its data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
DATA=${BERTH_DEMO_DIR:-/var/tmp/berth-demo}
B="$BUILD_DIR/cli/berth"
mkdir -p "$DATA"

if [[ -f $DATA/lockd.pid ]] && kill -0 "$(cat "$DATA/lockd.pid")" 2>/dev/null; then
  echo "demo: reusing berth-lockd (pid $(cat "$DATA/lockd.pid"))"
else
  nohup "$BUILD_DIR/lockservice/lockd/berth-lockd" --data-dir "$DATA/lockd" \
    >"$DATA/lockd.log" 2>&1 &
  echo $! >"$DATA/lockd.pid"
  echo "demo: started berth-lockd (pid $!), log in $DATA/lockd.log"
fi

# Wait for a leader, with a deadline.
for _ in $(seq 1 100); do
  if "$B" cluster status --output json 2>/dev/null | grep -q '"leader_id": *"[1-9]'; then
    break
  fi
  sleep 0.2
done
"$B" cluster status

echo "--- kv"
"$B" kv put /demo/greeting "hello from berth"
"$B" kv get /demo/greeting
echo "--- lock (the command runs while holding the lock; note the fencing token)"
"$B" lock /demo/locks/report --ttl 10s -- sh -c 'echo "holding the lock, token $BERTH_LOCK_TOKEN"'
"$B" lock /demo/locks/report --ttl 10s -- sh -c 'echo "holding it again, token $BERTH_LOCK_TOKEN"'
echo "--- election"
"$B" elect /demo/elections/leader node-a --once
echo "--- leases"
"$B" lease grant 30s

cat <<MSG

berth-lockd keeps running on 127.0.0.1:7400. Try:
  $B kv list /demo/
  $B watch /demo/ &   $B kv put /demo/x 1
Stop it with:
  kill \$(cat $DATA/lockd.pid)
MSG
