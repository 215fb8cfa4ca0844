#!/usr/bin/env bash
# The README's test command on a busy machine: the whole suite must pass while every core is
# busy and while a user's own nodes run beside it (docs/architecture.md, "Under load").
#
#   tools/stress-test.sh [ARGS...]     ARGS go to `tools/setup.sh test`
#
# 1. `tools/setup.sh build` installs the missing packages (stress-ng among them) and builds;
# 2. nodes from configs/default.toml, configs/second.toml and configs/lan-only.toml start, as a
#    user would run them (their data in a temporary home, no passphrase: they hold their ports,
#    they hold no identity; the LAN node's beacons stay on the loopback interface, its only change
#    from the shipped profile); a profile whose port is already taken, by a node of yours for
#    instance, is left to that node;
# 3. stress-ng keeps every core busy (one CPU worker per core) with a modest memory load beside
#    them; STRESS_NG_ARGS replaces that load ("--cpu 2", say);
# 4. `tools/setup.sh test ARGS` runs; the load and the nodes are stopped however it ends, and this
#    script exits with its status.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

tools/setup.sh build || exit $?
if ! command -v stress-ng >/dev/null 2>&1; then
  echo "stress-test: stress-ng is missing after tools/setup.sh build" >&2
  exit 1
fi

work=$(mktemp -d)
hog=
nodes=()
cleanup() {
  if [ -n "$hog" ]; then
    kill -TERM "$hog" 2>/dev/null # stress-ng stops its workers on SIGTERM
    wait "$hog" 2>/dev/null
  fi
  for pid in "${nodes[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${nodes[@]}"; do
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A user's nodes: each in the background until "ready", or left out when it cannot start.
sed 's/^\( *interfaces = \)\[\]/\1["lo"]/' configs/lan-only.toml >"$work/lan-only.toml"
for profile in default second lan-only; do
  log="$work/$profile.out"
  file="configs/$profile.toml"
  [ "$profile" != lan-only ] || file="$work/lan-only.toml"
  HOME="$work/home" build/dev/bin/entre-host --profile "$file" \
    </dev/null >"$log" 2>"$work/$profile.err" &
  pid=$!
  started=0
  for _ in $(seq 1 600); do
    if grep -q "ready" "$log"; then
      started=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$started" -eq 1 ]; then
    nodes+=("$pid")
    echo "stress-test: a node from configs/$profile.toml runs beside the tests:" \
      "$(grep -m1 'listening at' "$log" | sed 's/.*listening at //')"
  else
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "stress-test: configs/$profile.toml did not start here (left out):" \
      "$(tail -n 1 "$work/$profile.err")"
  fi
done

cores=$(nproc 2>/dev/null || echo 2)
read -r -a load <<<"${STRESS_NG_ARGS:---cpu $cores --vm 1 --vm-bytes 5%}"
stress-ng "${load[@]}" --quiet >"$work/stress-ng.log" 2>&1 &
hog=$!
sleep 1
if ! kill -0 "$hog" 2>/dev/null; then
  echo "stress-test: stress-ng did not start: $(cat "$work/stress-ng.log")" >&2
  hog=
  exit 1
fi
echo "stress-test: stress-ng ${load[*]} is running; now tools/setup.sh test $*"

status=0
tools/setup.sh test "$@" || status=$?

alive=0
for pid in "${nodes[@]}"; do
  kill -0 "$pid" 2>/dev/null && alive=$((alive + 1))
done
echo "stress-test: tools/setup.sh test exited with $status under ${load[*]};" \
  "$alive of ${#nodes[@]} user nodes still running"
[ "$alive" -eq "${#nodes[@]}" ] || { [ "$status" -ne 0 ] || status=1; }
exit "$status"
