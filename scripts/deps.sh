#!/usr/bin/env bash
# Installs the Debian 12 packages chatvault needs to build and test.
# Idempotent: prints nothing and touches nothing when every package is present.
# Runs as root, or through sudo otherwise.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libsodium-dev libargon2-dev libzstd-dev libcurl4-openssl-dev liblmdb-dev
  libprotobuf-dev protobuf-compiler libsqlite3-dev libssl-dev curl python3
  libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev libpugixml-dev libfmt-dev
  libqrencode-dev clang libclang-rt-14-dev
)
# Extra groups, selected by arguments: `deps.sh s3` adds the Ceph radosgw test
# server, `deps.sh bench` the peers and photos of the benchmarks.
for group in "$@"; do
  case "$group" in
    s3) packages+=(ceph-mon ceph-osd radosgw ceph-common) ;;
    bench) packages+=(restic borgbackup time python3-matplotlib plasma-workspace-wallpapers gnome-backgrounds
                      mate-backgrounds) ;;
    npm) packages+=(npm) ;;
    *) echo "deps.sh: unknown package group '$group' (known: s3, bench, npm)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
