#!/usr/bin/env bash
# entre-plugin-check --conformance on the LAN plugin, its beacons in a group port of the test's
# own: the shipped group port (7402) may be held by a user's LAN node on this machine, whose
# beacons are none of the test's business.
#   plugin_check_own_group.sh ENTRE-PLUGIN-CHECK PLUGIN.so
set -euo pipefail
check=$1
plugin=$2
# A UDP port no socket on this machine has bound, below the kernel's ephemeral range.
in_use=$(ss -Huan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u || true)
port=
for _ in $(seq 1 200); do
  candidate=$((20000 + RANDOM % 12000))
  if ! grep -qx "$candidate" <<<"$in_use"; then
    port=$candidate
    break
  fi
done
[ -n "$port" ] || { echo "no free UDP port for the beacon group" >&2; exit 1; }
echo "beacon group 239.255.77.77:$port"
exec "$check" --conformance "$plugin" --transport-config "bind = \"127.0.0.1:0\"
interfaces = [\"lo\"]
group = \"239.255.77.77:$port\""
