#!/usr/bin/env bash
# Entre set-up: installs the Debian packages the project needs (only the missing ones, one
# `apt-get update` at most), configures and builds with CMake, then runs the job named by the
# first argument.
#
#   tools/setup.sh run    build (preset dev) and start a node from configs/default.toml (or the
#                         profile named by --profile); other arguments go to entre-host
#   tools/setup.sh test   build and run every test with CTest (presets dev, asan and fuzz), each
#                         tier whatever became of the others, then a summary of the tiers; the
#                         exit status is non-zero when any test or build failed
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
  libstb-dev libgl1-mesa-dri fonts-dejavu-core fonts-symbola xvfb xauth
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
  cmake --preset "$1" && cmake --build --preset "$1" -j "$jobs"
}

# run_tier PRESET: builds and tests one tier, whatever happened to the others, and appends its
# line to the summary (tier, passed, failed, time). A tier that does not build counts as failed.
summary=()
failures=()
total_passed=0
total_failed=0
run_tier() {
  local preset=$1 start status=0 passed=0 failed=0 out line note=""
  start=$(date +%s)
  out=$(mktemp)
  if ! build_preset "$preset"; then
    note=" (the build failed)"
    failed=1
  else
    ctest --preset "$preset" -j "$jobs" 2>&1 | tee "$out" || status=$?
    # "100% tests passed, 0 tests failed out of 598"
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -n 1 || true)
    if [ -n "$line" ]; then
      failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
      passed=$(($(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line") - failed))
    fi
    # The names ctest lists under "The following tests FAILED:", for the summary.
    while IFS= read -r line; do
      failures+=("$preset: $line")
    done < <(sed -n '/The following tests FAILED:/,/^$/p' "$out" | grep -E '^[[:space:]]+[0-9]+ - ' |
      sed -E 's/^[[:space:]]+//')
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
      note=" (ctest exited with status $status)"
      failed=1
    fi
  fi
  rm -f "$out"
  local took=$(($(date +%s) - start))
  summary+=("$(printf '%-6s %6d passed %4d failed %4d min %02d s%s' "$preset" "$passed" \
    "$failed" $((took / 60)) $((took % 60)) "$note")")
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
}

print_summary() {
  local took=$(($(date +%s) - $1))
  echo
  echo "setup: test summary"
  printf '  %s\n' "${summary[@]}"
  printf '  whole run: %d min %02d s\n' $((took / 60)) $((took % 60))
  if [ ${#failures[@]} -gt 0 ]; then
    echo "setup: failed tests"
    printf '  %s\n' "${failures[@]}"
  fi
  echo "total: $total_passed passed, $total_failed failed"
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
    # Every tier runs even when one before it failed; the summary says which failed.
    began=$(date +%s)
    for preset in dev asan fuzz; do
      run_tier "$preset"
    done
    print_summary "$began"
    [ "$total_failed" -eq 0 ]
    ;;
  *)
    echo "usage: tools/setup.sh [run|test|deps|build]" >&2
    exit 2
    ;;
esac
