#!/usr/bin/env bash
# Entre set-up: installs the Debian packages the project needs (only the missing ones, one
# `apt-get update` at most), configures and builds with CMake, then runs the job named by the
# first argument.
#
#   tools/setup.sh run    build (preset dev) and start a node from configs/default.toml (or the
#                         profile named by --profile); other arguments go to entre-host
#   tools/setup.sh test   build and run every test with CTest (presets dev, asan and fuzz)
#   tools/setup.sh deps   only install the packages
#   tools/setup.sh build  only build the dev preset
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

packages=(
  build-essential cmake ninja-build pkg-config git clang clang-format clang-tidy
  libclang-rt-14-dev
  libboost-dev libsodium-dev libopus-dev libsdl2-dev libimgui-dev libtomlplusplus-dev
  libsqlite3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libspdlog-dev nlohmann-json3-dev libqrencode-dev libedit-dev
  iproute2 procps nftables espeak-ng stress-ng
  libstb-dev libgl1-mesa-dri fonts-dejavu-core xvfb xauth
)

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#packages[@]} packages present"
    return
  fi
  echo "setup: installing ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

jobs=$(nproc 2>/dev/null || echo 2)

build_preset() {
  cmake --preset "$1"
  cmake --build --preset "$1" -j "$jobs"
}

test_preset() {
  ctest --preset "$1" -j "$jobs"
}

cmd=${1:-run}
case "$cmd" in
  deps)
    install_packages
    ;;
  build)
    install_packages
    build_preset dev
    ;;
  run)
    install_packages
    build_preset dev
    shift || true
    # configs/default.toml unless the arguments name another profile.
    for arg in "$@"; do
      case "$arg" in
        -p|--profile|--profile=*) exec build/dev/bin/entre-host "$@" ;;
      esac
    done
    exec build/dev/bin/entre-host --profile configs/default.toml "$@"
    ;;
  test)
    install_packages
    # As root (CI), the network-namespace tests must run: a skip would hide them.
    if [ "$(id -u)" -eq 0 ]; then
      export ENTRE_REQUIRE_NETNS=1
    fi
    build_preset dev
    test_preset dev
    build_preset asan
    test_preset asan
    build_preset fuzz
    test_preset fuzz
    ;;
  *)
    echo "usage: tools/setup.sh [run|test|deps|build]" >&2
    exit 2
    ;;
esac
