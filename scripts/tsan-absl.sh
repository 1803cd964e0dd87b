#!/usr/bin/env bash
# Builds ThreadSanitizer-instrumented copies of the four abseil shared
# libraries that absl::Mutex, absl::CondVar and absl::Notification live in
# (synchronization, base, malloc_internal, spinlock_wait), from the Debian
# source of the installed libabsl-dev, into OUT_DIR.
#
#   scripts/tsan-absl.sh OUT_DIR
#
# Why: Debian's libabsl is not built with -fsanitize=thread, so TSan never
# sees an absl::Mutex lock or unlock (they happen in the uninstrumented
# library) and reports every access guarded by one as a race. scripts/test.sh
# puts OUT_DIR on LD_LIBRARY_PATH for SANITIZE=thread runs; same version, same
# options.h, same sonames, so gRPC and protobuf load these copies too.
# Idempotent: does nothing when OUT_DIR already holds the libraries.
set -euo pipefail
out=${1:?usage: scripts/tsan-absl.sh OUT_DIR}
version=$(dpkg-query -W -f='${Version}' libabsl-dev) # e.g. 20220623.1-1+deb12u2
upstream=${version%%-*}
so=${upstream%%.*} # the soname suffix, e.g. 20220623
libs=(spinlock_wait base malloc_internal synchronization)
if [[ -f "$out/libabsl_synchronization.so.$so" ]]; then
  exit 0
fi
mkdir -p "$out/apt/lists/partial"
out=$(cd "$out" && pwd)
# A private source list and lists directory: the system's apt configuration
# and package lists are left as they are.
. /etc/os-release
codename=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
cat >"$out/apt/sources.list" <<EOF
deb-src http://deb.debian.org/debian $codename main
deb-src http://deb.debian.org/debian $codename-updates main
deb-src http://deb.debian.org/debian-security $codename-security main
EOF
apt_opts=(-q -o "Dir::Etc::SourceList=$out/apt/sources.list"
  -o Dir::Etc::SourceParts=/nonexistent -o "Dir::State::Lists=$out/apt/lists")
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$out/apt" && apt-get "${apt_opts[@]}" source "abseil=$version" >/dev/null)
src=$out/apt/abseil-$upstream
[[ -d "$src/absl" ]] || {
  echo "tsan-absl.sh: no $src after apt-get source" >&2
  exit 1
}

declare -A sources=(
  [spinlock_wait]="base/internal/spinlock_wait.cc"
  [base]="base/internal/cycleclock.cc base/internal/spinlock.cc
          base/internal/sysinfo.cc base/internal/thread_identity.cc
          base/internal/unscaledcycleclock.cc"
  [malloc_internal]="base/internal/low_level_alloc.cc"
  [synchronization]="synchronization/barrier.cc
          synchronization/blocking_counter.cc
          synchronization/internal/create_thread_identity.cc
          synchronization/internal/per_thread_sem.cc
          synchronization/internal/waiter.cc synchronization/notification.cc
          synchronization/mutex.cc"
)
# What each library links, as Debian's do (ldd of the installed copies).
declare -A deps=(
  [spinlock_wait]=""
  [base]="raw_logging_internal spinlock_wait"
  [malloc_internal]="base raw_logging_internal spinlock_wait"
  [synchronization]="graphcycles_internal stacktrace symbolize time
          malloc_internal base spinlock_wait raw_logging_internal
          debugging_internal demangle_internal"
)
multiarch=$(gcc -print-multiarch)
for lib in "${libs[@]}"; do
  objs=()
  for f in ${sources[$lib]}; do
    o="$out/obj/$lib/${f//\//_}.o"
    mkdir -p "$(dirname "$o")"
    g++ -std=c++17 -O2 -g -fPIC -fsanitize=thread -I"$src" -c "$src/absl/$f" -o "$o"
    objs+=("$o")
  done
  links=()
  for d in ${deps[$lib]}; do links+=("-l:libabsl_$d.so.$so"); done
  # $out first: a library built here links its instrumented neighbours.
  g++ -shared -fsanitize=thread -Wl,-soname,"libabsl_$lib.so.$so" \
    -o "$out/libabsl_$lib.so.$so.tmp" "${objs[@]}" \
    -L"$out" -L"/usr/lib/$multiarch" "${links[@]}" -lpthread
  mv "$out/libabsl_$lib.so.$so.tmp" "$out/libabsl_$lib.so.$so"
done
echo "tsan-absl.sh: instrumented abseil $upstream (${libs[*]}) in $out"
