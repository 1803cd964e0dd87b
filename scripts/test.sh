#!/usr/bin/env bash
# The README's test command: installs packages, builds, runs every test.
#
#   scripts/test.sh              all labels (unit, sim, root, e2e)
#   LABELS=unit scripts/test.sh  one label (a ctest -L regex)
#   SANITIZE=address,undefined scripts/test.sh   ASan + UBSan build in
#   SANITIZE=thread scripts/test.sh              build-<sanitizers>, running
#                                the unit and sim labels unless LABELS says
#
# The full run ends with a 30 s smoke run of three fuzz targets
# (scripts/fuzz.sh; FUZZ_SECONDS, FUZZ_TARGETS to change it).
#
# Root-only tests (label "root") need root and cgroup v1/v2 mounted read-write;
# CI runs as root, so they run there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [[ -n "${SANITIZE:-}" ]]; then
  # Its own build directory; the unit and simulation labels by default (the
  # e2e daemons would run instrumented too, but slowly).
  BUILD_DIR=${BUILD_DIR:-build-${SANITIZE//,/-}}
  LABELS=${LABELS:-unit|sim}
  export CMAKE_ARGS="-DBERTH_SANITIZE=$SANITIZE -DBERTH_BUILD_BENCHMARKS=OFF"
  # UBSan findings fail the test; stacks are symbolized.
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp}
  if [[ "$SANITIZE" == *thread* ]]; then
    # Debian's abseil is not TSan-instrumented, so every absl::Mutex would
    # look like no lock at all: load instrumented copies of its
    # synchronization libraries instead (scripts/tsan-absl.sh says why).
    scripts/tsan-absl.sh "$BUILD_DIR/tsan-absl"
    tsan_absl=$(cd "$BUILD_DIR/tsan-absl" && pwd)
    export LD_LIBRARY_PATH="$tsan_absl${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
BUILD_DIR=${BUILD_DIR:-build}
export BUILD_DIR
targets=()
if [[ -n "${SANITIZE:-}" && "${LABELS:-}" =~ ^[a-z|]+$ ]]; then
  # Only the binaries the chosen labels run (CMakeLists.txt, tests-<label>):
  # an instrumented build of the whole tree is twice that.
  for label in ${LABELS//|/ }; do targets+=("tests-$label"); done
  targets=(--target "${targets[@]}")
fi
scripts/build.sh "${targets[@]}"
args=(--test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 600)
if [[ -n "${LABELS:-}" ]]; then
  args+=(-L "$LABELS")
fi
ctest "${args[@]}"
# The installed package, as another project uses it: cmake --install,
# find_package(berth) in examples/find_package, a lock taken through the
# installed berth-lockd, and the .deb. Part of the full run only.
if [[ -z "${LABELS:-}" ]]; then
  BUILD_DIR="$BUILD_DIR" scripts/check-install.sh
  # The libFuzzer targets for a short while (clang build in build-fuzz);
  # scripts/fuzz.sh with a larger FUZZ_SECONDS is the long run.
  FUZZ_SECONDS=${FUZZ_SECONDS:-30} \
    TARGETS=${FUZZ_TARGETS:-"cron_fuzz jobspec_fuzz lockd_apply_fuzz raft_step_fuzz"} \
    scripts/fuzz.sh
fi
