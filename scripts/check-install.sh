#!/usr/bin/env bash
# Checks the installed package the way a user of it would:
#   1. builds what `cmake --install` installs (in ${BUILD_DIR:-build});
#   2. installs it into a temporary prefix;
#   3. configures and builds examples/find_package against that prefix
#      (find_package(berth) + berth::lock_client), outside berth's tree;
#   4. starts the installed berth-lockd as a single replica on 127.0.0.1 with
#      a free port and a temporary data dir, and waits for it to lead;
#   5. runs the example, which must take a lock and print its fencing token;
#   6. builds the .deb with CPack and checks what it contains
#      (skip with CHECK_DEB=0).
# Everything it starts or creates is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  echo "check-install: $BUILD_DIR is not a configured build dir (run scripts/build.sh)" >&2
  exit 1
fi

WORK=$(mktemp -d /tmp/berth-check-install.XXXXXX)
LOCKD_PID=""
cleanup() {
  if [[ -n "$LOCKD_PID" ]] && kill -0 "$LOCKD_PID" 2>/dev/null; then
    kill "$LOCKD_PID"
    wait "$LOCKD_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { echo "check-install: $*"; }

targets=(berth berth-lockd berth-agent berth_lock_client berth_bash_completion)
# (Into a file first: grep -q closing the pipe early would fail pipefail.)
cmake --build "$BUILD_DIR" --target help >"$WORK/targets.txt"
if grep -Eq '(^|[ .])berth-scheduler(:|$)' "$WORK/targets.txt"; then
  targets+=(berth-scheduler)
fi
step "building ${targets[*]}"
cmake --build "$BUILD_DIR" -j"$JOBS" --target "${targets[@]}"

PREFIX="$WORK/prefix"
step "installing into $PREFIX"
cmake --install "$BUILD_DIR" --prefix "$PREFIX" >"$WORK/install.log"
for f in bin/berth bin/berth-lockd bin/berth-agent \
         lib/cmake/berth/berthConfig.cmake \
         lib/cmake/berth/berthConfigVersion.cmake \
         include/lockservice/client/mutex.h \
         lib/systemd/system/berth-lockd.service \
         share/bash-completion/completions/berth; do
  [[ -e "$PREFIX/$f" ]] || { echo "check-install: $f was not installed" >&2; exit 1; }
done
# The installed unit must point at the installed binary.
grep -q "^ExecStart=$PREFIX/bin/berth-lockd" \
  "$PREFIX/lib/systemd/system/berth-lockd.service" || {
  echo "check-install: berth-lockd.service does not run $PREFIX/bin/berth-lockd" >&2
  exit 1
}
bash -n "$PREFIX/share/bash-completion/completions/berth"

step "building examples/find_package against the installed package"
cmake -S "$ROOT/examples/find_package" -B "$WORK/example" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$PREFIX" \
  >"$WORK/example-configure.log" || { cat "$WORK/example-configure.log" >&2; exit 1; }
cmake --build "$WORK/example" -j"$JOBS"

# A port nothing listens on; if lockd still cannot bind it, try another.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
BERTH="$PREFIX/bin/berth"
started=""
for attempt in 1 2 3 4 5; do
  PORT=$((20000 + RANDOM % 20000))
  port_in_use "$PORT" && continue
  step "starting the installed berth-lockd on 127.0.0.1:$PORT"
  "$PREFIX/bin/berth-lockd" --listen "127.0.0.1:$PORT" \
    --data-dir "$WORK/lockd" --insecure >"$WORK/lockd.log" 2>&1 &
  LOCKD_PID=$!
  # Wait (with a deadline) until it has elected itself.
  for _ in $(seq 1 150); do
    kill -0 "$LOCKD_PID" 2>/dev/null || break
    status=$("$BERTH" cluster status --lock-endpoints "127.0.0.1:$PORT" \
      --timeout 1s --output json 2>/dev/null || true)
    if grep -q '"leader_id": *"[1-9]' <<<"$status"; then
      started=yes
      break
    fi
    sleep 0.2
  done
  [[ -n "$started" ]] && break
  kill "$LOCKD_PID" 2>/dev/null || true
  wait "$LOCKD_PID" 2>/dev/null || true
  LOCKD_PID=""
  rm -rf "$WORK/lockd"
done
if [[ -z "$started" ]]; then
  echo "check-install: berth-lockd did not start; its log:" >&2
  cat "$WORK/lockd.log" >&2
  exit 1
fi

step "running the example"
out=$("$WORK/example/berth_lock_demo" --endpoints "127.0.0.1:$PORT" \
  --name /check-install/lock)
echo "$out"
grep -Eq '^locked /check-install/lock with fencing token [1-9][0-9]*$' <<<"$out"
grep -q '^released$' <<<"$out"

if [[ "${CHECK_DEB:-1}" != 0 ]]; then
  step "building the .deb"
  (cd "$BUILD_DIR" && cpack -G DEB -B "$WORK/deb" >"$WORK/cpack.log") ||
    { cat "$WORK/cpack.log" >&2; exit 1; }
  deb=$(ls "$WORK"/deb/*.deb)
  contents=$(dpkg-deb --contents "$deb")
  for f in ./usr/bin/berth-lockd ./usr/bin/berth-agent ./usr/bin/berth \
           ./usr/lib/systemd/system/berth-agent.service \
           ./usr/lib/cmake/berth/berthConfig.cmake \
           ./usr/include/lockservice/client/client.h; do
    grep -q " $f\$" <<<"$contents" || {
      echo "check-install: $(basename "$deb") lacks $f" >&2
      exit 1
    }
  done
  grep -q "^ExecStart=/usr/bin/" < <(dpkg-deb --fsys-tarfile "$deb" |
    tar -xO ./usr/lib/systemd/system/berth-lockd.service)
  step "$(basename "$deb"): $(du -h "$deb" | cut -f1), depends: $(dpkg-deb -f "$deb" Depends)"
fi
step "OK"
