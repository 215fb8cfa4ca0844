#!/usr/bin/env bash
# Third-party plugins, end to end: install the SDK to a temporary prefix, build
# tests/third-party-plugin (a codec) and tests/third-party-transport (a transport) as separate
# CMake projects against it, then run the codec in a real node (entre-host) from a profile, and
# stop the node with SIGTERM. The plugin-check tests of CMakeLists.txt use both builds.
#
# usage: build_and_run.sh <entre build dir> <source dir> <work dir> <c++ compiler>
set -euo pipefail
build=$1 src=$2 work=$3 cxx=$4

rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" --component sdk >"$work/install.log"
test -f "$work/prefix/include/entre/sdk/plugin.hpp"
test -f "$work/prefix/lib/cmake/EntreSDK/EntreSDKConfig.cmake"
test -f "$work/prefix/lib/cmake/EntreSDK/entre-plugin.map"
# The package asks for exactly the Boost the SDK was built with (the loader refuses any other).
grep -q '^find_dependency(Boost ${ENTRE_SDK_BOOST_VERSION} EXACT)' \
  "$work/prefix/lib/cmake/EntreSDK/EntreSDKConfig.cmake"
grep -Eq '^set\(ENTRE_SDK_BOOST_VERSION "[0-9]+\.[0-9]+\.[0-9]+"\)' \
  "$work/prefix/lib/cmake/EntreSDK/EntreSDKConfig.cmake"

# The plugin project sees only the installed prefix, never the Entre source tree.
cmake -S "$src/tests/third-party-plugin" -B "$work/build" -G Ninja \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$work/configure.log"
cmake --build "$work/build" >"$work/build.log"
plugin="$work/build/org-example-codec-mulaw.so"
test -f "$plugin"
cmake -S "$src/tests/third-party-transport" -B "$work/transport-build" -G Ninja \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$work/transport-configure.log"
cmake --build "$work/transport-build" >"$work/transport-build.log"
test -f "$work/transport-build/org-example-transport-unix.so"
for ninja in "$work/build/build.ninja" "$work/transport-build/build.ninja"; do
  if grep -q -- "$src/sdk" "$ninja"; then
    echo "a third-party build used the source tree's SDK ($ninja)" >&2
    exit 1
  fi
done

cat >"$work/profile.toml" <<TOML
[node]
name = "third-party"
data_dir = "data"

[[plugins]]
id = "org.example.codec.mulaw"
file = "$plugin"

[codec]
preferred = ["org.example.codec.mulaw"]
TOML

"$build/bin/entre-host" --profile "$work/profile.toml" >"$work/host.out" 2>"$work/host.err" &
pid=$!
# Up to 60 s: the suite also runs under sanitizers on a machine whose every core is busy.
for _ in $(seq 1 600); do
  grep -q "ready" "$work/host.out" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
cat "$work/host.out" "$work/host.err"
[ "$status" -eq 0 ] || { echo "entre-host exited with $status" >&2; exit 1; }
grep -q "loaded org.example.codec.mulaw 1.0.0 (codec)" "$work/host.out"
grep -q "\[org.example.codec.mulaw\] mulaw codec ready" "$work/host.err"
grep -q "codec org.example.codec.mulaw: 'pcmu'" "$work/host.err"
grep -q "stopped cleanly" "$work/host.out"
echo "third-party plugin built out of tree and ran in a node"
