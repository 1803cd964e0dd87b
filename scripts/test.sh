#!/usr/bin/env bash
# The README's test command: installs packages, builds, runs every test.
#
#   scripts/test.sh              all labels (unit, sim, root, e2e)
#   LABELS=unit scripts/test.sh  one label (a ctest -L regex)
#
# Root-only tests (label "root") need root and cgroup v1/v2 mounted read-write;
# CI runs as root, so they run there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
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
fi
