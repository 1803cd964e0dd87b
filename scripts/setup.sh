#!/usr/bin/env bash
# Installs every Debian package that building and testing berth needs.
# Idempotent: re-running it installs only what is missing.
#
#   scripts/setup.sh            the build, test and bench packages
#   scripts/setup.sh --slurm    also Slurm and munge, for scripts/bench-slurm.sh
#                               only (same as BERTH_SETUP_SLURM=1); CI never
#                               asks for them. Their daemons are not started:
#                               bench-slurm.sh runs its own, in a private
#                               network namespace, and stops them.
set -euo pipefail

WITH_SLURM=${BERTH_SETUP_SLURM:-0}
for arg in "$@"; do
  case "$arg" in
    --slurm) WITH_SLURM=1 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown argument \"$arg\" (try --help)" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev
  libsqlite3-dev sqlite3
  libcgroup-dev cgroup-tools
  libmicrohttpd-dev
  libboost-program-options-dev
  # berth cert and the TLS checks (OpenSSL libcrypto, issue #16).
  libssl-dev
  libyaml-cpp-dev libhowardhinnant-date-dev tzdata
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format iproute2 procps util-linux
  # The nemesis suite's clock-skew fault (tests/nemesis, libfaketime).
  faketime
  # Headless browser for the dashboard's e2e test (dashboard_e2e_test).
  chromium
  # Peers of scripts/bench-compare.sh (issue #8). Not zookeeperd: it runs a
  # system service; the script starts its own instances on 127.0.0.1.
  etcd-server etcd-client zookeeper libzookeeper-mt-dev jq
)
if [[ $WITH_SLURM == 1 ]]; then
  PACKAGES+=(slurmctld slurmd slurm-client munge)
fi
# Node.js and npm run the npm etcd3 client test (tests/e2e/etcd3_node).
# Debian's packages, unless the machine already has a node and an npm (a
# Debian npm next to another vendor's nodejs would conflict).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup.sh: must run as root to install packages" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The npm etcd3 package, pinned by package-lock.json, into the test's own
# folder; again only when the lock file changed since the last install.
npm_deps() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/etcd3_node"
  if [[ ! "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]]; then
    echo "setup.sh: npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
  npm_deps
  exit 0
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# No package may start its daemon (munged, slurmctld, slurmd, etcd) through
# invoke-rc.d while it is installed: a policy-rc.d that says no, unless the
# machine already has one.
own_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  own_policy=1
fi
trap 'if [[ $own_policy == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

# etcd-server ships an enabled etcd.service; on a machine run by systemd it
# would start a default etcd on 127.0.0.1:2379. Nothing here needs it.
if [[ -d /run/systemd/system ]] && systemctl is-enabled etcd.service >/dev/null 2>&1; then
  systemctl disable --now etcd.service >/dev/null 2>&1 || true
fi
# The same for Slurm's and munge's units.
if [[ $WITH_SLURM == 1 && -d /run/systemd/system ]]; then
  for unit in munge slurmctld slurmd; do
    systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
  done
fi
npm_deps
