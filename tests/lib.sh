# tests/lib.sh: shared helpers for integration tests (source it).
#
#   . "$(dirname "$0")/../lib.sh"      # from tests/integration/x.sh
#   t_setup                            # temp dir in $T, cd there, cleanup on exit
#   t_start NAME cmd args...           # run in background, log to $T/NAME.log
#   t_wait "description" cmd args...   # poll (every 50 ms, slower after 1 s)
#                                      # until cmd succeeds, fail after
#                                      # $T_DEADLINE s (default 20)
#   t_fail "message"                   # print got/want context and exit 1
#   t_skip "reason"                    # exit 77 (counted as skipped)
#
# Binaries are in $OPSBOT_BIN (set by make test).  Never sleep a fixed time and
# hope; wait for the condition with a deadline.

set -u
: "${OPSBOT_BIN:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/bin}"
export OPSBOT_BIN PATH="$OPSBOT_BIN:$PATH"
T_DEADLINE=${T_DEADLINE:-20}
T_PIDS=()

t_cleanup() {
  local p
  for p in "${T_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${T_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null
  done
  if [ "${T_KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}

t_setup() {
  T=$(mktemp -d /tmp/opsbot-test.XXXXXX)
  mkdir -p "$T/var/run"
  trap t_cleanup EXIT
  cd "$T" || exit 1
}

t_start() {
  local name=$1; shift
  "$@" >>"$T/$name.log" 2>&1 &
  local pid=$!
  T_PIDS+=("$pid")
  eval "PID_${name//-/_}=$pid"
}

t_fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$T"/*.log; do
    [ -f "$f" ] || continue
    echo "--- $(basename "$f") (last 30 lines)" >&2
    tail -n 30 "$f" >&2
  done
  exit 1
}

t_skip() { echo "skip: $*"; exit 77; }

# Polls every 50 ms for the first second, then every 100 ms, and every 200 ms
# after 4 s: a condition that holds soon is seen at once, and a long wait
# does not spend a core on its checks (jq alone costs ~20 ms of CPU a call,
# and five engineers' suites share two cores).
t_wait() {
  local what=$1; shift
  local start now pause=0.05
  start=${EPOCHREALTIME//[!0-9]/} # microseconds, without starting a process
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    now=${EPOCHREALTIME//[!0-9]/}
    if [ $((now - start)) -ge $((T_DEADLINE * 1000000)) ]; then
      t_fail "timed out after ${T_DEADLINE}s waiting for: $what"
    fi
    if [ $((now - start)) -ge 4000000 ]; then
      pause=0.2
    elif [ $((now - start)) -ge 1000000 ]; then
      pause=0.1
    fi
    sleep $pause
  done
}

# A free TCP port on 127.0.0.1 (the kernel picks it).
# Prefer port 0 and a port file where the program supports it.
t_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 40000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
