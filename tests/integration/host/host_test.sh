#!/usr/bin/env bash
# entre-host, driven as a user would: one case per invocation (see CMakeLists.txt).
# Environment: ENTRE_HOST, ENTRE_SOURCE_DIR, ENTRE_LIFECYCLE_PLUGIN, ENTRE_SMALL_FRAMES_PLUGIN,
# ENTRE_PLUGIN_DIR.
#
# No case takes a fixed port on the machine's network: a user's own node may be running beside
# the tests. The cases that start a shipped profile run it unchanged in a private network namespace
# of their own when they may (root), else a copy whose ports are replaced by free ones.
set -uo pipefail
case_name=$1

# As root, the cases that start shipped profiles re-run themselves in a new network namespace with
# only a loopback interface (and, for LAN discovery, a veth pair): the profiles' fixed ports are
# theirs alone there.
case "$case_name" in
default_profile_starts_and_stops_cleanly | shipped_node_profiles_run_side_by_side)
  if [ -z "${ENTRE_HOST_TEST_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] &&
    unshare -n true 2>/dev/null; then
    ENTRE_HOST_TEST_NETNS=1 exec unshare -n -- "$0" "$@"
  fi
  ;;
esac
private_netns=0
ip_tool=$(command -v ip || echo /usr/sbin/ip)
if [ -n "${ENTRE_HOST_TEST_NETNS:-}" ]; then
  "$ip_tool" link set lo up || { echo "FAIL: cannot bring up loopback in the namespace" >&2; exit 1; }
  private_netns=1
fi
work=$(mktemp -d)
trap 'kill -9 ${pids[*]:-} 2>/dev/null; rm -rf "$work"' EXIT
pids=()
export HOME="$work/home"
mkdir -p "$HOME"

fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.out "$work"/*.err; do
    [ -f "$f" ] && { echo "--- $f"; cat "$f"; }
  done
  exit 1
}

# start_host NAME PROFILE: runs entre-host in the background, waits for "ready" or its exit (60 s
# at most: the suite also runs under sanitizers on a machine whose every core is busy).
start_host() {
  local name=$1 profile=$2
  "$ENTRE_HOST" --profile "$profile" >"$work/$name.out" 2>"$work/$name.err" &
  local pid=$!
  pids+=("$pid")
  eval "${name}_pid=$pid"
  for _ in $(seq 1 1200); do
    grep -q "ready" "$work/$name.out" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# stop_host NAME SIGNAL: sends the signal and returns the exit status.
stop_host() {
  local name=$1 sig=$2 pid
  eval "pid=\$${name}_pid"
  kill -"$sig" "$pid"
  local status=0
  wait "$pid" || status=$?
  return "$status"
}

# The port of the first "listening at udp:ADDRESS:PORT" line in FILE.
listening_port() { sed -n 's/.*listening at udp:.*:\([0-9][0-9]*\)$/\1/p' "$1" | head -1; }

# shipped_profile NAME: the path of configs/NAME.toml to start, as it is in a private namespace,
# else a copy in $work with every port in it replaced by 0 (the system picks a free one).
shipped_profile() {
  local src="$ENTRE_SOURCE_DIR/configs/$1.toml"
  if [ "$private_netns" -eq 1 ]; then
    echo "$src"
  else
    sed -E 's/^( *bind = "[^"]*:)[0-9]+"/\10"/' "$src" >"$work/$1.toml"
    echo "$work/$1.toml"
  fi
}

write_node_profile() { # FILE NAME EXTRA...
  local file=$1 name=$2
  shift 2
  {
    printf '[node]\nname = "%s"\ndata_dir = "%s"\n\n' "$name" "$work/data-$name"
    printf '[loader]\nsearch_paths = ["%s"]\n\n' "$ENTRE_PLUGIN_DIR"
    printf '%s\n' "$@"
  } >"$file"
}

case "$case_name" in
default_profile_starts_and_stops_cleanly)
  start_host node "$(shipped_profile default)" || fail "default profile did not start"
  grep -q "loaded entre.transport.udp" "$work/node.out" || fail "udp transport not listed"
  grep -q "loaded entre.codec.pcm" "$work/node.out" || fail "pcm codec not listed"
  grep -q "loaded entre.crypto.sodium .*(crypto)" "$work/node.out" || fail "crypto suite not listed"
  grep -q "listening at udp:" "$work/node.out" || fail "no endpoint shown"
  stop_host node TERM || fail "exit status $? after SIGTERM"
  grep -q "stopped cleanly" "$work/node.out" || fail "no clean stop"
  [ -d "$HOME/.local/share/entre/default" ] || fail "data_dir ~ was not expanded and created"
  ;;
sigint_stops_cleanly)
  write_node_profile "$work/p.toml" sigint '[[plugins]]' 'id = "entre.transport.udp"' \
    '[plugins.config]' 'bind = "127.0.0.1:0"'
  start_host node "$work/p.toml" || fail "did not start"
  stop_host node INT || fail "exit status $? after SIGINT"
  grep -q "SIGINT, stopping" "$work/node.out" || fail "SIGINT not reported"
  grep -q "transport entre.transport.udp stopped" "$work/node.err" || fail "transport not stopped"
  ;;
check_accepts_every_shipped_config)
  n=0
  for f in "$ENTRE_SOURCE_DIR"/configs/*.toml; do
    "$ENTRE_HOST" --profile "$f" --check >"$work/check.out" 2>"$work/check.err" ||
      fail "$f rejected: $(cat "$work/check.err")"
    grep -q ": ok" "$work/check.out" || fail "$f: no ok line"
    n=$((n + 1))
  done
  [ "$n" -ge 5 ] || fail "only $n configs found"
  echo "$n configs accepted"
  ;;
check_rejects_every_broken_profile_with_status_2)
  n=0
  for f in "$ENTRE_SOURCE_DIR"/tests/unit/profile/bad/*.toml; do
    line=$(sed -n 's/^# expect-line: *//p' "$f" | head -1)
    expect=$(sed -n 's/^# expect: *//p' "$f" | head -1)
    status=0
    "$ENTRE_HOST" --profile "$f" --check >"$work/check.out" 2>"$work/check.err" || status=$?
    [ "$status" -eq 2 ] || fail "$f: exit status $status, want 2"
    grep -qF "$(basename "$f"):$line:" "$work/check.err" || fail "$f: no error at line $line"
    grep -qF -- "$expect" "$work/check.err" || fail "$f: message lacks: $expect"
    n=$((n + 1))
  done
  [ "$n" -ge 30 ] || fail "only $n broken profiles"
  echo "$n broken profiles rejected with status 2"
  ;;
objects_destroyed_before_library_unloads)
  export ENTRE_LIFECYCLE_LOG="$work/lifecycle.log"
  write_node_profile "$work/p.toml" life '[[plugins]]' 'id = "entre.test.lifecycle"' \
    "file = \"$ENTRE_LIFECYCLE_PLUGIN\""
  start_host node "$work/p.toml" || fail "did not start"
  stop_host node TERM || fail "exit status $?"
  got=$(tr '\n' ' ' <"$work/lifecycle.log")
  [ "$got" = "object-created object-destroyed library-unloaded " ] || fail "lifecycle was: $got"
  ;;
optional_plugin_failure_keeps_node_running)
  printf 'this is not a plugin\n' >"$work/broken.so"
  write_node_profile "$work/p.toml" opt '[[plugins]]' 'id = "entre.codec.pcm"' \
    '[[plugins]]' 'id = "org.example.broken"' "file = \"$work/broken.so\"" 'required = false'
  start_host node "$work/p.toml" || fail "node did not start with an optional plugin failing"
  grep -q "FAILED org.example.broken (optional): .*broken.so: not-a-shared-object" \
    "$work/node.out" || fail "failure not shown with file and reason"
  grep -q "loaded entre.codec.pcm" "$work/node.out" || fail "the good plugin was not loaded"
  stop_host node TERM || fail "exit status $?"
  ;;
every_loader_failure_is_named_and_optional_ones_are_skipped)
  # Each broken fixture as an optional plugin of one node. The fixtures that fail a manifest check
  # abort in their static constructors, so the node surviving proves none was mapped.
  printf 'this is not a plugin\n' >"$work/text.so"
  entries=('[[plugins]]' 'id = "entre.fixture.good"' "file = \"$ENTRE_FIXTURE_DIR/entre-fixture-good.so\"")
  add() { # ID FILE
    entries+=('[[plugins]]' "id = \"$1\"" "file = \"$2\"" 'required = false')
  }
  add entre.fixture.text "$work/text.so"
  add entre.fixture.absent "$work/absent.so"
  add entre.fixture.no-manifest "$ENTRE_FIXTURE_DIR/entre-fixture-no-manifest.so"
  add entre.fixture.no-factory "$ENTRE_FIXTURE_DIR/entre-fixture-no-factory.so"
  add entre.fixture.bad-magic "$ENTRE_FIXTURE_DIR/entre-fixture-bad-magic.so"
  add entre.fixture.abi-major "$ENTRE_FIXTURE_DIR/entre-fixture-abi-major.so"
  add entre.fixture.abi-minor "$ENTRE_FIXTURE_DIR/entre-fixture-abi-minor.so"
  add entre.fixture.boost-version "$ENTRE_FIXTURE_DIR/entre-fixture-boost-version.so"
  add entre.fixture.second-good "$ENTRE_FIXTURE_DIR/entre-fixture-duplicate.so"
  add entre.fixture.wrong-id "$ENTRE_FIXTURE_DIR/entre-fixture-hand.so"
  add entre.fixture.factory-fails "$ENTRE_FIXTURE_DIR/entre-fixture-factory-fails.so"
  add entre.fixture.no-interface "$ENTRE_FIXTURE_DIR/entre-fixture-no-interface.so"
  write_node_profile "$work/p.toml" opt "${entries[@]}"
  start_host node "$work/p.toml" || fail "node did not start"
  grep -q "loaded entre.fixture.good" "$work/node.out" || fail "the good plugin was not loaded"
  for expect in "entre.fixture.text (optional): .*text.so: not-a-shared-object" \
    "entre.fixture.absent (optional): .*absent.so: file-not-found" \
    "entre.fixture.no-manifest (optional): .*no-manifest.so: missing-manifest" \
    "entre.fixture.no-factory (optional): .*no-factory.so: missing-factory" \
    "entre.fixture.bad-magic (optional): .*bad-magic.so: bad-manifest" \
    "entre.fixture.abi-major (optional): .*abi-major.so: abi-major-mismatch" \
    "entre.fixture.abi-minor (optional): .*abi-minor.so: abi-minor-newer" \
    "entre.fixture.boost-version (optional): .*boost-version.so: boost-version-mismatch" \
    "entre.fixture.second-good (optional): .*duplicate.so: duplicate-id" \
    "entre.fixture.wrong-id (optional): .*hand.so: id-mismatch" \
    "entre.fixture.factory-fails (optional): .*factory-fails.so: factory-failed" \
    "entre.fixture.no-interface (optional): .*no-interface.so: interface-missing"; do
    grep -q "FAILED $expect" "$work/node.out" || fail "missing: $expect"
  done
  [ "$(grep -c '^  FAILED' "$work/node.out")" -eq 12 ] || fail "not exactly 12 failures"
  stop_host node TERM || fail "exit status $?"
  ;;
required_plugin_failure_refuses_to_start)
  printf 'this is not a plugin\n' >"$work/broken.so"
  write_node_profile "$work/p.toml" req '[[plugins]]' 'id = "org.example.broken"' \
    "file = \"$work/broken.so\""
  status=0
  "$ENTRE_HOST" --profile "$work/p.toml" >"$work/node.out" 2>"$work/node.err" || status=$?
  [ "$status" -eq 1 ] || fail "exit status $status, want 1"
  grep -q "broken.so: not-a-shared-object" "$work/node.err" || fail "reason not named"
  ;;
unknown_plugin_config_key_is_refused)
  write_node_profile "$work/p.toml" cfg '[[plugins]]' 'id = "entre.transport.udp"' \
    '[plugins.config]' 'bnd = "127.0.0.1:0"'
  status=0
  "$ENTRE_HOST" --profile "$work/p.toml" >"$work/node.out" 2>"$work/node.err" || status=$?
  [ "$status" -eq 1 ] || fail "exit status $status, want 1"
  grep -q "p.toml:[0-9]*:[0-9]*: .*bnd.*did you mean 'bind'" "$work/node.err" ||
    fail "no located unknown-key error with suggestion"
  ;;
check_runs_the_plugins_own_setting_checks)
  # --check loads each plugin and lets its factory read its settings, as a start would, and
  # starts nothing: a bad value, a misspelt key and a too small frame size each fail with the
  # plugin's own message and status 2, and no data directory appears.
  check_fails() { # WHAT PATTERN LINES...
    local what=$1 pattern=$2
    shift 2
    write_node_profile "$work/p.toml" chk '[[plugins]]' 'id = "entre.transport.udp"' \
      '[plugins.config]' "$@"
    status=0
    "$ENTRE_HOST" --profile "$work/p.toml" --check >"$work/check.out" 2>"$work/check.err" ||
      status=$?
    [ "$status" -eq 2 ] || fail "$what: exit status $status, want 2"
    grep -q -- "$pattern" "$work/check.err" || fail "$what: no message matching $pattern"
  }
  check_fails "bad bind" "bind: expected an IP address and port" 'bind = "localhost"'
  check_fails "misspelt key" "p.toml:[0-9]*:[0-9]*: .*bnd.*did you mean 'bind'" \
    'bnd = "127.0.0.1:0"'
  check_fails "small frames" "max_payload_bytes.*between 117 and 65507" \
    'bind = "127.0.0.1:0"' 'max_payload_bytes = 64'
  [ ! -e "$work/data-chk" ] || fail "--check created the data directory"
  write_node_profile "$work/p.toml" chk '[[plugins]]' 'id = "entre.transport.udp"' \
    '[plugins.config]' 'bind = "127.0.0.1:0"'
  "$ENTRE_HOST" --profile "$work/p.toml" --check >"$work/check.out" 2>"$work/check.err" ||
    fail "a good profile failed --check: $(cat "$work/check.err")"
  grep -q "plugin entre.transport.udp .* (transport): settings ok" "$work/check.out" ||
    fail "the plugin's settings were not reported as checked"
  grep -q "profile .*: ok" "$work/check.out" || fail "no ok line"
  [ ! -e "$work/data-chk" ] || fail "--check created the data directory"
  ;;
transport_with_too_small_frames_is_refused)
  # 64-byte frames cannot carry a link's first handshake message (117 bytes): refused by name,
  # both by --check and at start, rather than run as a transport that never links.
  write_node_profile "$work/p.toml" small '[[plugins]]' 'id = "entre.test.small-frames"' \
    "file = \"$ENTRE_SMALL_FRAMES_PLUGIN\""
  want="entre-test-small-frames.so: the transport's max_payload_bytes is 64, below the 117 bytes"
  status=0
  "$ENTRE_HOST" --profile "$work/p.toml" --check >"$work/check.out" 2>"$work/check.err" ||
    status=$?
  [ "$status" -eq 2 ] || fail "--check: exit status $status, want 2"
  grep -qF "$want" "$work/check.err" || fail "--check did not name the small frames"
  status=0
  "$ENTRE_HOST" --profile "$work/p.toml" >"$work/node.out" 2>"$work/node.err" </dev/null ||
    status=$?
  [ "$status" -eq 1 ] || fail "start: exit status $status, want 1"
  grep -qF "$want" "$work/node.err" || fail "the start did not name the small frames"
  ;;
busy_udp_port_fails_the_required_transport)
  # The first node takes a port the system picks; the second is given the same one.
  write_node_profile "$work/a.toml" a '[[plugins]]' 'id = "entre.transport.udp"' \
    '[plugins.config]' 'bind = "127.0.0.1:0"'
  start_host a "$work/a.toml" || fail "first node did not start"
  port=$(listening_port "$work/a.out")
  [ -n "$port" ] || fail "first node shows no udp endpoint"
  write_node_profile "$work/b.toml" b '[[plugins]]' 'id = "entre.transport.udp"' \
    '[plugins.config]' "bind = \"127.0.0.1:$port\""
  status=0
  "$ENTRE_HOST" --profile "$work/b.toml" >"$work/b.out" 2>"$work/b.err" || status=$?
  [ "$status" -eq 1 ] || fail "second node: exit status $status, want 1"
  grep -q "cannot bind udp:127.0.0.1:$port" "$work/b.err" || fail "bind error not explained"
  stop_host a TERM || fail "first node exit status $?"
  ;;
shipped_node_profiles_run_side_by_side)
  # Every port a shipped profile takes (UDP binds, the LAN beacon group, the relay's ports) is
  # taken by no other, so a user can run any of them together on one machine.
  declare -A owner=()
  n=0
  for f in "$ENTRE_SOURCE_DIR"/configs/*.toml; do
    while read -r port; do
      [ -n "$port" ] || continue
      [ -z "${owner[$port]:-}" ] || fail "port $port is in both ${owner[$port]} and $(basename "$f")"
      owner[$port]=$(basename "$f")
      n=$((n + 1))
    done < <(sed -nE -e 's/^ *(bind|group) = "[^"]*:([0-9]+)".*/\2/p' \
      -e 's/^ *(port|udp_reflect_port) = ([0-9]+).*/\2/p' "$f")
  done
  [ "$n" -ge 6 ] || fail "only $n ports found in the shipped profiles"
  for port in "${!owner[@]}"; do echo "port $port: ${owner[$port]}"; done | sort
  if [ "$private_netns" -ne 1 ]; then
    echo "the shipped nodes were not started: that needs root (a private network namespace)"
    echo "PASS: $case_name"
    exit 0
  fi
  # The four node profiles at once, unchanged, each on its own ports. LAN discovery needs a
  # multicast interface besides loopback: a veth pair of this namespace's own.
  "$ip_tool" link add lan0 type veth peer name lan1 && "$ip_tool" addr add 10.98.0.1/24 dev lan0 &&
    "$ip_tool" link set lan0 up && "$ip_tool" link set lan1 up ||
    fail "cannot make the namespace's LAN interface"
  # bot.toml keeps its state and log next to itself: it runs from a copy in $work.
  mkdir -p "$work/bot"
  cp "$ENTRE_SOURCE_DIR/configs/bot.toml" "$work/bot/bot.toml"
  start_host default "$ENTRE_SOURCE_DIR/configs/default.toml" || fail "default.toml did not start"
  start_host second "$ENTRE_SOURCE_DIR/configs/second.toml" || fail "second.toml did not start"
  start_host lan "$ENTRE_SOURCE_DIR/configs/lan-only.toml" || fail "lan-only.toml did not start"
  start_host bot "$work/bot/bot.toml" || fail "bot.toml did not start"
  for expect in "default:listening at udp:127.0.0.1:7400" "second:listening at udp:127.0.0.1:7403" \
    "lan:listening at lan:10.98.0.1:7401" "bot:listening at udp:127.0.0.1:7410"; do
    grep -q "${expect#*:}\$" "$work/${expect%%:*}.out" || fail "${expect%%:*}: no '${expect#*:}'"
  done
  for name in default second lan bot; do
    stop_host "$name" TERM || fail "$name: exit status $? after SIGTERM"
    grep -q "stopped cleanly" "$work/$name.out" || fail "$name: no clean stop"
  done
  echo "default, second, lan-only and bot ran side by side and stopped cleanly"
  ;;
relay_profile_is_not_a_node)
  status=0
  "$ENTRE_HOST" --profile "$ENTRE_SOURCE_DIR/configs/relay.toml" >"$work/node.out" \
    2>"$work/node.err" || status=$?
  [ "$status" -eq 1 ] || fail "exit status $status, want 1"
  grep -q "no \[node\] table" "$work/node.err" || fail "no explanation"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "PASS: $case_name"
