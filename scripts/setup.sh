#!/usr/bin/env bash
# Installs brix's Debian packages (only the missing ones, so it is idempotent), builds brix
# into ./build with CMake + Ninja and installs its shell completion where bash, zsh and fish look
# (scripts/install-completion.sh; rewritten only when it changed). CUDA/NCCL parts are built when
# /usr/local/cuda has a toolkit.
#   scripts/setup.sh            install + build
#   BRIX_BUILD_DIR=dir          build elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${BRIX_BUILD_DIR:-build}

mapfile -t wanted < <(grep -vE '^\s*(#|$)' scripts/packages.txt)
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "brix setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BRIX_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build "$build_dir" -j "$jobs"
scripts/install-completion.sh "$build_dir/brix"
