# tests/integration/runtime_lib.sh: helpers shared by the runtime's tests
# (master, workers, opsbotctl).  Source after tests/lib.sh.

# Field of one daemon in the master's status file: dfield NAME FIELD
dfield() {
  jq -r --arg n "$1" --arg f "$2" '.daemons[] | select(.name == $n) | .[$f]' \
    "$T/var/run/opsbot-master.json" 2>/dev/null
}

# True when daemon NAME is running with a pid other than $2 (when given).
drunning() {
  [ "$(dfield "$1" state)" = running ] || return 1
  local pid; pid=$(dfield "$1" pid)
  [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "${2:-}" ] && kill -0 "$pid" 2>/dev/null
}

# count PATTERN FILE: how many lines match (0 when the file is missing).
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }

# rpc TYPE FIELDS [INCIDENT]: one raw request to the test's queue; prints the reply.
rpc() { test-rpc "$QURL" "$@"; }
