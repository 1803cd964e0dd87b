#!/usr/bin/env bash
# Configures and builds berth into ${BUILD_DIR:-build} with -j${JOBS:-2}.
# CMAKE_ARGS adds configure flags on the first configure of a build dir.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
# ccache (from setup.sh) makes a rebuild of unchanged sources, and a second
# checkout of the same tree, cost only the links. CCACHE_BASEDIR lets two
# checkouts at different paths share hits.
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(cd .. && pwd)}
  export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
  # -g builds hash the working directory unless told not to.
  export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
fi
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  # shellcheck disable=SC2086  # CMAKE_ARGS is a list of -D flags
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "${launcher[@]}" ${CMAKE_ARGS:-}
fi
cmake --build "$BUILD_DIR" -j"$JOBS" "$@"
