#!/usr/bin/env bash
# Runs berth's libFuzzer targets (issue #15) for a while each, on a clang
# build with ASan and UBSan in its own build directory (not in CI's main
# build; CI runs a short smoke of each through scripts/test.sh).
#
#   scripts/fuzz.sh                      30 s per target
#   FUZZ_SECONDS=3600 scripts/fuzz.sh    an hour per target
#   TARGETS="cron_fuzz" scripts/fuzz.sh
#   FUZZ_RUNS=10000000 FUZZ_SECONDS=9000 scripts/fuzz.sh
#                                        10 million executions each (or
#                                        until the time runs out)
#   FUZZ_SANITIZE=undefined scripts/fuzz.sh
#                                        UBSan alone (build-fuzz-undefined):
#                                        lockd_apply_fuzz runs several times
#                                        faster without ASan
#
# Targets: cron_fuzz (cron parser), jobspec_fuzz (job-spec YAML),
# lockd_apply_fuzz (lockd's state machine fed arbitrary entries, i.e. any
# RPC's request bytes), raft_step_fuzz (arbitrary messages into one Raft
# node). The corpus grows in $BUILD_DIR/corpus/<target>, seeded from
# tests/fuzz/corpus/<target> (and examples/jobs for the job specs). A crash
# leaves its input in $BUILD_DIR/crash-<target>-*, prints the command that
# replays it, and makes the script exit 1.
#
# Environment: FUZZ_SECONDS [30], FUZZ_RUNS [unlimited], TARGETS [all],
# FUZZ_SANITIZE [address,undefined], FUZZ_BUILD_DIR [build-fuzz, or
# build-fuzz-<sanitizers> for another FUZZ_SANITIZE], JOBS [2].
set -euo pipefail
cd "$(dirname "$0")/.."
# Not BUILD_DIR: scripts/test.sh exports that for its own gcc build.
FUZZ_SANITIZE=${FUZZ_SANITIZE:-address,undefined}
if [[ $FUZZ_SANITIZE == address,undefined ]]; then
  BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
else
  BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz-${FUZZ_SANITIZE//,/-}}
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_RUNS=${FUZZ_RUNS:--1}
TARGETS=${TARGETS:-"cron_fuzz jobspec_fuzz lockd_apply_fuzz raft_step_fuzz"}

if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  launcher=()
  if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(cd .. && pwd)} CCACHE_NOHASHDIR=1
  fi
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_FUZZ=ON \
    -DBERTH_FUZZ_SANITIZE="$FUZZ_SANITIZE" -DBERTH_BUILD_BENCHMARKS=OFF \
    "${launcher[@]}" >/dev/null
fi
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target $TARGETS

failed=0
printf '%-18s %12s %8s %s\n' target executions corpus verdict
for t in $TARGETS; do
  corpus=$BUILD_DIR/corpus/$t
  mkdir -p "$corpus"
  # Only seed directories that exist (git keeps no empty ones).
  seeds=()
  [[ -d tests/fuzz/corpus/$t ]] && seeds+=("tests/fuzz/corpus/$t")
  [[ $t == jobspec_fuzz ]] && seeds+=(examples/jobs)
  log=$BUILD_DIR/fuzz-$t.log
  if "$BUILD_DIR/tests/fuzz/$t" -max_total_time="$FUZZ_SECONDS" -runs="$FUZZ_RUNS" \
      -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$BUILD_DIR/crash-$t-" "$corpus" "${seeds[@]}" \
      >"$log" 2>&1; then
    verdict=ok
  else
    crash=$(ls -t "$BUILD_DIR"/crash-"$t"-* 2>/dev/null | head -n 1 || true)
    verdict="FAILED: replay with $BUILD_DIR/tests/fuzz/$t ${crash:-(no input saved; see $log)}"
    failed=1
  fi
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -n 1)
  printf '%-18s %12s %8s %s\n' "$t" "${execs:-?}" "$(ls "$corpus" | wc -l)" "$verdict"
  [[ $verdict == ok ]] || tail -n 30 "$log" >&2
done
exit "$failed"
