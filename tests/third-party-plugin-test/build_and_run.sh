#!/usr/bin/env bash
# Third-party plugin, end to end: install the SDK to a temporary prefix, build
# tests/third-party-plugin as a separate CMake project against it, then run it in a real node
# (entre-host) from a profile, and stop the node with SIGTERM.
#
# usage: build_and_run.sh <entre build dir> <source dir> <work dir> <c++ compiler>
set -euo pipefail
build=$1 src=$2 work=$3 cxx=$4

rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" --component sdk >"$work/install.log"
test -f "$work/prefix/include/entre/sdk/plugin.hpp"
test -f "$work/prefix/lib/cmake/EntreSDK/EntreSDKConfig.cmake"

# The plugin project sees only the installed prefix, never the Entre source tree.
cmake -S "$src/tests/third-party-plugin" -B "$work/build" -G Ninja \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$work/configure.log"
cmake --build "$work/build" >"$work/build.log"
plugin="$work/build/org-example-codec-mulaw.so"
test -f "$plugin"
if grep -rq -- "$src/sdk/include" "$work/build/build.ninja"; then
  echo "the third-party build used the source tree's SDK headers" >&2
  exit 1
fi

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
