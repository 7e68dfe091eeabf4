# scripts/actions/lib.sh: shared by the simulated action scripts (source it).
#
# Every action here acts on a local simulated state, never on a real system:
# a directory tree under $OPSBOT_SIM_STATE (default var/sim).  Each script
# checks its arguments again (the catalog already did), records what it did
# in $OPSBOT_SIM_STATE/actions.log, prints one line for the chat thread, and
# exits 0 on success, 1 when the simulated system refuses, 2 on bad usage.
set -eu
SIM=${OPSBOT_SIM_STATE:-var/sim}
mkdir -p "$SIM"

sim_usage() { echo "usage: $*" >&2; exit 2; }
sim_check() { # sim_check NAME VALUE ERE
  printf '%s' "$2" | grep -Eqx -- "$3" || { echo "bad $1: $2" >&2; exit 2; }
}
sim_log() {
  printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(basename "$0" .sh)" "$*" >>"$SIM/actions.log"
}
sim_get() { # sim_get FILE DEFAULT
  if [ -f "$SIM/$1" ]; then cat "$SIM/$1"; else printf '%s\n' "$2"; fi
}
sim_set() { # sim_set FILE VALUE
  mkdir -p "$(dirname "$SIM/$1")"
  printf '%s\n' "$2" >"$SIM/$1.tmp" && mv "$SIM/$1.tmp" "$SIM/$1"
}
# A test can make any action fail: touch $SIM/fail/<action>.
sim_maybe_fail() {
  if [ -e "$SIM/fail/$(basename "$0" .sh)" ]; then
    echo "simulated failure of $(basename "$0" .sh)"; sim_log "failed $*"; exit 1
  fi
}
SVC_RE='[a-z][a-z0-9-]{0,39}'
NODE_RE='[a-z0-9][a-z0-9.-]{0,62}'
