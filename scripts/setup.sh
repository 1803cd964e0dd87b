#!/usr/bin/env bash
# Installs every Debian package that building and testing berth needs.
# Idempotent: re-running it installs only what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev
  libsqlite3-dev sqlite3
  libcgroup-dev cgroup-tools
  libboost-program-options-dev
  libyaml-cpp-dev libhowardhinnant-date-dev tzdata
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format iproute2 procps util-linux
  # Peers of scripts/bench-compare.sh (issue #8). Not zookeeperd: it runs a
  # system service; the script starts its own instances on 127.0.0.1.
  etcd-server etcd-client zookeeper libzookeeper-mt-dev jq
)

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

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

# etcd-server ships an enabled etcd.service; on a machine run by systemd it
# would start a default etcd on 127.0.0.1:2379. Nothing here needs it.
if [[ -d /run/systemd/system ]] && systemctl is-enabled etcd.service >/dev/null 2>&1; then
  systemctl disable --now etcd.service >/dev/null 2>&1 || true
fi
