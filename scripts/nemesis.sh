#!/usr/bin/env bash
# Fault injection on real berth-lockd, berth-scheduler and berth-agent
# processes (issue #15, tests/nemesis).
#
#   scripts/nemesis.sh [--duration SECONDS] [--seed N] [--no-build]
#                      [other berth-nemesis flags, e.g. --faults kill-leader,
#                       --schedulers=false for lockd alone]
#
# Builds berth-nemesis and the binaries it runs (unless --no-build), then
# runs three lockd replicas and two schedulers in private network namespaces
# and one agent, under a seeded fault schedule with the KV-register, lock,
# watch, cron and service workloads, and prints per fault type how many were
# injected, the operations done, each checker's verdict and one final
# "RESULT: PASS" / "RESULT: FAIL (replay: ...)" line. Exit 0 only on PASS;
# 77 when not root (ctest counts that as skipped).
#
# Needs root. Whatever happens, it removes the namespaces, bridge and tmpfs
# mounts the run made (all named bnem*) and the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
build=1
args=()
duration=120
seed=$(( $(date +%s) % 100000 ))
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) build=0 ;;
    --duration) duration=$2; shift ;;
    --seed) seed=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done
if [[ $(id -u) -ne 0 ]]; then
  echo "nemesis.sh: must run as root (network namespaces, tmpfs mounts); skipped" >&2
  exit 77
fi
if [[ $build == 1 ]]; then
  BUILD_DIR="$BUILD_DIR" scripts/build.sh --target berth-nemesis berth-lockd \
    berth-nemesis-contender berth-scheduler berth-agent berth
fi
bin="$BUILD_DIR/tests/nemesis/berth-nemesis"
work=$(mktemp -d /tmp/berth-nemesis-XXXXXX)
pid=
# Names this run's namespaces (bnem<tag>-r<replica>, bnem<tag>-s<scheduler>),
# links (bnem<tag>br, bnem<tag>v<host>) and its subnet.
tag=$(( 20 + $$ % 200 ))

cleanup() {
  local rc=$?
  # berth-nemesis leads its own process group (setsid below), which its
  # replicas, schedulers, agent and contenders inherit: end the whole group,
  # and nothing else. (The agent's tasks run in sessions of their own; on
  # SIGTERM the agent stops them, and they exit by themselves once it is
  # gone.)
  if [[ -n "$pid" ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -CONT -- "-$pid" 2>/dev/null || true
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  # Its namespaces and links, and the tmpfs mounts under $work.
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^bnem${tag}-[rs][0-9]+$" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^bnem${tag}(br|v[0-9]+)$" || true); do
    ip link del "$l" 2>/dev/null || true
  done
  for m in $(awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts); do
    umount -l "$m" 2>/dev/null || true
  done
  if [[ $rc -eq 0 ]]; then
    rm -rf "$work"
  else
    echo "nemesis.sh: logs and histories kept in $work" >&2
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setsid "$bin" --duration "$duration" --seed "$seed" --net-tag "$tag" --work-dir "$work" "${args[@]}" &
pid=$!
wait "$pid"
