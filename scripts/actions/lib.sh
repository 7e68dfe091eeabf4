# scripts/actions/lib.sh: shared by the catalog's action scripts (source it).
#
# The shipped actions act on opsbot-sim, the simulated production system
# (sim/), through its control API: restart, scale, roll back, clear a
# cache, limit traffic, size the db pool, end db sessions, fail the db
# over, and check a service's health.  Where the simulator has no
# counterpart (nodes, certificates, message queues, the pager, the ticket
# tracker) a script keeps a small local state under $OPSBOT_SIM_STATE
# (default var/sim) and records what it did with the simulator when one
# answers.  Replace these scripts with your own to act on real systems.
#
# The simulator's URL: $OPSBOT_SIM_URL, else the first line of
# $OPSBOT_SIM_STATE/url, else http://127.0.0.1:9470.
#
# Each script checks its arguments again (the catalog already did), logs to
# $OPSBOT_SIM_STATE/actions.log, prints one line for the chat thread, and
# exits 0 on success, 1 when the (simulated) system refuses or does not
# answer, 2 on bad usage.
set -eu
SIM=${OPSBOT_SIM_STATE:-var/sim}
mkdir -p "$SIM"
if [ -z "${OPSBOT_SIM_URL:-}" ]; then
  if [ -s "$SIM/url" ]; then OPSBOT_SIM_URL=$(head -n 1 "$SIM/url"); else OPSBOT_SIM_URL=http://127.0.0.1:9470; fi
fi

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
# Local-state actions only: a test can make one fail with touch $SIM/fail/<action>.
sim_maybe_fail() {
  if [ -e "$SIM/fail/$(basename "$0" .sh)" ]; then
    echo "simulated failure of $(basename "$0" .sh)"; sim_log "failed $*"; exit 1
  fi
}

# sim_http METHOD PATH [JSON]: call the simulator; sets SIM_CODE and SIM_BODY.
# Exits 1 with a readable line when it does not answer.
sim_http() {
  local out
  if ! out=$(curl -sS --max-time 10 -X "$1" -H 'Content-Type: application/json' \
      ${3:+--data-binary "$3"} -w '\n%{http_code}' "$OPSBOT_SIM_URL$2" 2>&1); then
    echo "the simulator at $OPSBOT_SIM_URL did not answer (${out##*curl: })"
    sim_log "unreachable $2"
    exit 1
  fi
  SIM_CODE=${out##*$'\n'}
  SIM_BODY=${out%$'\n'*}
}
sim_field() { printf '%s' "$SIM_BODY" | jq -r "$1 // empty" 2>/dev/null || true; }

# sim_act ACTION SERVICE [KEY VALUE]: ask the simulator for an action; prints
# its answer; exits 1 when it refuses.
sim_act() {
  local body
  if [ $# -ge 4 ]; then
    body=$(jq -cn --arg a "$1" --arg s "$2" --arg k "$3" --argjson v "$4" '{action: $a, service: $s, ($k): $v}')
  else
    body=$(jq -cn --arg a "$1" --arg s "$2" '{action: $a, service: $s}')
  fi
  sim_http POST /control/action "$body"
  if [ "$SIM_CODE" != 200 ]; then
    local why; why=$(sim_field .error)
    echo "the simulator refused $1 on $2: ${why:-HTTP $SIM_CODE}"
    sim_log "refused service=$2 code=$SIM_CODE"
    exit 1
  fi
  sim_log "service=$2 ${3:+$3=$4 }delay_s=$(sim_field .delay_s)"
  echo "$(sim_field .message)"
}

# sim_record TARGET DETAIL: tell the simulator about a local-state action
# (best effort: the action has happened either way).
sim_record() {
  local body
  body=$(jq -cn --arg a "$(basename "$0" .sh)" --arg t "$1" --arg d "$2" '{action: $a, target: $t, detail: $d}')
  curl -s --max-time 3 -o /dev/null -X POST -H 'Content-Type: application/json' \
    --data-binary "$body" "$OPSBOT_SIM_URL/control/record" || true
}
SVC_RE='[a-z][a-z0-9-]{0,39}'
NODE_RE='[a-z0-9][a-z0-9.-]{0,62}'
