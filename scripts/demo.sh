#!/usr/bin/env bash
# Quick start: installs what is missing, builds, starts `berth dev` (lockd,
# a scheduler and a local agent in one process) in the background, submits
# every job in examples/jobs, waits until they run, and prints their state.
# It leaves berth dev running and says how to stop it. Running it again
# reuses the running berth dev (or restarts it on the same data dir).
#
#   BERTH_DEMO_DIR        state directory (default /var/tmp/berth-demo)
#   BERTH_DEMO_PORT_BASE  lockd port; scheduler +100, agent +200 (default 7400)
#   BUILD_DIR             build directory (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# berth dev runs lockd, a scheduler and an agent inside the CLI binary, so
# the demo builds only that target; scripts/test.sh builds everything.
scripts/build.sh --target berth
BUILD_DIR=${BUILD_DIR:-build}
DATA=${BERTH_DEMO_DIR:-/var/tmp/berth-demo}
PORT=${BERTH_DEMO_PORT_BASE:-7400}
BIN="$BUILD_DIR/cli/berth"
mkdir -p "$DATA"
b() {
  "$BIN" --lock-endpoints "127.0.0.1:$PORT" \
    --scheduler "127.0.0.1:$((PORT + 100))" "$@"
}
# Polls a command until it succeeds, with a deadline in seconds.
wait_for() {
  local deadline=$(($(date +%s) + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) > deadline)); then
      echo "demo: timed out waiting for $what (see $DATA/dev.log)" >&2
      return 1
    fi
    sleep 0.5
  done
}

if [[ -f $DATA/dev.pid ]] && kill -0 "$(cat "$DATA/dev.pid")" 2>/dev/null; then
  echo "demo: reusing berth dev (pid $(cat "$DATA/dev.pid"))"
else
  nohup "$BIN" dev --data-dir "$DATA/dev" --port-base "$PORT" \
    >"$DATA/dev.log" 2>&1 &
  echo $! >"$DATA/dev.pid"
  echo "demo: started berth dev (pid $!), log in $DATA/dev.log"
fi
wait_for 60 "the scheduler" b job list
wait_for 30 "the local agent" sh -c "'$BIN' --scheduler 127.0.0.1:$((PORT + 100)) node list | grep -q local"
grep -m1 'runtime' "$DATA/dev.log" || true

echo "--- submitting examples/jobs"
# After a restart the scheduler leads once its previous session's lease has
# expired (a few seconds); until then submits are refused, so retry.
# Submitting an unchanged job is a no-op.
wait_for 60 "the scheduler to lead" b job run --detach examples/jobs/*.yaml
b job run --detach examples/jobs/*.yaml

job_state() {  # job_state JOB STATE...: true when JOB is in one of STATEs
  local job=$1 line
  shift
  line=$(b job list --output json | grep -o "\"name\":\"$job\"[^}]*}[^}]*}" || true)
  for s in "$@"; do
    [[ $line == *"\"state\":\"$s\""* ]] && return 0
  done
  return 1
}
wait_for 120 "web to be running and healthy" job_state web RUNNING
wait_for 120 "crunch to start" job_state crunch RUNNING COMPLETE
wait_for 60 "a cron-hello run" sh -c "'$BIN' --scheduler 127.0.0.1:$((PORT + 100)) job history cron-hello | grep -qE 'active|succeeded'"

echo "--- berth job list"
b job list
echo "--- berth job status web"
b job status web
echo "--- berth job history cron-hello"
b job history cron-hello

cat <<MSG

berth dev keeps running (pid $(cat "$DATA/dev.pid")): lockd 127.0.0.1:$PORT,
scheduler 127.0.0.1:$((PORT + 100)), agent 127.0.0.1:$((PORT + 200)).
Try:
  $BIN job list
  $BIN job status crunch
  $BIN job history cron-hello
  $BIN kv list /berth/nodes/
Stop it with:
  kill \$(cat $DATA/dev.pid)
MSG
